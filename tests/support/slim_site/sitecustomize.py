"""Makes a Python process behave as if scikit-learn, pandas, MLflow, boto3 and their heavy
companions were not installed, as in the slim image (service/requirements-slim.txt): importing
one raises ImportError, and every attempt is appended to the file BLOCKED_IMPORTS_LOG names,
so a test also sees attempts the code caught."""

from __future__ import annotations

import os
import sys
from importlib.abc import MetaPathFinder

BLOCKED = ("sklearn", "pandas", "mlflow", "boto3", "botocore", "scipy", "cloudpickle", "skops")


class _Absent(MetaPathFinder):
    def find_spec(self, fullname: str, path: object, target: object = None) -> None:
        if fullname.partition(".")[0] in BLOCKED:
            log = os.environ.get("BLOCKED_IMPORTS_LOG")
            if log:
                with open(log, "a", encoding="utf-8") as out:
                    out.write(f"{fullname}\n")
            raise ImportError(f"No module named {fullname!r} (absent from the slim image)")
        return


sys.meta_path.insert(0, _Absent())

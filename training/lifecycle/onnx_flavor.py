"""The flavor train.py logs a version with: scikit-learn's, plus the ONNX copy when it passed,
plus the drift reference of its training data (training/lifecycle/reference_stats.py).

`mlflow.models.Model.log(flavor=...)` accepts any object with `save_model(path, mlflow_model,
**kwargs)`; it then logs and registers the folder that wrote. Here that is exactly what
`mlflow.sklearn.log_model` writes (same pickle, `python_function` flavor, signature, input
example, requirements), so `mlflow.pyfunc.load_model` and `mlflow models serve` load the
version as before, with `model.onnx` and an `onnx` flavor added to the same folder. The flavor
entry has the keys `mlflow.onnx.save_model` writes (onnx_version, data, providers, code).
The drift reference is one more file of the folder (`drift_reference.json`, named by MLmodel's
`metadata.drift_reference`), so it travels with the version wherever the version goes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.models import Model

ONNX_FILE = "model.onnx"
# What Model.log records as the logged model's flavor: the version is a scikit-learn model.
FLAVOR_NAME = "mlflow.sklearn"


@dataclass(frozen=True)
class SklearnWithOnnx:
    # The serialized ONNX model; None writes the scikit-learn flavor only.
    onnx_model: bytes | None = None
    # The drift reference document (JSON) and its file name in the folder; None for none.
    drift_reference: bytes | None = None
    drift_reference_file: str = "drift_reference.json"

    def save_model(self, path: str, mlflow_model: Model, **kwargs: Any) -> None:
        import mlflow.sklearn

        mlflow.sklearn.save_model(path=path, mlflow_model=mlflow_model, **kwargs)
        if self.onnx_model is None and self.drift_reference is None:
            return
        from mlflow.models.model import MLMODEL_FILE_NAME
        from mlflow.utils.file_utils import get_total_file_size

        if self.onnx_model is not None:
            import onnx

            Path(path, ONNX_FILE).write_bytes(self.onnx_model)
            mlflow_model.add_flavor(
                "onnx",
                onnx_version=onnx.__version__,
                data=ONNX_FILE,
                providers=["CPUExecutionProvider"],
                code=None,
            )
        if self.drift_reference is not None:
            Path(path, self.drift_reference_file).write_bytes(self.drift_reference)
        # sklearn's save_model measured the folder before these files were in it.
        mlflow_model.model_size_bytes = get_total_file_size(path)
        mlflow_model.save(os.path.join(path, MLMODEL_FILE_NAME))

"""The flavor train.py logs a version with: scikit-learn's, plus the ONNX copy when it passed.

`mlflow.models.Model.log(flavor=...)` accepts any object with `save_model(path, mlflow_model,
**kwargs)`; it then logs and registers the folder that wrote. Here that is exactly what
`mlflow.sklearn.log_model` writes (same pickle, `python_function` flavor, signature, input
example, requirements), so `mlflow.pyfunc.load_model` and `mlflow models serve` load the
version as before, with `model.onnx` and an `onnx` flavor added to the same folder. The flavor
entry has the keys `mlflow.onnx.save_model` writes (onnx_version, data, providers, code).
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

    def save_model(self, path: str, mlflow_model: Model, **kwargs: Any) -> None:
        import mlflow.sklearn

        mlflow.sklearn.save_model(path=path, mlflow_model=mlflow_model, **kwargs)
        if self.onnx_model is None:
            return
        import onnx
        from mlflow.models.model import MLMODEL_FILE_NAME
        from mlflow.utils.file_utils import get_total_file_size

        Path(path, ONNX_FILE).write_bytes(self.onnx_model)
        mlflow_model.add_flavor(
            "onnx",
            onnx_version=onnx.__version__,
            data=ONNX_FILE,
            providers=["CPUExecutionProvider"],
            code=None,
        )
        # sklearn's save_model measured the folder before model.onnx was in it.
        mlflow_model.model_size_bytes = get_total_file_size(path)
        mlflow_model.save(os.path.join(path, MLMODEL_FILE_NAME))

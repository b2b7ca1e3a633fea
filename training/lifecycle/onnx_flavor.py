"""The flavor train.py logs a version with: scikit-learn's, plus the ONNX copy when it passed,
plus the drift reference of its training data (training/lifecycle/reference_stats.py).

`mlflow.models.Model.log(flavor=...)` accepts any object with `save_model(path, mlflow_model,
**kwargs)`; it then logs and registers the folder that wrote. Here that is exactly what
`mlflow.sklearn.log_model` writes (same pickle, `python_function` flavor, signature, input
example, requirements), so `mlflow.pyfunc.load_model` and `mlflow models serve` load the
version as before, with `model.onnx` and an `onnx` flavor added to the same folder. The flavor
entry has the keys `mlflow.onnx.save_model` writes (onnx_version, data, providers, code).
The drift reference is one more file of the folder (`drift_reference.json`, named by MLmodel's
`metadata.drift_reference`), so it travels with the version wherever the version goes; so is
the evaluation sample of a model registered from a team's own code (`evaluation_sample.csv`,
MLmodel's `metadata.evaluation_sample`), which that version's quality gates score on.
`TeamOnnx` does the same for a team's own ONNX graph, on top of `mlflow.onnx.save_model`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlflow.models import Model

ONNX_FILE = "model.onnx"
# What Model.log records as the logged model's flavor: the version is a scikit-learn model
# (TEAM_ONNX_FLAVOR_NAME for a team's own ONNX graph).
FLAVOR_NAME = "mlflow.sklearn"
TEAM_ONNX_FLAVOR_NAME = "mlflow.onnx"


@dataclass(frozen=True)
class SklearnWithOnnx:
    # The serialized ONNX model; None writes the scikit-learn flavor only.
    onnx_model: bytes | None = None
    # The drift reference document (JSON) and its file name in the folder; None for none.
    drift_reference: bytes | None = None
    drift_reference_file: str = "drift_reference.json"
    # More files of the folder, (name, content): a registered team model's evaluation sample.
    extra_files: tuple[tuple[str, bytes], ...] = ()

    def save_model(self, path: str, mlflow_model: Model, **kwargs: Any) -> None:
        import mlflow.sklearn

        mlflow.sklearn.save_model(path=path, mlflow_model=mlflow_model, **kwargs)
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
        files = list(self.extra_files)
        if self.drift_reference is not None:
            files.append((self.drift_reference_file, self.drift_reference))
        if self.onnx_model is not None or files:
            _add_files(path, mlflow_model, files)


@dataclass(frozen=True)
class TeamOnnx:
    """A team's own ONNX graph (registration, training/lifecycle/register.py): exactly what
    `mlflow.onnx.save_model` writes (its `onnx` and `python_function` flavors; onnxruntime on
    the CPU), with the drift reference and the evaluation sample in the same folder."""

    drift_reference: bytes
    drift_reference_file: str = "drift_reference.json"
    extra_files: tuple[tuple[str, bytes], ...] = ()

    def save_model(self, path: str, mlflow_model: Model, **kwargs: Any) -> None:
        import mlflow.onnx

        mlflow.onnx.save_model(
            path=path,
            mlflow_model=mlflow_model,
            onnx_execution_providers=["CPUExecutionProvider"],
            **kwargs,
        )
        files = [*self.extra_files, (self.drift_reference_file, self.drift_reference)]
        _add_files(path, mlflow_model, files)


def _add_files(path: str, mlflow_model: Model, files: list[tuple[str, bytes]]) -> None:
    """Write more files into a saved folder and rewrite MLmodel: the flavor's save_model
    measured the folder (and wrote MLmodel) before they were in it."""
    from mlflow.models.model import MLMODEL_FILE_NAME
    from mlflow.utils.file_utils import get_total_file_size

    for name, content in files:
        Path(path, name).write_bytes(content)
    mlflow_model.model_size_bytes = get_total_file_size(path)
    mlflow_model.save(os.path.join(path, MLMODEL_FILE_NAME))

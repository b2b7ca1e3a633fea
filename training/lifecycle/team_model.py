"""A model logged to MLflow by a team's own training code, fetched for registration: its
folder, MLmodel, signature and input example, the run that logged it, and the model itself."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.errors import UsageError
from training.lifecycle.team_contract import ONNX, SKLEARN

if TYPE_CHECKING:
    from mlflow.models import Model

# How a model logged with skops can be loaded: the types it may build, or another format.
HOW_TO_TRUST = (
    "log it with skops_trusted_types=[...] naming them, or with "
    "serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE"
)


@dataclass(frozen=True)
class LoggedModel:
    uri: str
    path: Path
    mlmodel: Model

    @property
    def flavors(self) -> dict[str, Any]:
        return dict(self.mlmodel.flavors or {})

    @property
    def run_id(self) -> str | None:
        return getattr(self.mlmodel, "run_id", None) or None

    @property
    def model_id(self) -> str | None:
        return getattr(self.mlmodel, "model_id", None) or None

    @property
    def signature(self) -> Any:
        return self.mlmodel.signature

    def input_example(self) -> Any:
        """The example as logged (a DataFrame for a DataFrame example), or None."""
        if not self.mlmodel.saved_input_example_info:
            return None
        return self.mlmodel.load_input_example(str(self.path))


def fetch(uri: str, into: Path) -> LoggedModel:
    """Download the logged model at `uri` (runs:/<run>/<name>, models:/m-<id>,
    models:/<name>/<version>, or a local folder) into `into` and read its MLmodel."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException
    from mlflow.models import Model

    local = Path(uri)
    if not local.is_dir():
        try:
            local = Path(mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(into)))
        except (MlflowException, OSError, ValueError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise UsageError(f"--model {uri}: cannot download it: {first}") from None
    if not (local / "MLmodel").is_file():
        raise UsageError(f"--model {uri}: not an MLflow model (no MLmodel file in it)")
    return LoggedModel(uri, local, Model.load(str(local)))


def load_sklearn(logged: LoggedModel) -> tuple[Any, list[str]]:
    """The estimator, or the problem that keeps it from loading here (and so in the service)."""
    import mlflow.sklearn

    flavor = logged.flavors.get(SKLEARN) or {}
    try:
        return mlflow.sklearn.load_model(str(logged.path)), []
    except Exception as error:
        text = str(error).strip().splitlines()
        reason = f"{type(error).__name__}: {text[0] if text else ''}"
        if flavor.get("serialization_format") == "skops" and "trust" in str(error).lower():
            return None, [
                f"the skops file holds types it does not trust ({reason}); {HOW_TO_TRUST}"
            ]
        return None, [
            f"the scikit-learn model does not load ({reason}): code it needs must be importable "
            "by the service, or defined in the training script itself (cloudpickle stores that "
            "by value)"
        ]


def load_onnx(logged: LoggedModel) -> tuple[Any, list[str]]:
    """The ONNX graph (its weights in), or the problem reading it."""
    import onnx

    data = str((logged.flavors.get(ONNX) or {}).get("data") or "model.onnx")
    try:
        return onnx.load(str(logged.path / data)), []
    except Exception as error:
        return None, [f"the ONNX graph {data} does not load: {type(error).__name__}: {error}"]

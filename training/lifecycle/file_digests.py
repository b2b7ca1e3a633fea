"""Record the sha256 of every file of a version as it is written, before MLflow uploads it.

`Model.log` saves a model through its flavor's `save_model` into a local folder, then uploads
that folder (mlflow/mlflow v3.17.2, mlflow/models/model.py, Model.log). `Digested` wraps the
flavor: once the flavor has written the folder, it hashes every file there, so the digests are
of the bytes training produced, never of what the artifact store hands back. The caller
records them as model version tags (inference/contracts/model_files.py), in the registry's
database, where the service reads them before it loads a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inference.contracts import model_files

if TYPE_CHECKING:
    from mlflow.models import Model


@dataclass
class Digested:
    """A flavor for `Model.log` that saves with `flavor` and records what it wrote."""

    flavor: Any
    digests: dict[str, str] = field(default_factory=dict)

    def save_model(self, path: str, mlflow_model: Model, **kwargs: Any) -> None:
        self.flavor.save_model(path, mlflow_model, **kwargs)
        self.digests = model_files.folder_digests(Path(path))

    def tags(self) -> dict[str, str]:
        """The model version tags recording the digests; raises when nothing was saved."""
        if not self.digests:
            raise RuntimeError("no model folder was saved through this flavor")
        return model_files.to_tags(self.digests)

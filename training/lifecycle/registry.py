"""The MLflow registry client: reachability check first, then lookups that fail with the valid
choices listed."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from typing import TYPE_CHECKING

from training.errors import OperationError, one_of
from training.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion, RegisteredModel


def configure_mlflow(settings: Settings) -> None:
    """Set before MLflow is imported: it reads these once."""
    # Fail fast: MLflow's defaults retry for minutes against a server that is not there.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    # MLflow narrates each call ("View run at ...", uv detection); the CLI prints tables instead.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "ERROR")
    os.environ.setdefault("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "true")
    os.environ.setdefault("MLFLOW_UV_AUTO_DETECT", "false")
    # Model.log rewrites MLmodel after the flavor saved it when this records environment
    # variables (mlflow/mlflow v3.17.2, mlflow/models/model.py): the file digests recorded at
    # save (file_digests.py) would no longer match what is uploaded. Never on.
    os.environ["MLFLOW_RECORD_ENV_VARS_IN_MODEL_LOGGING"] = "false"
    os.environ["MLFLOW_TRACKING_URI"] = settings.tracking_uri


def check_reachable(uri: str, timeout: float) -> None:
    """One short GET /health; raises OperationError naming the URI when it fails."""
    if not uri.startswith(("http://", "https://")):
        return
    try:
        with urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=timeout) as response:  # noqa: S310 (http(s) only, checked above)
            if response.status == 200:
                return
            reason = f"HTTP {response.status}"
    except urllib.error.HTTPError as error:
        reason = f"HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        reason = str(getattr(error, "reason", error))
    raise OperationError(
        f"MLflow tracking server not reachable at {uri} ({reason}); "
        "start one with `make up` or set MLFLOW_TRACKING_URI"
    )


def connect(settings: Settings) -> MlflowClient:
    configure_mlflow(settings)
    check_reachable(settings.tracking_uri, settings.connect_timeout)
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(settings.tracking_uri)
    return MlflowClient(tracking_uri=settings.tracking_uri)


def registered_models(client: MlflowClient) -> list[RegisteredModel]:
    return list(client.search_registered_models(max_results=1000))


def registered_model(client: MlflowClient, name: str) -> RegisteredModel:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(name)
    except MlflowException as error:
        if getattr(error, "error_code", "") != "RESOURCE_DOES_NOT_EXIST":
            raise
    raise one_of("model", name, [m.name for m in registered_models(client)])


def versions(client: MlflowClient, name: str) -> list[ModelVersion]:
    found = client.search_model_versions(f"name = '{name}'", max_results=1000)
    return sorted(found, key=lambda v: int(v.version))


def model_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    registered_model(client, name)
    known = {v.version: v for v in versions(client, name)}
    if str(version) not in known:
        raise one_of("version", str(version), list(known), of=name)
    return known[str(version)]


def alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version the alias points at, or None when the alias is not set."""
    return registered_model(client, name).aliases.get(alias)


def alias_version_if_any(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version the alias points at; None when the alias or the whole model is missing
    (a tenant's first seeding)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(name).aliases.get(alias)
    except MlflowException as error:
        if getattr(error, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise


def require_alias(client: MlflowClient, name: str, alias: str) -> str:
    aliases = registered_model(client, name).aliases
    if alias not in aliases:
        raise one_of("alias", alias, list(aliases), of=name)
    return aliases[alias]


def check_alias_allowed(settings: Settings, alias: str) -> None:
    if alias not in settings.aliases:
        raise one_of("alias", alias, list(settings.aliases))

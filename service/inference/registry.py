"""The MLflow registry as the service sees it: resolve a reference, download a version."""

from __future__ import annotations

from pathlib import Path

from inference.settings import ModelRef


class RegistryError(RuntimeError):
    """The registry could not answer (unreachable, unknown model or alias, no permission)."""


class Registry:
    def __init__(self, tracking_uri: str) -> None:
        # Imported here so that importing the service (tests, /health) stays cheap.
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri
        self._client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)

    def resolve(self, ref: ModelRef) -> tuple[str, str | None]:
        """Return (version, run_id) that `ref` points at right now."""
        try:
            if ref.alias:
                found = self._client.get_model_version_by_alias(ref.name, ref.alias)
            else:
                found = self._client.get_model_version(ref.name, str(ref.version))
        except Exception as exc:
            raise RegistryError(f"cannot resolve {ref.uri}: {_one_line(exc)}") from exc
        return str(found.version), found.run_id

    def download(self, name: str, version: str, destination: Path) -> Path:
        """Download the version's artifacts (through the server's proxy or straight from S3)."""
        import mlflow.artifacts

        try:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}",
                dst_path=str(destination),
                tracking_uri=self.tracking_uri,
                registry_uri=self.tracking_uri,
            )
        except Exception as exc:
            raise RegistryError(f"cannot download {name} v{version}: {_one_line(exc)}") from exc
        return Path(local)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]

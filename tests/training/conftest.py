"""Fixtures for the training tests. The MLflow server (`registry`, artifacts proxied to a moto S3
endpoint) and `s3_env` are the session-wide ones from tests/conftest.py."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from training.cli import main


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def tenants_file(tmp_path: Path) -> tuple[Path, str]:
    """A tenants.yaml with a tenant name of its own, so tests sharing the registry never collide."""
    tenant = f"t{uuid.uuid4().hex[:8]}"
    path = tmp_path / "tenants.yaml"
    path.write_text(
        "tenants:\n"
        f"  {tenant}: {{dataset: iris, estimator: logistic_regression}}\n"
        f"  {tenant}-w: {{dataset: wine, estimator: random_forest}}\n"
    )
    return path, tenant


@pytest.fixture
def cli(
    registry, tenants_file, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Result]:
    """Run `python -m training ...` in-process against the session registry."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registry.url)
    monkeypatch.setenv("TRAINING_TENANTS_FILE", str(tenants_file[0]))
    # Set here (not left to the CLI's setdefault) so they are undone after each test.
    for name, value in {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
        "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true",
        "MLFLOW_UV_AUTO_DETECT": "false",
    }.items():
        monkeypatch.setenv(name, value)
    # The client must not need S3 credentials: artifacts go through the server's proxy.
    for name in ("MLFLOW_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)

    def run(*argv: str) -> Result:
        capsys.readouterr()
        code = main(list(argv))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run

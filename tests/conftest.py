"""Session-wide real servers: one S3 endpoint and one MLflow server shared by every suite,
because an MLflow server costs ~0.5 GB and tens of seconds to start on a small machine."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support.servers import free_port, start_s3, stop_survivors
from training import registry_server

# The suite validates the tree as published, whose EKS settings and image pins are examples
# (clusters/eks/settings/settings.env); `make validate` without this fails until a platform
# team has replaced them.
os.environ.setdefault("GITOPS_ALLOW_EXAMPLES", "1")


@pytest.fixture(scope="session")
def s3_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Environment pointing boto3/MLflow at a real S3 API on 127.0.0.1."""
    env, child = start_s3(tmp_path_factory.mktemp("s3"))
    try:
        yield env
    finally:
        child.stop()


@pytest.fixture(scope="session")
def registry(
    tmp_path_factory: pytest.TempPathFactory, s3_env: dict[str, str]
) -> Iterator[registry_server.RegistryServer]:
    """A real `mlflow server` (sqlite) proxying artifacts to the S3 endpoint."""
    server = registry_server.start(
        tmp_path_factory.mktemp("mlflow"),
        free_port(),
        artifacts_destination="s3://mlflow/artifacts",
        env={**os.environ, **s3_env},
        timeout=300,
    )
    try:
        yield server
    finally:
        server.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    stop_survivors()

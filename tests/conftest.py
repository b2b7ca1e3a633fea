"""Session-wide real servers: one S3 endpoint and one MLflow server shared by every suite,
because an MLflow server costs ~0.5 GB and tens of seconds to start on a small machine; and
the pinned upstream files, resolved once before the suites that read them."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitops.settings import Settings
from gitops.tree import upstream
from tests.support.servers import free_port, start_s3, stop_survivors
from training.local_platform import registry_server

# The suite validates the tree as published, whose EKS settings and image pins are examples
# (clusters/eks/settings/settings.env); `make validate` without this fails until a platform
# team has replaced them.
os.environ.setdefault("GITOPS_ALLOW_EXAMPLES", "1")

# The suites that read the pinned upstream files (CRDs, Argo CD's health checks).
UPSTREAM_SUITES = ("gitops", "monitoring")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Before any test of UPSTREAM_SUITES runs, every set of pinned upstream files is resolved
    (gitops/tree/upstream.py: the offline mirror, the cache, or a download). Without them the
    run stops with the one message that says how to get them, instead of an error in every
    test that validates a tree."""
    suites = [Path(__file__).parent / suite for suite in UPSTREAM_SUITES]
    if not any(item.path.is_relative_to(suite) for item in items for suite in suites):
        return
    settings = Settings.from_env()
    try:
        for set_name in upstream.set_names(settings.upstream_root):
            upstream.resolve(set_name, settings)
    except upstream.UpstreamFilesError as error:
        pytest.exit(f"\n{error}", returncode=pytest.ExitCode.USAGE_ERROR)


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

"""The manifests agree with the service's shutdown: the preStop sleep plus the drain time
(SHUTDOWN_GRACE_SECONDS) must end before the kubelet's SIGKILL (terminationGracePeriodSeconds),
for the base and for every tenant overlay that renders it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops.paths import CLUSTERS, REPO_ROOT
from gitops.tree.render import render

TARGETS = [
    REPO_ROOT / "base" / "inference",
    *sorted(
        path.parent
        for cluster in CLUSTERS
        for path in (REPO_ROOT / "overlays" / cluster / "tenants").glob("*/kustomization.yaml")
    ),
]


def _budget(objects: list[dict[str, Any]]) -> tuple[float, float, float]:
    deployment = next(
        o
        for o in objects
        if o["kind"] == "Deployment" and o["metadata"]["name"] == "inference-service"
    )
    pod = deployment["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "inference-service")
    pre_stop = container["lifecycle"]["preStop"]
    assert "sleep" in pre_stop, f"preStop is not a sleep: {pre_stop}"
    settings_name = next(
        ref["configMapRef"]["name"] for ref in container["envFrom"] if "configMapRef" in ref
    )
    config = next(
        o for o in objects if o["kind"] == "ConfigMap" and o["metadata"]["name"] == settings_name
    )
    grace = config["data"].get("SHUTDOWN_GRACE_SECONDS")
    assert grace is not None, f"{settings_name} has no SHUTDOWN_GRACE_SECONDS"
    return (
        float(pre_stop["sleep"]["seconds"]),
        float(grace),
        float(pod["terminationGracePeriodSeconds"]),
    )


@pytest.mark.parametrize("target", TARGETS, ids=lambda p: str(Path(p).relative_to(REPO_ROOT)))
def test_prestop_plus_drain_ends_before_sigkill(target: Path) -> None:
    pre_stop, grace, termination = _budget(render(target))
    assert grace > 0
    assert pre_stop + grace < termination, (
        f"preStop {pre_stop:g}s + SHUTDOWN_GRACE_SECONDS {grace:g}s >= "
        f"terminationGracePeriodSeconds {termination:g}s"
    )

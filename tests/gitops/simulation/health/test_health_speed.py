"""What one health assessment costs (the simulation assesses a few hundred objects many times
per `make validate`): one Lua state per process, each script compiled once. A measurement, run
with `pytest tests/gitops/simulation/health -m slow -s`."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from gitops import paths
from gitops.simulation.health import HealthChecks, overrides_from_argocd_cm
from tests.gitops.simulation.health.support import argocd_cm_data

CALLS = 2000
EXTERNAL_SECRET = {
    "apiVersion": "external-secrets.io/v1",
    "kind": "ExternalSecret",
    "metadata": {"name": "mlflow-credentials", "namespace": "tenant-a", "generation": 1},
    "spec": {
        "refreshInterval": "1h",
        "secretStoreRef": {"kind": "ClusterSecretStore", "name": "aws"},
        "target": {"name": "mlflow-credentials"},
        "data": [{"secretKey": "password", "remoteRef": {"key": "tenant-a/mlflow"}}],
    },
    "status": {
        "refreshTime": "2026-03-01T10:00:00Z",
        "conditions": [
            {"type": "Ready", "status": "True", "reason": "SecretSynced", "message": "synced"}
        ],
    },
}
APPLICATION = {
    "apiVersion": "argoproj.io/v1alpha1",
    "kind": "Application",
    "metadata": {"name": "mlflow", "namespace": "argocd"},
    "spec": {"project": "platform", "destination": {"server": "https://kubernetes.default.svc"}},
    "status": {"health": {"status": "Healthy"}, "sync": {"status": "Synced"}},
}
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "inference-service", "namespace": "tenant-a", "generation": 1},
    "spec": {"replicas": 2},
    "status": {
        "observedGeneration": 1,
        "replicas": 2,
        "updatedReplicas": 2,
        "availableReplicas": 2,
    },
}


def median_microseconds(checks: HealthChecks, obj: dict[str, Any]) -> float:
    checks.assess(obj)  # compiles the script
    times = []
    for _ in range(CALLS):
        started = time.perf_counter()
        checks.assess(obj)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


@pytest.mark.slow
def test_an_assessment_costs_well_under_a_millisecond(tmp_path: Path) -> None:
    scripts = tmp_path / "resource_customizations"
    (scripts / "external-secrets.io" / "ExternalSecret").mkdir(parents=True)
    # A script of the shape of Argo CD's (conditions loop, early returns), our own text.
    (scripts / "external-secrets.io" / "ExternalSecret" / "health.lua").write_text(
        "local hs = {}\n"
        "if obj.status ~= nil and obj.status.conditions ~= nil then\n"
        "  for _, c in ipairs(obj.status.conditions) do\n"
        '    if c.type == "Ready" then\n'
        '      hs.status = c.status == "True" and "Healthy" or "Degraded"\n'
        "      hs.message = c.message\n"
        "      return hs\n"
        "    end\n"
        "  end\n"
        "end\n"
        'return {status = "Progressing", message = "waiting"}\n',
        encoding="utf-8",
    )
    install = paths.REPO_ROOT / "base" / "argocd" / "argocd-cm.yaml"
    checks = HealthChecks(scripts, overrides_from_argocd_cm(argocd_cm_data(install)))
    for label, obj in (
        ("Lua (built-in script)", EXTERNAL_SECRET),
        ("Lua (argocd-cm Application check)", APPLICATION),
        ("Go model (Deployment)", DEPLOYMENT),
    ):
        median = median_microseconds(checks, obj)
        print(f"\n{label}: median {median:.1f} us per assessment over {CALLS} calls")
        assert median < 1000

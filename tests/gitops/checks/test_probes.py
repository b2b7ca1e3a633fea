"""The `probes` check: routes read from the service's own app, the real tree passing, and
each planted fault (in a copy of the real tree) reported with the probe or scrape chain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops import paths
from gitops.checks.probes import (
    container_port,
    is_inference_image,
    listen_port,
    served_routes,
)
from gitops.validate import Report, validate_repo
from tests.gitops.tree_copies import copy_real_tree, edit_yaml, problems

CHECK = "probes"
DEPLOYMENT = "base/inference/deployment.yaml"
SERVICE_MONITOR = "base/inference/servicemonitor.yaml"
TENANTS = ("tenant-a", "tenant-b")
ROUTES = (
    "/docs, /docs/oauth2-redirect, /health, /metrics, /model/info, /models/{name}/info, "
    "/openapi.json, /ready, "
    "/v2, /v2/health/live, /v2/health/ready, /v2/models/{name}, /v2/models/{name}/ready, "
    "/v2/models/{name}/versions/{version}, /v2/models/{name}/versions/{version}/ready"
)


@pytest.fixture(scope="module")
def real_report() -> Report:
    return validate_repo(paths.REPO_ROOT, [CHECK])


def test_real_tree_passes(real_report: Report) -> None:
    assert not real_report.by_check(CHECK), problems(real_report, CHECK)


def test_check_is_fast_on_the_real_tree(real_report: Report) -> None:
    # Most of it is importing FastAPI and numpy for inference.api.app, once per process.
    assert real_report.seconds[CHECK] < 5.0


def test_routes_come_from_the_service_app() -> None:
    served = served_routes()
    assert served.listing() == ROUTES  # GET only: /predict and /invocations are POST
    assert served.default_port == 8080
    assert served.serves("/health")
    assert served.serves("/ready")
    assert served.serves("/metrics")
    assert served.serves("/v2/health/ready")  # the Open Inference Protocol's readiness
    assert not served.serves("/predict")
    assert not served.serves("/readyz")
    assert not served.serves("/")


@pytest.mark.parametrize(
    ("image", "inference"),
    [
        ("inference-service", True),
        ("inference-service:set-by-overlay", True),
        ("ghcr.io/example-org/ml-inference-platform/inference-service:f286da6f", True),
        ("ghcr.io/o/inference-service@sha256:" + "a" * 64, True),
        ("registry:5000/inference-service:1", True),
        ("ghcr.io/example-org/ml-inference-platform/mlflow-server:1", False),
        ("inference-service-proxy:1", False),
    ],
)
def test_is_inference_image(image: str, inference: bool) -> None:
    assert is_inference_image(image) is inference


def test_container_port_by_name_or_number() -> None:
    container = {"ports": [{"name": "http", "containerPort": 8080}]}
    assert container_port(container, "http") == 8080
    assert container_port(container, 8080) == 8080
    assert container_port(container, "8080") == 8080
    assert container_port(container, "metrics") is None
    assert container_port(container, 9090) is None


def test_listen_port_from_env_config_maps_or_default() -> None:
    configmaps = {("t", "settings"): {"data": {"PORT": "9000"}}}
    from_map = {"envFrom": [{"configMapRef": {"name": "settings"}}]}
    assert listen_port(from_map, "t", configmaps, 8080) == (9000, "PORT in ConfigMap t/settings")
    overridden = {**from_map, "env": [{"name": "PORT", "value": "7000"}]}
    assert listen_port(overridden, "t", configmaps, 8080) == (7000, "env PORT")
    assert listen_port({}, "t", configmaps, 8080)[0] == 8080
    secret = {"env": [{"name": "PORT", "valueFrom": {"secretKeyRef": {"name": "s"}}}]}
    assert listen_port(secret, "t", configmaps, 8080)[0] is None


def planted(tmp_path: Path, file: str, change: Any) -> str:
    repo = copy_real_tree(tmp_path / "repo")
    edit_yaml(repo / file, change)
    return problems(validate_repo(repo, [CHECK]), CHECK)


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = docs[0]["spec"]["template"]["spec"]["containers"][0]
    return found


def test_readiness_path_not_served(tmp_path: Path) -> None:
    def change(docs: list[dict[str, Any]]) -> None:
        container(docs)["readinessProbe"]["httpGet"]["path"] = "/readyz"

    found = planted(tmp_path, DEPLOYMENT, change)
    for cluster in paths.CLUSTERS:
        for tenant in TENANTS:
            assert (
                f"{cluster}: Application argocd/{tenant}: Deployment {tenant}/inference-service: "
                "container inference-service readinessProbe httpGet path '/readyz' is not a GET "
                f"route the service serves (expected: one of {ROUTES} (inference.api.app))"
            ) in found
    assert len(found.splitlines()) == 4


def test_liveness_port_not_a_container_port(tmp_path: Path) -> None:
    def change(docs: list[dict[str, Any]]) -> None:
        container(docs)["livenessProbe"]["httpGet"]["port"] = "metrics"

    found = planted(tmp_path, DEPLOYMENT, change)
    assert (
        "kind: Application argocd/tenant-a: Deployment tenant-a/inference-service: container "
        "inference-service livenessProbe httpGet port 'metrics' is not a containerPort of "
        "container inference-service (it declares: http 8080)"
    ) in found
    assert len(found.splitlines()) == 4  # both tenants on both clusters
    assert "readinessProbe" not in found
    assert "startupProbe" not in found


def test_service_monitor_path_not_served(tmp_path: Path) -> None:
    def change(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["endpoints"][0]["path"] = "/prometheus"

    found = planted(tmp_path, SERVICE_MONITOR, change)
    for cluster in paths.CLUSTERS:
        for tenant in TENANTS:
            assert (
                f"{cluster}: Application argocd/{tenant}: ServiceMonitor "
                f"{tenant}/inference-service: endpoint 0 port 'http' -> Service "
                f"{tenant}/inference-service port 'http' targetPort 'http' -> Deployment "
                f"{tenant}/inference-service container inference-service: path '/prometheus' "
                "is not a GET route the service serves"
            ) in found
    assert len(found.splitlines()) == 4


def test_renamed_container_port_breaks_the_scrape_chain(tmp_path: Path) -> None:
    def change(docs: list[dict[str, Any]]) -> None:
        container(docs)["ports"][0]["name"] = "web"

    found = planted(tmp_path, DEPLOYMENT, change)
    for cluster in paths.CLUSTERS:
        for tenant in TENANTS:
            assert (
                f"{cluster}: Application argocd/{tenant}: ServiceMonitor "
                f"{tenant}/inference-service: endpoint 0 port 'http' -> Service "
                f"{tenant}/inference-service port 'http' targetPort 'http': no container of "
                f"Deployment {tenant}/inference-service declares that port (inference-service: "
                "web 8080), so Prometheus scrapes nothing"
            ) in found
    # The probes still say `port: http`: each of the three is reported too.
    assert found.count("httpGet port 'http' is not a containerPort") == 3 * 4


def test_probe_port_the_service_does_not_listen_on(tmp_path: Path) -> None:
    def change(docs: list[dict[str, Any]]) -> None:
        container(docs)["ports"].append({"name": "admin", "containerPort": 9000})
        container(docs)["startupProbe"]["httpGet"]["port"] = "admin"

    found = planted(tmp_path, DEPLOYMENT, change)
    assert (
        "kind: Application argocd/tenant-a: Deployment tenant-a/inference-service: container "
        "inference-service startupProbe httpGet port 'admin' is containerPort 9000, but the "
        "service listens on 8080 (PORT in ConfigMap tenant-a/inference-settings-"
    ) in found
    assert len(found.splitlines()) == 4

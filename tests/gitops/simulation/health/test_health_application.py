"""An Application's health from its resources' (controller/health.go setApplicationHealth at
Argo CD v3.5.1): the worst that counts, with hooks, ignored resources, missing resources,
child Applications and the Application itself left out as Argo CD leaves them out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops import paths
from gitops.simulation.health import (
    Health,
    HealthChecks,
    HealthStatus,
    ManagedResource,
    ResourceOverride,
    application_health,
    overrides_from_argocd_cm,
)
from tests.gitops.simulation.health.support import argocd_cm_data

HEALTHY, PROGRESSING, DEGRADED = (
    HealthStatus.HEALTHY,
    HealthStatus.PROGRESSING,
    HealthStatus.DEGRADED,
)
MISSING, UNKNOWN, SUSPENDED = HealthStatus.MISSING, HealthStatus.UNKNOWN, HealthStatus.SUSPENDED


def resource(api_version: str, kind: str, name: str = "web", **fields: Any) -> dict[str, Any]:
    meta = {"name": name, "namespace": "tenant-a", **fields.pop("metadata", {})}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **fields}


def pvc(phase: str, name: str = "data", **metadata: Any) -> dict[str, Any]:
    return resource("v1", "PersistentVolumeClaim", name, metadata=metadata, status={"phase": phase})


def child_app(health: str | None, name: str = "child") -> dict[str, Any]:
    status = {} if health is None else {"health": {"status": health}}
    return resource("argoproj.io/v1alpha1", "Application", name, status=status)


def live(obj: dict[str, Any]) -> ManagedResource:
    group = obj["apiVersion"].rpartition("/")[0]
    return ManagedResource(group, obj["kind"], obj, obj)


def not_created(obj: dict[str, Any]) -> ManagedResource:
    group = obj["apiVersion"].rpartition("/")[0]
    return ManagedResource(group, obj["kind"], obj, None)


@pytest.fixture
def checks(empty_scripts: Path) -> HealthChecks:
    install = paths.REPO_ROOT / "base" / "argocd" / "argocd-cm.yaml"
    overrides = overrides_from_argocd_cm(argocd_cm_data(install))
    overrides["example.com/Blank"] = ResourceOverride("return {}")
    return HealthChecks(empty_scripts, overrides)


def status_of(checks: HealthChecks, *resources: ManagedResource, app: Any = None) -> HealthStatus:
    return application_health(resources, checks.assess, app).status


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        pytest.param(["Bound", "Bound"], HEALTHY, id="all healthy"),
        pytest.param(["Bound", "Pending"], PROGRESSING, id="progressing"),
        pytest.param(["Pending", "Lost", "Bound"], DEGRADED, id="degraded beats progressing"),
        pytest.param(["Lost", "Resizing"], UNKNOWN, id="unknown is the worst"),
    ],
)
def test_the_worst_status_wins(
    checks: HealthChecks, phases: list[str], expected: HealthStatus
) -> None:
    claims = [live(pvc(phase, f"data-{i}")) for i, phase in enumerate(phases)]
    assert status_of(checks, *claims) == expected


def test_suspended_is_worse_than_healthy(checks: HealthChecks) -> None:
    deploy = resource("apps/v1", "Deployment", spec={"paused": True})
    assert status_of(checks, live(pvc("Bound")), live(deploy)) == SUSPENDED


def test_a_resource_not_created_yet_is_missing_but_does_not_count(checks: HealthChecks) -> None:
    result = application_health(
        [live(pvc("Bound")), not_created(pvc("Bound", "later"))], checks.assess
    )
    assert result.status == HEALTHY
    assert result.resources == (Health(HEALTHY), Health(MISSING))


def test_nothing_created_yet_is_missing(checks: HealthChecks) -> None:
    assert status_of(checks, not_created(pvc("Bound")), not_created(pvc("Bound", "b"))) == MISSING


def test_kinds_without_health_do_not_count(checks: HealthChecks) -> None:
    config = live(resource("v1", "ConfigMap"))
    result = application_health([config, live(pvc("Pending"))], checks.assess)
    assert result.status == PROGRESSING
    assert result.resources[0] is None
    assert status_of(checks, config) == HEALTHY


def test_an_empty_lua_status_does_not_count(checks: HealthChecks) -> None:
    blank = live(resource("example.com/v1", "Blank"))
    result = application_health([blank, live(pvc("Bound"))], checks.assess)
    assert result.resources[0] == Health(HealthStatus.EMPTY)
    assert result.status == HEALTHY


@pytest.mark.parametrize(
    "annotations",
    [
        pytest.param({"argocd.argoproj.io/hook": "PreSync"}, id="an Argo CD hook"),
        pytest.param({"argocd.argoproj.io/hook": "NotAType"}, id="a hook of no known type"),
        pytest.param({"helm.sh/hook": "pre-install"}, id="a Helm hook"),
        pytest.param({"argocd.argoproj.io/ignore-healthcheck": "true"}, id="ignore-healthcheck"),
    ],
)
def test_hooks_and_ignored_resources_do_not_count(
    checks: HealthChecks, annotations: dict[str, str]
) -> None:
    failing = live(pvc("Lost", "hooked", annotations=annotations))
    assert status_of(checks, live(pvc("Bound")), failing) == HEALTHY


def test_a_helm_crd_install_annotation_is_not_a_hook(checks: HealthChecks) -> None:
    crd_install = live(pvc("Lost", "x", annotations={"helm.sh/hook": "crd-install"}))
    assert status_of(checks, live(pvc("Bound")), crd_install) == DEGRADED


def test_a_skipped_target_is_not_a_resource(checks: HealthChecks) -> None:
    skipped = pvc("Bound", "skipped", annotations={"argocd.argoproj.io/hook": "Skip"})
    # Not counted even as a missing resource: the Application is not Missing.
    assert status_of(checks, not_created(skipped)) == HEALTHY
    # Skip together with another type is a hook, not a skip.
    both = pvc("Lost", "both", annotations={"argocd.argoproj.io/hook": "Skip,PreSync"})
    assert status_of(checks, not_created(both)) == MISSING


def test_an_ignored_resource_still_counts_as_live(checks: HealthChecks) -> None:
    ignored = pvc("Lost", annotations={"argocd.argoproj.io/ignore-healthcheck": "true"})
    assert status_of(checks, live(ignored), not_created(pvc("Bound", "b"))) == HEALTHY


@pytest.mark.parametrize(
    ("health", "expected"),
    [
        pytest.param("Degraded", DEGRADED, id="a degraded child counts"),
        pytest.param("Progressing", PROGRESSING, id="a progressing child counts"),
        pytest.param("Missing", HEALTHY, id="a missing child does not"),
        pytest.param("Unknown", HEALTHY, id="an unknown child does not"),
    ],
)
def test_child_applications(checks: HealthChecks, health: str, expected: HealthStatus) -> None:
    assert status_of(checks, live(pvc("Bound")), live(child_app(health))) == expected


def test_an_application_that_manages_itself_does_not_count(checks: HealthChecks) -> None:
    root = child_app("Degraded", "root")
    root["metadata"]["uid"] = "1234"
    assert status_of(checks, live(pvc("Bound")), live(root), app=root) == HEALTHY
    other = {**root, "metadata": {**root["metadata"], "uid": "5678"}}
    assert status_of(checks, live(pvc("Bound")), live(root), app=other) == DEGRADED


def test_the_first_failing_check_is_the_error(checks: HealthChecks) -> None:
    old = resource("apps/v1beta2", "Deployment", "old")
    older = resource("apps/v1beta1", "Deployment", "older")
    result = application_health([live(old), live(older)], checks.assess)
    assert result.status == UNKNOWN
    assert result.error == (
        'failed to get resource health for "Deployment" with name "old" in namespace "tenant-a": '
        "unsupported Deployment GVK: apps/v1beta2, Kind=Deployment"
    )

"""The health checks argocd-cm installs (util/settings/settings.go GetResourceOverrides at
Argo CD v3.5.1), and the one this platform's bootstrap installs for Applications
(base/argocd/argocd-cm.yaml, which clusters/install-argocd.sh applies), applied to
Applications with and without status.health."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops import paths
from gitops.simulation.health import (
    INVALID_STATUS,
    ArgoCdConfigError,
    Health,
    HealthChecks,
    HealthStatus,
    ResourceOverride,
    overrides_from_argocd_cm,
)
from tests.gitops.simulation.health.support import argocd_cm_data

ARGOCD_CM = paths.REPO_ROOT / "base" / "argocd" / "argocd-cm.yaml"
APPLICATION_KEY = "resource.customizations.health.argoproj.io_Application"


def application(status: dict[str, Any] | None = None) -> dict[str, Any]:
    app: dict[str, Any] = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": "mlflow", "namespace": "argocd"},
        "spec": {"project": "platform"},
    }
    if status is not None:
        app["status"] = status
    return app


@pytest.fixture
def installed(empty_scripts: Path) -> HealthChecks:
    """Argo CD as the bootstrap installs it, with only its argocd-cm checks (no built-in Lua
    script applies to an Application)."""
    return HealthChecks(empty_scripts, overrides_from_argocd_cm(argocd_cm_data(ARGOCD_CM)))


def test_the_bootstrap_installs_an_application_check() -> None:
    data = argocd_cm_data(ARGOCD_CM)
    assert data[APPLICATION_KEY].strip()
    assert overrides_from_argocd_cm(data)["argoproj.io/Application"].health_lua


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param(
            {"health": {"status": "Healthy"}, "sync": {"status": "Synced"}},
            Health(HealthStatus.HEALTHY, ""),
            id="healthy child",
        ),
        pytest.param(
            {"health": {"status": "Degraded", "message": "minio is down"}},
            Health(HealthStatus.DEGRADED, "minio is down"),
            id="degraded child, its message",
        ),
        pytest.param(
            {"health": {"status": "Progressing"}},
            Health(HealthStatus.PROGRESSING, ""),
            id="progressing child",
        ),
        pytest.param(
            {"sync": {"status": "OutOfSync"}},
            Health(HealthStatus.PROGRESSING, ""),
            id="status without health",
        ),
        pytest.param(None, Health(HealthStatus.PROGRESSING, ""), id="no status yet"),
        pytest.param(
            {"health": {"message": "no status field"}},
            Health(HealthStatus.UNKNOWN, INVALID_STATUS),
            id="health without a status: nil status is invalid",
        ),
    ],
)
def test_the_application_check(
    installed: HealthChecks, status: dict[str, Any] | None, expected: Health
) -> None:
    assert installed.assess(application(status)) == expected


def test_without_the_patch_an_application_has_no_health(
    tmp_path: Path, empty_scripts: Path
) -> None:
    """The fault the patch prevents: Argo CD (since 1.8) has no Application health of its own,
    so waves would not wait for a child Application."""
    script = tmp_path / "argocd-cm.yaml"
    text = ARGOCD_CM.read_text(encoding="utf-8")
    planted = text.replace(APPLICATION_KEY, "resource.customizations.health.argoproj.io_AppProject")
    assert planted != text
    script.write_text(planted, encoding="utf-8")
    checks = HealthChecks(empty_scripts, overrides_from_argocd_cm(argocd_cm_data(script)))
    assert checks.assess(application({"health": {"status": "Degraded"}})) is None


def test_split_keys_and_the_yaml_map() -> None:
    data = {
        "resource.customizations": (
            "example.com/Widget:\n  health.lua: return {status = 'Healthy'}\n"
            "  health.lua.useOpenLibs: true\n"
            "example.com/Gadget:\n  ignoreDifferences: '{}'\n"
        ),
        "resource.customizations.health.example.com_Gadget": "return {}",
        "resource.customizations.useOpenLibs.example.com_Gadget": "T",
        "resource.customizations.health.Service": "return nil",
        "resource.customizations.health.all": "return {status = 'Healthy'}",
        "resource.customizations.ignoreDifferences.apps_Deployment": "jsonPointers: []",
        "resource.exclusions": "- kinds: [Event]",
    }
    assert overrides_from_argocd_cm(data) == {
        "example.com/Widget": ResourceOverride("return {status = 'Healthy'}", True),
        "example.com/Gadget": ResourceOverride("return {}", True),
        "Service": ResourceOverride("return nil", False),
        "*/*": ResourceOverride("return {status = 'Healthy'}", False),
        "apps/Deployment": ResourceOverride(),
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        pytest.param(
            {"resource.customizations.health.a_b_C": "x"},
            "got group kind: 'a_b_C'",
            id="two underscores",
        ),
        pytest.param(
            {"resource.customizations.useOpenLibs.apps_Deployment": "yes"},
            'parsing "yes": invalid syntax',
            id="not a Go bool",
        ),
        pytest.param(
            {"resource.customizations.healthcheck.apps_Deployment": "x"},
            "resource customization type healthcheck not supported",
            id="unknown type",
        ),
    ],
)
def test_what_argo_cd_refuses(data: dict[str, str], message: str) -> None:
    with pytest.raises(ArgoCdConfigError, match=message):
        overrides_from_argocd_cm(data)

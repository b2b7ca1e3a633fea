"""GetResourceHealth's order (gitops-engine/pkg/health/health.go at Argo CD v3.5.1) and
GetHealthScript's choice of script (util/lua/lua.go): deletion first, then an argocd-cm
override (exact key, then a glob), then a built-in script (exact folder, then a wildcard
folder), then the Go check; a kind Argo CD judges by a script the folder lacks is an error."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops.simulation.health import (
    Health,
    HealthChecks,
    HealthStatus,
    MissingHealthScript,
    ResourceOverride,
    assess,
)
from gitops.simulation.health.scripts import upstream_script_for

DELETED = "2026-03-01T10:00:00Z"


def resource(api_version: str, kind: str, **fields: Any) -> dict[str, Any]:
    meta = {"name": "web", "namespace": "tenant-a", **fields.pop("metadata", {})}
    return {"apiVersion": api_version, "kind": kind, "metadata": meta, **fields}


def plant(folder: Path, key: str, source: str) -> None:
    (folder / key).mkdir(parents=True)
    (folder / key / "health.lua").write_text(source, encoding="utf-8")


LOAD_BALANCER = resource("v1", "Service", spec={"type": "LoadBalancer"})


@pytest.mark.parametrize(
    ("obj", "expected"),
    [
        pytest.param(
            resource("v1", "ConfigMap", metadata={"deletionTimestamp": DELETED}),
            Health(HealthStatus.PROGRESSING, "Pending deletion"),
            id="deleted, even a kind without health",
        ),
        pytest.param(
            resource(
                "v1",
                "ConfigMap",
                metadata={
                    "deletionTimestamp": DELETED,
                    "finalizers": ["argocd.argoproj.io/hook-finalizer"],
                },
            ),
            None,
            id="deleted but held by the hook finalizer: judged as usual",
        ),
        pytest.param(
            resource("v1", "ConfigMap", metadata={"deletionTimestamp": "yesterday"}),
            None,
            id="a deletionTimestamp that does not parse reads as none",
        ),
    ],
)
def test_deletion_comes_first(
    obj: dict[str, Any], expected: Health | None, empty_scripts: Path
) -> None:
    assert HealthChecks(empty_scripts).assess(obj) == expected


def test_an_override_replaces_the_go_check(empty_scripts: Path) -> None:
    override = ResourceOverride('return {status = "Healthy", message = "override"}')
    checks = HealthChecks(empty_scripts, {"Service": override})
    assert checks.assess(LOAD_BALANCER) == Health(HealthStatus.HEALTHY, "override")


def test_an_override_without_a_script_leaves_the_go_check(empty_scripts: Path) -> None:
    checks = HealthChecks(empty_scripts, {"Service": ResourceOverride()})
    assert checks.assess(LOAD_BALANCER) == Health(HealthStatus.PROGRESSING)


@pytest.mark.parametrize(
    "pattern", ["*.example.com/*", "{a,b}.example.com/Widget", "?.example.com/W*"]
)
def test_a_glob_override_applies_after_the_exact_key(pattern: str, empty_scripts: Path) -> None:
    widget = resource("a.example.com/v1", "Widget")
    glob = ResourceOverride('return {status = "Degraded", message = "glob"}')
    exact = ResourceOverride('return {status = "Healthy", message = "exact"}')
    assert HealthChecks(empty_scripts, {pattern: glob}).assess(widget) == Health(
        HealthStatus.DEGRADED, "glob"
    )
    both = {pattern: glob, "a.example.com/Widget": exact}
    assert HealthChecks(empty_scripts, both).assess(widget) == Health(HealthStatus.HEALTHY, "exact")


def test_an_override_runs_without_the_standard_libraries_unless_told(empty_scripts: Path) -> None:
    script = 'return {status = "Healthy", message = string.upper("x")}'
    widget = resource("example.com/v1", "Widget")
    closed = HealthChecks(empty_scripts, {"example.com/Widget": ResourceOverride(script)})
    health = closed.assess(widget)
    assert health is not None
    assert health.status == HealthStatus.UNKNOWN
    opened = HealthChecks(empty_scripts, {"example.com/Widget": ResourceOverride(script, True)})
    assert opened.assess(widget) == Health(HealthStatus.HEALTHY, "X")


def test_a_built_in_script_runs_with_the_standard_libraries(empty_scripts: Path) -> None:
    plant(
        empty_scripts,
        "example.com/Widget",
        'return {status = "Healthy", message = string.upper("x")}',
    )
    widget = resource("example.com/v1", "Widget")
    assert HealthChecks(empty_scripts).assess(widget) == Health(HealthStatus.HEALTHY, "X")


def test_a_built_in_wildcard_folder(empty_scripts: Path) -> None:
    plant(empty_scripts, "_.example.com/_", 'return {status = "Suspended"}')
    checks = HealthChecks(empty_scripts)
    assert checks.assess(resource("a.example.com/v1", "Widget")) == Health(HealthStatus.SUSPENDED)
    # doublestar's "*" stops at "/" and the "." is literal: example.com itself does not match.
    assert checks.assess(resource("example.com/v1", "Widget")) is None


def test_a_failing_script_is_unknown_with_argo_cds_error(empty_scripts: Path) -> None:
    plant(empty_scripts, "example.com/Widget", 'error("boom")')
    health = HealthChecks(empty_scripts).assess(resource("example.com/v1", "Widget"))
    assert health == Health(
        HealthStatus.UNKNOWN,
        "<string>:1: boom",
        error="failed to get resource health for tenant-a/web: <string>:1: boom",
    )


@pytest.mark.parametrize(
    ("obj", "folder"),
    [
        pytest.param(
            resource("policy/v1", "PodDisruptionBudget"),
            "policy/PodDisruptionBudget",
            id="an exact folder upstream",
        ),
        pytest.param(
            resource("storage.example.crossplane.io/v1", "Bucket"),
            "_.crossplane.io/_",
            id="a wildcard folder upstream",
        ),
    ],
)
def test_a_kind_argo_cd_judges_by_a_script_the_folder_lacks_is_an_error(
    obj: dict[str, Any], folder: str, empty_scripts: Path
) -> None:
    with pytest.raises(MissingHealthScript, match=f"resource_customizations/{folder}/health.lua"):
        HealthChecks(empty_scripts).assess(obj)


def test_the_script_is_used_once_the_folder_holds_it(empty_scripts: Path) -> None:
    plant(empty_scripts, "policy/PodDisruptionBudget", 'return {status = "Progressing"}')
    pdb = resource("policy/v1", "PodDisruptionBudget")
    assert HealthChecks(empty_scripts).assess(pdb) == Health(HealthStatus.PROGRESSING)


def test_every_script_in_the_folder_is_one_argo_cd_has(scripts_dir: Path) -> None:
    """The list of upstream scripts agrees with the scripts folder (a script there that the
    list lacks means the list is not v3.5.1's)."""
    folders = [str(p.parent.relative_to(scripts_dir)) for p in scripts_dir.glob("*/*/health.lua")]
    assert folders
    assert [f for f in folders if upstream_script_for(f) != f] == []


def test_kinds_no_check_covers_have_no_health(empty_scripts: Path) -> None:
    monitor = resource("monitoring.coreos.com/v1", "ServiceMonitor")
    assert upstream_script_for("monitoring.coreos.com/ServiceMonitor") is None
    assert HealthChecks(empty_scripts).assess(monitor) is None


def test_assess_keeps_the_checks_per_arguments(empty_scripts: Path) -> None:
    override = {"Service": ResourceOverride('return {status = "Healthy"}')}
    assert assess(LOAD_BALANCER, empty_scripts) == Health(HealthStatus.PROGRESSING)
    assert assess(LOAD_BALANCER, empty_scripts, override) == Health(HealthStatus.HEALTHY)

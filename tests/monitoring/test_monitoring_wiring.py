"""The alerts and dashboards select the objects the manifests really create, and the
rules are deployed once for the platform, not once per tenant."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gitops.paths import CLUSTERS, REPO_ROOT, tenants_dir
from gitops.tree.render import render

from .alert_rules import (
    RUNBOOKS,
    all_alerting_rules,
    all_rules,
    load_prometheus_rule,
    prometheus_rule_paths,
)
from .dashboard_queries import dashboard_files, expressions, load

INFERENCE_BASE = REPO_ROOT / "base" / "inference"
MONITORING_BASE = REPO_ROOT / "base" / "monitoring"
_MATCHER = re.compile(
    r'\b(job|deployment|container|poddisruptionbudget|horizontalpodautoscaler)="([^"]+)"'
)


@pytest.fixture(scope="module")
def inference_objects() -> list[dict[str, Any]]:
    return render(INFERENCE_BASE)


def _of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _selected_values() -> dict[str, set[str]]:
    """label -> values that the rules and dashboard queries match exactly."""
    exprs = [rule["expr"] for rule in all_rules()]
    for path in dashboard_files():
        exprs += [expr for _, expr in expressions(load(path))]
    found: dict[str, set[str]] = {}
    for expr in exprs:
        for label, value in _MATCHER.findall(expr):
            found.setdefault(label, set()).add(value)
    return found


def _tenant_overlays() -> Iterator[Path]:
    for cluster in CLUSTERS:
        yield from sorted(p.parent for p in tenants_dir(cluster).glob("*/kustomization.yaml"))


def test_queries_select_the_objects_of_the_inference_base(
    inference_objects: list[dict[str, Any]],
) -> None:
    deployments = _of_kind(inference_objects, "Deployment")
    existing = {
        "deployment": {d["metadata"]["name"] for d in deployments},
        "container": {
            c["name"] for d in deployments for c in d["spec"]["template"]["spec"]["containers"]
        },
        "poddisruptionbudget": {
            o["metadata"]["name"] for o in _of_kind(inference_objects, "PodDisruptionBudget")
        },
        "horizontalpodautoscaler": {
            o["metadata"]["name"] for o in _of_kind(inference_objects, "HorizontalPodAutoscaler")
        },
    }
    selected = _selected_values()

    for label, names in existing.items():
        assert selected.get(label), f"no query selects a {label}"
        assert selected[label] <= names, label


def test_service_monitor_gives_the_job_and_tenant_labels_the_queries_use(
    inference_objects: list[dict[str, Any]],
) -> None:
    (monitor,) = _of_kind(inference_objects, "ServiceMonitor")
    match_labels = monitor["spec"]["selector"]["matchLabels"]
    services = [
        s["metadata"]["name"]
        for s in _of_kind(inference_objects, "Service")
        if match_labels.items() <= s["metadata"].get("labels", {}).items()
    ]
    # Without spec.jobLabel the operator names the job after the Service.
    assert "jobLabel" not in monitor["spec"]
    assert _selected_values()["job"] == set(services)
    for endpoint in monitor["spec"]["endpoints"]:
        # Target relabeling, so `up` carries the tenant too, not only the scraped series.
        assert {
            "sourceLabels": ["__meta_kubernetes_namespace"],
            "targetLabel": "tenant",
        }.items() <= next(
            r for r in endpoint.get("relabelings", []) if r.get("targetLabel") == "tenant"
        ).items()


def test_the_rules_are_deployed_once_by_the_monitoring_base() -> None:
    rules = [o for o in render(MONITORING_BASE) if o["kind"] == "PrometheusRule"]
    names = [load_prometheus_rule(path)["metadata"]["name"] for path in prometheus_rule_paths()]

    assert sorted(r["metadata"]["name"] for r in rules) == sorted(names)
    assert len(set(names)) == len(names)
    assert {r["metadata"]["namespace"] for r in rules} == {"monitoring"}


@pytest.mark.parametrize(
    "overlay", [INFERENCE_BASE, *_tenant_overlays()], ids=lambda p: str(p.relative_to(REPO_ROOT))
)
def test_no_tenant_deploys_a_copy_of_the_rules(overlay: Path) -> None:
    # A copy per tenant namespace evaluates across all tenants: every alert would fire
    # once per tenant namespace.
    assert [o["metadata"]["name"] for o in render(overlay) if o["kind"] == "PrometheusRule"] == []


def notification_runbooks() -> set[str]:
    """The runbooks Argo CD's notifications link (base/argocd, docs/gitops.md): pages for a
    notification, not for a Prometheus alert."""
    templates = (REPO_ROOT / "base/argocd/argocd-notifications-cm.yaml").read_text("utf-8")
    return set(re.findall(r"docs/runbooks/(\w+)\.md", templates))


def test_every_alert_has_a_runbook_and_every_runbook_an_alert() -> None:
    alerts = {rule["alert"] for rule in all_alerting_rules()}
    notified = notification_runbooks()
    assert notified, "the notification templates link no runbook"
    assert not alerts & notified, "an alert and a notification share a runbook"
    pages = {p.stem for p in RUNBOOKS.glob("*.md") if p.name != "README.md"}
    assert alerts | notified == pages
    index = (RUNBOOKS / "README.md").read_text(encoding="utf-8")
    for alert in alerts:
        page = (RUNBOOKS / f"{alert}.md").read_text(encoding="utf-8")
        assert page.startswith(f"# {alert}\n"), alert
        assert f"]({alert}.md)" in index, alert

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
from tests.gitops.tree_copies import copy_real_tree, with_model

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
    r'\b(job|deployment|container|poddisruptionbudget|horizontalpodautoscaler)(=~?)"([^"]+)"'
)
# The objects queries select by name, and the label kube-state-metrics gives that name.
_NAMED_KINDS = {
    "Deployment": "deployment",
    "PodDisruptionBudget": "poddisruptionbudget",
    "HorizontalPodAutoscaler": "horizontalpodautoscaler",
}


@pytest.fixture(scope="module")
def inference_objects() -> list[dict[str, Any]]:
    return render(INFERENCE_BASE)


@pytest.fixture(scope="module")
def dedicated_objects(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """tenant-a on Kind with a model in a Deployment of its own, as `make model ...
    DEDICATED=1` writes it: its objects are named inference-service-<model>."""
    repo = with_model(
        copy_real_tree(tmp_path_factory.mktemp("repo")), "tenant-a", "fraud", dedicated=True
    )
    return render(repo / "overlays/kind/tenants/tenant-a")


def _of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] == kind]


def _all_expressions() -> list[str]:
    exprs = [rule["expr"] for rule in all_rules()]
    for path in dashboard_files():
        exprs += [expr for _, expr in expressions(load(path))]
    return exprs


def _selected_values() -> dict[str, set[str]]:
    """label -> values that the rules and dashboard queries match exactly."""
    found: dict[str, set[str]] = {}
    for expr in _all_expressions():
        for label, op, value in _MATCHER.findall(expr):
            if op == "=":
                found.setdefault(label, set()).add(value)
    return found


def _tenant_overlays() -> Iterator[Path]:
    for cluster in CLUSTERS:
        yield from sorted(p.parent for p in tenants_dir(cluster).glob("*/kustomization.yaml"))


def _matches(op: str, value: str, name: str) -> bool:
    # PromQL anchors regular expressions at both ends.
    return name == value if op == "=" else re.fullmatch(value, name) is not None


def missed_objects(exprs: list[str], objects: list[dict[str, Any]]) -> list[str]:
    """Each selector by object name that leaves out one of `objects` of its kind, or that
    selects none of them: an alert blind to a model's own Deployment, or to every one."""
    missed = []
    for kind, label in _NAMED_KINDS.items():
        names = {o["metadata"]["name"] for o in _of_kind(objects, kind)}
        for expr in exprs:
            for found_label, op, value in _MATCHER.findall(expr):
                if found_label != label:
                    continue
                left_out = sorted(n for n in names if not _matches(op, value, n))
                if left_out or not names:
                    missed.append(f"{label}{op}{value!r} misses {left_out or 'every object'}")
    return missed


def test_queries_select_the_objects_of_the_inference_base(
    inference_objects: list[dict[str, Any]],
) -> None:
    deployments = _of_kind(inference_objects, "Deployment")
    containers = {
        c["name"] for d in deployments for c in d["spec"]["template"]["spec"]["containers"]
    }
    selected = _selected_values()

    assert selected.get("container"), "no query selects a container"
    assert selected["container"] <= containers
    assert missed_objects(_all_expressions(), inference_objects) == []
    for label in _NAMED_KINDS.values():
        assert any(
            label == found for e in _all_expressions() for found, _, _ in _MATCHER.findall(e)
        ), f"no query selects a {label}"


def test_queries_select_a_model_s_own_deployment_too(
    dedicated_objects: list[dict[str, Any]],
) -> None:
    names = {o["metadata"]["name"] for o in _of_kind(dedicated_objects, "Deployment")}
    assert names == {"inference-service", "inference-service-fraud"}
    assert missed_objects(_all_expressions(), dedicated_objects) == []
    # Its pods keep the container name the CPU throttling alert selects.
    for deployment in _of_kind(dedicated_objects, "Deployment"):
        (pod_container,) = deployment["spec"]["template"]["spec"]["containers"]
        assert pod_container["name"] in _selected_values()["container"]


def test_an_exact_name_selector_is_reported_blind_to_a_model_s_deployment(
    dedicated_objects: list[dict[str, Any]],
) -> None:
    planted = ['kube_deployment_spec_replicas{deployment="inference-service"} > 0']

    assert missed_objects(planted, dedicated_objects) == [
        "deployment='inference-service' misses ['inference-service-fraud']"
    ]


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

"""The `argocd-ui` and `argocd-notifications` checks on copies of the real tree: each test
plants one fault in Argo CD's settings (base/argocd), the cluster settings or what they
point at, and expects the finding that names it. `argocd-notifications` runs the sync
simulation (two bootstraps and a planted later revision, about 15 s), so only the faults
that need it use it."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops.validate import validate_repo
from tests.gitops.tree_copies import copy_real_tree, problems

ARGOCD_CM = "base/argocd/argocd-cm.yaml"
NOTIFICATIONS_CM = "base/argocd/argocd-notifications-cm.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_real_tree(tmp_path / "repo")


def links(repo: Path) -> str:
    return problems(validate_repo(repo, ["argocd-ui"]), "argocd-ui")


def notifications(repo: Path) -> str:
    return problems(validate_repo(repo, ["argocd-notifications"]), "argocd-notifications")


def replace(repo: Path, rel: str, old: str, new: str, count: int = 1) -> None:
    path = repo / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{rel} no longer holds {old!r}"
    path.write_text(text.replace(old, new, count), encoding="utf-8")


def test_the_real_tree_passes(repo: Path) -> None:
    report = validate_repo(repo, ["argocd-ui", "argocd-notifications"])
    assert problems(report, "argocd-ui") == ""
    assert problems(report, "argocd-notifications") == ""


# --- deep links -------------------------------------------------------------------------


def test_a_grafana_link_to_a_dashboard_that_does_not_exist(repo: Path) -> None:
    replace(repo, ARGOCD_CM, "/d/ml-inference-drift?", "/d/ml-drift?")
    found = links(repo)
    assert "opens Grafana dashboard 'ml-drift', which base/monitoring/dashboards" in found
    assert "application.links[2] Drift dashboard: Application argocd/tenant-a: opens" in found


def test_a_grafana_variable_the_dashboard_does_not_have(repo: Path) -> None:
    replace(repo, ARGOCD_CM, "/d/ml-model-rollouts?var-tenant=", "/d/ml-model-rollouts?var-team=")
    found = links(repo)
    assert "sets var-team, but dashboard ml-model-rollouts" in found
    assert "has no variable 'team'" in found


def test_a_url_reading_a_field_that_does_not_exist(repo: Path) -> None:
    replace(
        repo,
        ARGOCD_CM,
        '{{ index .app.metadata.annotations "ml-platform.example.com/grafana-url" }}/dashboards',
        "{{ .app.metadata.grafanaUrl }}/dashboards",
    )
    found = links(repo)
    assert "application.links[8] Grafana: Application argocd/mlflow: renders" in found
    assert "<no value>/dashboards" in found


def test_a_url_hard_coded_outside_the_cluster_settings(repo: Path) -> None:
    replace(
        repo,
        ARGOCD_CM,
        '{{ index .app.metadata.annotations "ml-platform.example.com/prometheus-url" }}/alerts',
        "http://prometheus.example.com/alerts",
    )
    found = links(repo)
    assert "renders http://prometheus.example.com/alerts, under none of the kind cluster's" in found
    assert "prometheus http://localhost:9090 (clusters/kind/settings/settings.env)" in found


def test_a_link_whose_condition_is_never_true(repo: Path) -> None:
    replace(
        repo,
        ARGOCD_CM,
        'Deployment" && resource.metadata.labels?.["ml-platform.example.com/tenant"] != nil && '
        'application.metadata.annotations?.["ml-platform.example.com/mlflow-url"]',
        'Deployment" && resource.metadata.labels?.["ml-platform.example.com/model"] != nil && '
        'application.metadata.annotations?.["ml-platform.example.com/mlflow-url"]',
    )
    found = links(repo)
    assert "resource.links[0] Models in MLflow: shows on none of the" in found


def test_a_condition_that_fails(repo: Path) -> None:
    # No AppProject has spec.sourceNamespaces: indexing its nil fails (`?.[0]` would not).
    replace(
        repo,
        ARGOCD_CM,
        'if: project.metadata.labels?.["ml-platform.example.com/tenant"] != nil && '
        'project.metadata.annotations?.["ml-platform.example.com/grafana-url"] != nil',
        'if: project.spec.sourceNamespaces[0] == "tenant-a"',
    )
    found = links(repo)
    assert "project.links[0] Inference dashboard: AppProject argocd/platform: condition" in found
    assert "cannot fetch 0 from <nil> (Argo CD logs it and hides the link)" in found


def test_a_runbook_link_to_a_page_that_does_not_exist(repo: Path) -> None:
    replace(repo, ARGOCD_CM, "docs/runbooks/README.md", "docs/runbooks/index.md")
    assert "links docs/runbooks/index.md, which does not exist" in links(repo)


def test_a_link_to_a_model_no_tenant_serves(repo: Path) -> None:
    replace(
        repo,
        ARGOCD_CM,
        "/#/models?searchInput={{ .resource.metadata.namespace | urlquery }}",
        "/#/models/{{ .resource.metadata.name | urlquery }}",
    )
    found = links(repo)
    assert "opens registered model 'inference-service'" in found
    assert "which no tenant's models.yaml declares" in found


def test_a_model_search_that_finds_no_declared_model(repo: Path) -> None:
    replace(
        repo,
        ARGOCD_CM,
        "/#/models?searchInput={{ .resource.metadata.namespace | urlquery }}",
        "/#/models?searchInput={{ .resource.metadata.name | urlquery }}",
    )
    found = links(repo)
    assert "searches registered models for 'inference-service'" in found
    assert "which no declared model's name holds" in found


def test_an_argocd_cm_key_argo_cd_does_not_read(repo: Path) -> None:
    replace(repo, ARGOCD_CM, "  project.links: |", "  projects.links: |")
    found = links(repo)
    assert "argocd-cm projects.links: is a key Argo CD v3.5.1 does not read" in found


def test_a_link_field_argo_cd_does_not_read(repo: Path) -> None:
    replace(repo, ARGOCD_CM, "      icon.class: fa-book", "      icon: fa-book")
    assert "has fields Argo CD v3.5.1 does not read: ['icon']" in links(repo)


def test_a_function_outside_the_model_is_not_evaluable_offline(repo: Path) -> None:
    replace(
        repo,
        ARGOCD_CM,
        "searchInput={{ .resource.metadata.namespace | urlquery }}",
        "searchInput={{ .resource.metadata.namespace | title | urlquery }}",
    )
    assert 'function "title" is not modelled offline: not evaluable offline' in links(repo)


# --- notifications: the configuration ----------------------------------------------------


def test_a_trigger_sending_a_template_that_does_not_exist(repo: Path) -> None:
    replace(repo, NOTIFICATIONS_CM, "        - app-sync-stuck\n", "        - app-sync-hung\n")
    assert "trigger.on-sync-stuck[0]: sends template 'app-sync-hung', which does not exist" in (
        links(repo)
    )


def test_a_subscription_to_a_trigger_that_does_not_exist(repo: Path) -> None:
    replace(repo, NOTIFICATIONS_CM, "        - on-health-degraded\n", "        - on-degraded\n")
    found = links(repo)
    assert "subscriptions[0]: subscribes to trigger 'on-degraded', which does not exist" in found
    assert "trigger.on-health-degraded: no subscription names it" in found


def test_a_subscription_to_a_service_that_does_not_exist(repo: Path) -> None:
    replace(repo, NOTIFICATIONS_CM, "        - platform\n", "        - slack:platform\n")
    assert "sends to service 'slack', which is not configured" in links(repo)


def test_a_key_the_notifications_controller_does_not_read(repo: Path) -> None:
    replace(repo, NOTIFICATIONS_CM, "  trigger.on-sync-stuck: |", "  triggers.on-sync-stuck: |")
    assert "triggers.on-sync-stuck: is a key the notifications controller does not read" in (
        links(repo)
    )


def test_a_webhook_secret_key_nothing_writes(repo: Path) -> None:
    replace(
        repo,
        "overlays/eks/argocd/externalsecret-notifications.yaml",
        "secretKey: notifications-webhook-url",
        "secretKey: slack-url",
    )
    found = links(repo)
    assert "overlays/eks/argocd/config: argocd-notifications-cm service.*.platform" in found
    assert "reads $notifications-webhook-url from argocd-notifications-secret" in found
    assert "overlays/kind/argocd/config" not in found  # Kind's URL is a setting


# --- notifications: against the sync simulation -------------------------------------------


def test_a_trigger_that_fires_on_the_healthy_first_sync(repo: Path) -> None:
    replace(
        repo,
        NOTIFICATIONS_CM,
        "when: app.status.health.status == 'Degraded'",
        "when: app.status.health.status in ['Degraded', 'Healthy']",
    )
    found = notifications(repo)
    assert "trigger.on-health-degraded[0]: Application argocd/root: fires on the simulated" in found
    assert "kind first sync" in found
    assert "eks first sync" in found


def test_a_trigger_that_can_never_fire(repo: Path) -> None:
    replace(repo, NOTIFICATIONS_CM, "phase in ['Error', 'Failed']", "phase in ['Errored']")
    found = notifications(repo)
    assert "trigger.on-sync-failed[0]: fires on no Application of the simulated faults" in found
    assert "tenant-a: refused_kind" in found


def test_a_deadline_trigger_without_a_deadline(repo: Path) -> None:
    replace(repo, NOTIFICATIONS_CM, ".Minutes() >= 30", ".Minutes() >= 0")
    found = notifications(repo)
    assert "trigger.on-sync-stuck[0]: Application argocd/tenant-a-kit: fires as soon as" in found


def test_a_template_reading_a_field_the_application_does_not_have(repo: Path) -> None:
    replace(
        repo,
        NOTIFICATIONS_CM,
        "$app .app.status.operationState.syncResult.revision .app.status.operationState.message",
        "$app .app.status.operationState.syncResult.commit .app.status.operationState.message",
    )
    found = notifications(repo)
    assert "template.app-sync-failed: Application argocd/tenant-a: webhook.platform.body" in found
    assert "renders a field the Application does not have" in found


def test_a_webhook_body_that_is_not_json(repo: Path) -> None:
    replace(
        repo,
        NOTIFICATIONS_CM,
        '{"text": {{ join "\\n" $lines | toJson }}}',
        '{"text": "{{ join "\\n" $lines }}"}',
    )
    found = notifications(repo)
    assert (
        "template.app-sync-failed: Application argocd/tenant-a: webhook.platform.body is not"
        in (found)
    )

"""The `capacity` check: quantity and surge arithmetic, the real tree passing, and each
planted fault (in a copy of the real tree) reported with its numbers and bound."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from gitops import paths
from gitops.tree.pod_resources import (
    Defaults,
    format_quantity,
    limit_range_defaults,
    max_surge,
    parse_quantity,
    peak_pods,
    pod_amounts,
    scaled,
)
from gitops.validate import Report, validate_repo
from tests.gitops.tree_copies import copy_real_tree, edit_yaml, problems, with_model

CHECK = "capacity"
HPA = "base/inference/horizontalpodautoscaler.yaml"
PDB = "base/inference/poddisruptionbudget.yaml"
LIMIT_RANGE = "base/tenant/limitrange.yaml"
EKS_TENANT_B_KIT = "overlays/eks/tenants/tenant-b/kit/kustomization.yaml"
INFERENCE = "Deployment inference-service"


@pytest.fixture(scope="module")
def real_report() -> Report:
    return validate_repo(paths.REPO_ROOT, [CHECK])


def test_real_tree_passes(real_report: Report) -> None:
    assert not real_report.by_check(CHECK), problems(real_report, CHECK)


def test_check_is_fast_on_the_real_tree(real_report: Report) -> None:
    assert real_report.seconds[CHECK] < 1.0


# --- quantities ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("250m", Fraction(1, 4)),
        ("1", Fraction(1)),
        (2, Fraction(2)),
        (0.5, Fraction(1, 2)),
        ("1.5", Fraction(3, 2)),
        (".5", Fraction(1, 2)),
        ("100n", Fraction(1, 10**7)),
        ("1k", Fraction(1000)),
        ("1M", Fraction(10**6)),
        ("1G", Fraction(10**9)),
        ("1T", Fraction(10**12)),
        ("1E", Fraction(10**18)),
        ("1Ki", Fraction(1024)),
        ("384Mi", Fraction(384 * 2**20)),
        ("1.5Gi", Fraction(3 * 2**29)),
        ("2Ti", Fraction(2 * 2**40)),
        ("1e3", Fraction(1000)),
        ("1E3", Fraction(1000)),
        ("5e-1", Fraction(1, 2)),
        ("+2", Fraction(2)),
    ],
)
def test_parse_quantity(text: Any, value: Fraction) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize("text", ["", "Gi", "1K", "1gi", "1 Gi", "1.2.3", "ten", "1Mb", True])
def test_parse_quantity_rejects(text: Any) -> None:
    with pytest.raises(ValueError, match="not a Kubernetes quantity"):
        parse_quantity(text)


def test_quantities_are_exact() -> None:
    # 11 x 1Gi is exactly 11Gi (no float rounding), and 1G < 1Gi.
    assert 11 * parse_quantity("1Gi") == parse_quantity("11Gi")
    assert parse_quantity("1G") < parse_quantity("1Gi")
    assert 3 * parse_quantity("100m") == parse_quantity("300m")


@pytest.mark.parametrize(
    ("value", "key", "text"),
    [
        (Fraction(11 * 2**30), "limits.memory", "11Gi"),
        (Fraction(11 * 768 * 2**20), "limits.memory", "8448Mi"),
        (Fraction(11, 4), "requests.cpu", "2750m"),
        (Fraction(11), "limits.cpu", "11"),
        (Fraction(21), "pods", "21"),
    ],
)
def test_format_quantity(value: Fraction, key: str, text: str) -> None:
    assert format_quantity(value, key) == text


# --- surge and peaks ----------------------------------------------------------------------


def deployment(strategy: dict[str, Any] | None = None, replicas: int | None = None) -> dict:
    spec: dict[str, Any] = {} if strategy is None else {"strategy": strategy}
    if replicas is not None:
        spec["replicas"] = replicas
    return {"kind": "Deployment", "metadata": {"name": "web"}, "spec": spec}


def rolling(surge: Any) -> dict[str, Any]:
    return {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge}}


@pytest.mark.parametrize(
    ("strategy", "replicas", "surge"),
    [
        (None, 10, 3),  # default 25% of 10 = 2.5, rounded up
        (None, 4, 1),  # 25% of 4 = 1 exactly
        (None, 1, 1),  # 25% of 1 = 0.25, rounded up
        (None, 0, 0),
        ({"type": "RollingUpdate"}, 8, 2),  # rollingUpdate omitted: the 25% default
        (rolling("10%"), 11, 2),  # 1.1 -> 2
        (rolling("100%"), 3, 3),
        (rolling(1), 10, 1),
        (rolling("2"), 10, 2),
        (rolling(0), 10, 0),
        ({"type": "Recreate"}, 10, 0),
    ],
)
def test_max_surge(strategy: dict[str, Any] | None, replicas: int, surge: int) -> None:
    assert max_surge(deployment(strategy), replicas) == surge


def test_scaled_rounds_up_or_down() -> None:
    assert scaled("50%", 7, round_up=True) == 4  # the PDB documentation's example
    assert scaled("50%", 7, round_up=False) == 3
    assert scaled(3, 7, round_up=True) == 3


def test_peak_of_a_deployment_scaled_by_an_hpa() -> None:
    hpa = {"metadata": {"name": "web"}, "spec": {"minReplicas": 2, "maxReplicas": 10}}
    peak = peak_pods(deployment(rolling(1)), hpa)
    assert peak is not None
    assert (peak.pods, peak.why) == (11, "HPA web maxReplicas 10 + maxSurge 1")
    peak = peak_pods(deployment(), hpa)
    assert peak is not None
    assert (peak.pods, peak.why) == (13, "HPA web maxReplicas 10 + maxSurge 25% = 3")


def pods(workload: dict[str, Any]) -> int | None:
    peak = peak_pods(workload, None)
    return None if peak is None else peak.pods


def test_peak_without_an_hpa() -> None:
    assert pods(deployment()) == 2  # replicas default 1 + 25% of 1 rounded up
    assert pods(deployment(replicas=4)) == 5
    assert pods(deployment({"type": "Recreate"}, replicas=3)) == 3
    assert pods({"kind": "StatefulSet", "spec": {"replicas": 3}}) == 3  # no surge
    assert pods({"kind": "Job", "spec": {}}) == 1
    assert pods({"kind": "Job", "spec": {"parallelism": 4, "completions": 2}}) == 2
    assert pods({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"parallelism": 3}}}}) == 3
    assert pods({"kind": "DaemonSet", "spec": {}}) is None  # one per node: unknown here


# --- per-pod amounts ----------------------------------------------------------------------


def test_limit_range_defaults_follow_the_api_defaulting() -> None:
    defaults = limit_range_defaults({"type": "Container", "max": {"cpu": "2"}})
    assert defaults.limit["cpu"] == 2
    assert defaults.request["cpu"] == 2
    defaults = limit_range_defaults({"type": "Container", "default": {"memory": "512Mi"}})
    assert defaults.request["memory"] == parse_quantity("512Mi")


def test_pod_amounts_apply_defaults_and_init_containers() -> None:
    defaults = Defaults(
        request={"cpu": parse_quantity("100m"), "memory": parse_quantity("256Mi")},
        limit={"cpu": parse_quantity("500m"), "memory": parse_quantity("512Mi")},
    )
    spec = {
        "initContainers": [
            {"name": "migrate", "resources": {"limits": {"cpu": "2", "memory": "1Gi"}}},
            {"name": "proxy", "restartPolicy": "Always"},  # sidecar: LimitRange defaults
        ],
        "containers": [
            {"name": "app", "resources": {"requests": {"cpu": "250m", "memory": "384Mi"}}},
            {"name": "bare"},
        ],
    }
    pod = pod_amounts(spec, defaults)
    assert not pod.missing
    # init `migrate` (request = its limit 2) beats app + sidecar = 250m + 100m + 100m
    assert pod.amounts["requests.cpu"] == 2
    # memory: app 384Mi + bare 256Mi + sidecar 256Mi = 896Mi < init 1Gi
    assert pod.amounts["requests.memory"] == parse_quantity("1Gi")
    # limits: app has none -> default 500m; 500m x 3 = 1500m < init 2
    assert pod.amounts["limits.cpu"] == 2
    assert pod.amounts["limits.memory"] == parse_quantity("1536Mi")  # 3 x 512Mi > 1Gi


def test_pod_amounts_report_containers_nothing_sets() -> None:
    pod = pod_amounts({"containers": [{"name": "bare"}]}, Defaults())
    assert pod.missing == {key: ["bare"] for key in pod.amounts}


# --- planted faults -----------------------------------------------------------------------


def planted(tmp_path: Path, file: str, change: Any) -> str:
    repo = copy_real_tree(tmp_path / "repo")
    edit_yaml(repo / file, change)
    return problems(validate_repo(repo, [CHECK]), CHECK)


def test_hpa_ceiling_above_the_quota_on_both_clusters(tmp_path: Path) -> None:
    def change(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["maxReplicas"] = 20

    found = planted(tmp_path, HPA, change)
    why = f"({INFERENCE}: HPA inference-service maxReplicas 20 + maxSurge 1)"
    for cluster in paths.CLUSTERS:
        for tenant in ("tenant-a", "tenant-b"):
            where = (
                f"{cluster}: Application argocd/{tenant}-kit: ResourceQuota {tenant}/tenant-quota"
            )
            assert f"{where}: requests.cpu 4 < 5250m = 21 pods x 250m {why}" in found
            assert f"{where}: limits.cpu 12 < 21 = 21 pods x 1 {why}" in found
            assert f"{where}: pods 20 < 21 = 21 pods {why}" in found
    assert (
        "kind: Application argocd/tenant-a-kit: ResourceQuota tenant-a/tenant-quota: "
        f"limits.memory 10Gi < 16128Mi = 21 pods x 768Mi {why} "
        "(expected: spec.hard.limits.memory >= 16128Mi"
    ) in found
    assert (
        "eks: Application argocd/tenant-b-kit: ResourceQuota tenant-b/tenant-quota: "
        f"limits.memory 11Gi < 21Gi = 21 pods x 1Gi {why}"
    ) in found


def test_eks_tenant_b_without_its_quota_patch(tmp_path: Path) -> None:
    """The bug this check exists for: tenant-b's 1Gi pods, 10 + 1 of them, in 10Gi."""

    def change(docs: list[dict[str, Any]]) -> None:
        patches = docs[0]["patches"]
        quota = [p for p in patches if p["target"]["kind"] == "ResourceQuota"]
        assert len(quota) == 1
        patches.remove(quota[0])

    found = planted(tmp_path, EKS_TENANT_B_KIT, change)
    assert found == (
        "eks: Application argocd/tenant-b-kit: ResourceQuota tenant-b/tenant-quota: "
        "limits.memory 10Gi < 11Gi = 11 pods x 1Gi "
        f"({INFERENCE}: HPA inference-service maxReplicas 10 + maxSurge 1) "
        "(expected: spec.hard.limits.memory >= 11Gi (every workload at its ceiling while "
        "rolling out), or fewer or smaller pods)"
    )


def test_pdb_min_available_equal_to_the_hpa_floor(tmp_path: Path) -> None:
    def change(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["minAvailable"] = 2

    found = planted(tmp_path, PDB, change)
    for cluster, tenant in (("kind", "tenant-a"), ("kind", "tenant-b"), ("eks", "tenant-b")):
        assert (
            f"{cluster}: Application argocd/{tenant}: PodDisruptionBudget "
            f"{tenant}/inference-service: minAvailable 2 >= 2 pod(s) at the floor "
            f"({INFERENCE}: HPA inference-service minReplicas 2): no pod may ever be "
            "evicted, a node drain blocks (expected: minAvailable < 2, or maxUnavailable >= 1)"
        ) in found
    # EKS tenant-a runs at least 3 replicas (its overlay's minReplicas): 2 < 3 is fine.
    assert "eks: Application argocd/tenant-a:" not in found
    assert len(found.splitlines()) == 3


def test_pdb_max_unavailable_zero(tmp_path: Path) -> None:
    def change(docs: list[dict[str, Any]]) -> None:
        del docs[0]["spec"]["minAvailable"]
        docs[0]["spec"]["maxUnavailable"] = "0%"

    found = planted(tmp_path, PDB, change)
    assert (
        "kind: Application argocd/tenant-a: PodDisruptionBudget tenant-a/inference-service: "
        "maxUnavailable 0% of 2 pod(s)"
    ) in found
    assert len(found.splitlines()) == 4  # both tenants on both clusters


def test_limit_range_default_above_max(tmp_path: Path) -> None:
    def change(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["limits"][0]["default"]["memory"] = "3Gi"

    found = planted(tmp_path, LIMIT_RANGE, change)
    for cluster in paths.CLUSTERS:
        for tenant in ("tenant-a", "tenant-b"):
            assert (
                f"{cluster}: Application argocd/{tenant}-kit: LimitRange "
                f"{tenant}/tenant-defaults: limits[0] (Container) default memory 3Gi > "
                "max memory 2Gi"
            ) in found


def test_limit_range_defaults_must_fit_the_quota(tmp_path: Path) -> None:
    def change(docs: list[dict[str, Any]]) -> None:
        item = docs[0]["spec"]["limits"][0]
        item["default"]["cpu"] = "16"
        item["max"]["cpu"] = "16"

    found = planted(tmp_path, LIMIT_RANGE, change)
    assert (
        "kind: Application argocd/tenant-a-kit: LimitRange tenant-a/tenant-defaults: default "
        "cpu 16 > ResourceQuota tenant-a/tenant-quota limits.cpu 12: a pod relying on the "
        "defaults never fits"
    ) in found


# --- what the models need --------------------------------------------------------------------


def test_a_deployment_whose_models_outgrow_its_memory_limit(tmp_path: Path) -> None:
    """tenant-a-iris as a large model with a rollout policy: the service (256Mi), its stable and
    candidate versions (2 x 256Mi), tenant-a-churn (small, 16Mi) and one swap (256Mi) need
    1040Mi; the limit is 768Mi."""
    repo = copy_real_tree(tmp_path / "repo")
    models = repo / "overlays/kind/tenants/tenant-a/models.yaml"
    text = models.read_text()
    assert text.index("resources: small") < text.index("tenant-a-churn")  # iris's entry
    models.write_text(text.replace("resources: small", "resources: large", 1))
    found = problems(validate_repo(repo, [CHECK]), CHECK)
    assert found == (
        f"kind: Application argocd/tenant-a: {INFERENCE.replace(' ', ' tenant-a/')}: container "
        "inference-service memory limit 768Mi < 1040Mi that its models need (the service "
        "256Mi + tenant-a-iris large 256Mi x 2 (stable and candidate: a rollout policy) + "
        "tenant-a-churn small 16Mi + one swap of the largest, 256Mi): the pod is killed as "
        "they load (expected: resources.limits.memory >= 1040Mi, or fewer or smaller models on "
        "this Deployment (docs/models.md, what a model costs))"
    )


def test_a_dedicated_deployment_counts_against_the_tenant_s_quota(tmp_path: Path) -> None:
    """A model with its own Deployment: its HPA ceiling and surge add to the shared one's."""
    repo = with_model(copy_real_tree(tmp_path / "repo"), "tenant-a", "fraud", dedicated=True)
    found = problems(validate_repo(repo, [CHECK]), CHECK)
    assert (
        "kind: Application argocd/tenant-a-kit: ResourceQuota tenant-a/tenant-quota: "
        "limits.memory 10Gi < 16896Mi = 11 pods x 768Mi (Deployment inference-service: HPA "
        "inference-service maxReplicas 10 + maxSurge 1) + 11 pods x 768Mi (Deployment "
        "inference-service-fraud: HPA inference-service-fraud maxReplicas 10 + maxSurge 1)"
    ) in found

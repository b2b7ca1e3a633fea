"""The `tenant-models` check (gitops/checks/tenant_models/): the real tree passes, a copy with
a dedicated model (as `make model ... DEDICATED=1` writes it) passes and keeps the model's
pods apart under the same guardrails, and each planted fault, in a copy of the real tree, is
reported where it is made."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from gitops import paths
from gitops.tree.findings import labels_of, name_of
from gitops.tree.render import render
from gitops.tree.selectors import matches, matches_map, pod_template
from gitops.validate import validate_repo
from tests.gitops.tree_copies import copy_real_tree, edit_yaml, problems, with_model

CHECK = "tenant-models"
KIND_A = Path("overlays/kind/tenants/tenant-a")
EKS_A = Path("overlays/eks/tenants/tenant-a")
CHURN = "inference-service-fraud"
# The checks that hold the guardrails a dedicated Deployment shares with the shared one.
GUARDRAILS = [
    CHECK,
    "schemas",
    "crd-schemas",
    "crossrefs",
    "pod-security",
    "probes",
    "reachability",
    "ordering",
    "checkov",
]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_real_tree(tmp_path / "repo")


@pytest.fixture
def dedicated(repo: Path) -> Path:
    """The copy with tenant-a-fraud served by a Deployment of its own on both clusters."""
    return with_model(repo, "tenant-a", "fraud", dedicated=True)


def found(repo: Path, check: str = CHECK) -> str:
    return problems(validate_repo(repo, [check]), check)


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_real_tree_passes() -> None:
    assert found(paths.REPO_ROOT) == ""


# --- a dedicated model, rendered for real --------------------------------------------------


def test_a_dedicated_model_passes_every_guardrail_check(dedicated: Path) -> None:
    report = validate_repo(dedicated, GUARDRAILS)
    assert report.ok, "\n".join(map(str, report.findings))


@pytest.mark.parametrize("cluster", paths.CLUSTERS)
def test_a_dedicated_model_s_pods_stand_apart_in_the_render(dedicated: Path, cluster: str) -> None:
    objects = render(dedicated / "overlays" / cluster / "tenants/tenant-a")
    by_kind: dict[str, dict[str, dict[str, Any]]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], {})[name_of(obj)] = obj
    deployments = by_kind["Deployment"]
    assert set(deployments) == {"inference-service", CHURN}
    pods = {n: labels_of(pod_template(d) or {}) for n, d in deployments.items()}
    # Services, PDBs and Deployment selectors each reach their own Deployment's pods only.
    for name in deployments:
        service = by_kind["Service"][name]["spec"]["selector"]
        assert [p for p, labels in pods.items() if matches_map(service, labels)] == [name]
        pdb = by_kind["PodDisruptionBudget"][name]["spec"]["selector"]
        assert [p for p, labels in pods.items() if matches(pdb, labels)] == [name]
        selector = deployments[name]["spec"]["selector"]
        assert [p for p, labels in pods.items() if matches(selector, labels)] == [name]
        monitor = by_kind["ServiceMonitor"][name]["spec"]["selector"]
        scraped = [s for s, svc in by_kind["Service"].items() if matches(monitor, labels_of(svc))]
        assert scraped == [name]
        assert by_kind["HorizontalPodAutoscaler"][name]["spec"]["scaleTargetRef"]["name"] == name
    # The shared Deployment's selector is unchanged (immutable on a running cluster).
    assert deployments["inference-service"]["spec"]["selector"] == {
        "matchLabels": {"app.kubernetes.io/name": "inference-service"}
    }
    # Same image, settings, models, policies, resources and probes; its own MODEL_DEPLOYMENT.
    shared, own = (deployments[n]["spec"]["template"]["spec"] for n in ("inference-service", CHURN))
    [shared_main], [own_main] = shared["containers"], own["containers"]
    assert {"name": "MODEL_DEPLOYMENT", "value": "tenant-a-fraud"} in own_main["env"]
    for key in ("image", "envFrom", "resources", "readinessProbe", "securityContext"):
        assert own_main[key] == shared_main[key], key
    assert own["volumes"] == shared["volumes"]
    assert pods[CHURN]["app.kubernetes.io/part-of"] == "ml-inference-platform"
    assert pods[CHURN]["ml-platform.example.com/tenant"] == "tenant-a"
    assert len(CHURN) <= 63


def test_on_eks_the_dedicated_model_s_paths_reach_its_service_first(dedicated: Path) -> None:
    ingresses = {name_of(o): o for o in render(dedicated / EKS_A) if o["kind"] == "Ingress"}
    own = ingresses[CHURN]
    assert own["metadata"]["annotations"]["alb.ingress.kubernetes.io/group.order"] == "-1"
    [rule] = own["spec"]["rules"]
    assert rule["host"] == ingresses["inference-service"]["spec"]["rules"][0]["host"]
    assert rule["host"].startswith("tenant-a.")
    assert {(p["path"], p["backend"]["service"]["name"]) for p in rule["http"]["paths"]} == {
        ("/models/tenant-a-fraud", CHURN),
        ("/v2/models/tenant-a-fraud", CHURN),
    }


# --- declarations --------------------------------------------------------------------------


def test_a_tenant_without_models_yaml(repo: Path) -> None:
    (repo / KIND_A / "models.yaml").unlink()
    assert (
        f"{KIND_A}/models.yaml: no models.yaml: every tenant declares the models it serves "
        "(expected: a TenantModels declaration of tenant-a's models (docs/models.md))"
    ) in found(repo)


def test_a_model_without_the_tenant_s_prefix(repo: Path) -> None:
    path = repo / EKS_A / "models.yaml"
    path.write_text(path.read_text().replace("name: tenant-a-iris", "name: iris"))
    assert (
        f"{EKS_A}/models.yaml: models[0].name: got 'iris', expected a name starting with "
        "tenant-a- (a tenant's registered models carry its name)"
    ) in found(repo)


def test_a_model_name_two_tenants_declare(repo: Path) -> None:
    """tenant-b-x is a tenant of its own, and tenant-b may also name models tenant-b-x-...:
    the prefix alone cannot keep them apart."""
    from gitops.edits.scaffold import plan as scaffold

    scaffold(repo, "tenant-b-x", "iris", "logistic_regression").apply()
    kind_b = "overlays/kind/tenants/tenant-b"
    append(repo / kind_b / "models.yaml", "  - name: tenant-b-x-iris\n    alias: staging\n")
    assert (
        f"{kind_b}-x/models.yaml, {kind_b}/models.yaml: tenant-b-x-iris is declared by 2 "
        "tenants (tenant-b, tenant-b-x): a registered model belongs to one tenant, whose "
        "credentials read it (expected: each model name declared by one tenant only)"
    ) in found(repo)


# --- what the Deployments are given --------------------------------------------------------


def test_models_yaml_that_is_not_rendered(repo: Path) -> None:
    def drop_generator(docs: list[dict[str, Any]]) -> None:
        docs[0]["configMapGenerator"] = [
            g for g in docs[0]["configMapGenerator"] if g["name"] != "tenant-models"
        ]

    edit_yaml(repo / KIND_A / "kustomization.yaml", drop_generator)
    assert found(repo) == (
        f"kind: Application argocd/tenant-a: {KIND_A}/models.yaml is not rendered into a "
        "ConfigMap tenant-models: the service never sees what the tenant declares (expected: a "
        "configMapGenerator `tenant-models` with files: [models.yaml] in the tenant's "
        "kustomization.yaml)"
    )


def test_a_deployment_that_does_not_mount_its_models(repo: Path) -> None:
    def unmount(docs: list[dict[str, Any]]) -> None:
        spec = docs[0]["spec"]["template"]["spec"]
        spec["volumes"] = [v for v in spec["volumes"] if v["name"] != "tenant-models"]
        for container in spec["containers"]:
            container["volumeMounts"] = [
                m for m in container["volumeMounts"] if m["name"] != "tenant-models"
            ]

    edit_yaml(repo / "base/inference/deployment.yaml", unmount)
    text = found(repo)
    for cluster in paths.CLUSTERS:
        for tenant in ("tenant-a", "tenant-b"):
            assert (
                f"{cluster}: Application argocd/{tenant}: Deployment inference-service reads "
                "its models from /etc/inference/models/models.yaml (MODELS_FILE or its "
                "default), where no ConfigMap is mounted"
            ) in text


def test_model_uri_beside_the_models_file(repo: Path) -> None:
    append(repo / EKS_A / "settings.env", "MODEL_URI=models:/tenant-a-iris@production\n")
    assert found(repo).startswith(
        "eks: Application argocd/tenant-a: Deployment inference-service sets "
        "MODEL_URI=models:/tenant-a-iris@production beside its models file: the service refuses "
        "both"
    )


def test_a_pickle_free_tenant_that_asks_for_the_pickle(repo: Path) -> None:
    declared = (repo / EKS_A / "models.yaml").read_text()
    (repo / EKS_A / "models.yaml").write_text(
        declared.replace("kind: TenantModels\n", "kind: TenantModels\npickleFree: true\n")
    )
    assert found(repo) == ""  # pickle-free, on the runtime that picks ONNX: fine
    append(repo / EKS_A / "settings.env", "MODEL_RUNTIME=sklearn\n")
    assert found(repo).startswith(
        "eks: Application argocd/tenant-a: Deployment inference-service sets "
        "MODEL_RUNTIME=sklearn, but overlays/eks/tenants/tenant-a/models.yaml says "
        "pickleFree: true; the service refuses to start"
    )
    # The same runtime on a tenant that is not pickle-free is its own choice.
    append(repo / KIND_A / "settings.env", "MODEL_RUNTIME=sklearn\n")
    assert "overlays/kind" not in found(repo)


def choose_the_slim_image(repo: Path, tenant: Path) -> None:
    """The tenant lists the slim-image component and pins the slim image, as
    overlays/<cluster>/components/slim-image says."""
    kustomization = repo / tenant / "kustomization.yaml"
    pinned = "ghcr.io/example-org/ml-inference-platform/inference-service-slim"
    kustomization.write_text(
        kustomization.read_text().replace(
            "images:\n",
            "components:\n  - ../../components/slim-image\nimages:\n"
            f"  - name: inference-service-slim\n    newName: {pinned}\n    newTag: {'a' * 40}\n",
            1,
        )
    )


def test_the_slim_image_on_a_tenant_that_is_not_pickle_free(repo: Path) -> None:
    choose_the_slim_image(repo, KIND_A)
    assert found(repo).startswith(
        "kind: Application argocd/tenant-a: Deployment inference-service runs "
        "ghcr.io/example-org/ml-inference-platform/inference-service-slim:" + "a" * 40 + ", "
        "the slim ONNX-only image, but overlays/kind/tenants/tenant-a/models.yaml does not say "
        "pickleFree: true"
    )
    declared = (repo / KIND_A / "models.yaml").read_text()
    (repo / KIND_A / "models.yaml").write_text(
        declared.replace("kind: TenantModels\n", "kind: TenantModels\npickleFree: true\n")
    )
    assert found(repo) == ""  # pickle-free: the slim image is its choice


def test_a_pickle_free_kind_tenant_on_the_slim_image_passes_what_reads_it(repo: Path) -> None:
    """The slim image where it may run: the bootstrap simulation loads it (building it with
    its build arguments when unpublished), the first sync ends healthy, its probes and pins
    hold."""
    declared = (repo / KIND_A / "models.yaml").read_text()
    (repo / KIND_A / "models.yaml").write_text(
        declared.replace("kind: TenantModels\n", "kind: TenantModels\npickleFree: true\n")
    )
    choose_the_slim_image(repo, KIND_A)
    checks = [CHECK, "images", "probes", "capacity", "bootstraps", "first-sync"]
    report = validate_repo(repo, checks)
    assert all(problems(report, check) == "" for check in checks), [
        problems(report, check) for check in checks
    ]
    rendered = render(repo / KIND_A)
    images = {
        c["image"]
        for o in rendered
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
    }
    assert images == {
        f"ghcr.io/example-org/ml-inference-platform/inference-service-slim:{'a' * 40}"
    }


def test_a_dedicated_entry_no_deployment_serves(repo: Path) -> None:
    append(
        repo / KIND_A / "models.yaml",
        "  - name: tenant-a-fraud\n    alias: staging\n    deployment: dedicated\n",
    )
    assert found(repo) == (
        "kind: Application argocd/tenant-a: tenant-a-fraud is declared deployment: dedicated, "
        "but no Deployment serves it (MODEL_DEPLOYMENT=tenant-a-fraud) (expected: "
        f"{KIND_A}/dedicated/tenant-a-fraud listed in the tenant's kustomization.yaml (make "
        "model ... DEDICATED=1 writes both))"
    )


def test_a_dedicated_deployment_of_a_shared_entry(dedicated: Path) -> None:
    path = dedicated / KIND_A / "models.yaml"
    path.write_text(path.read_text().replace("    deployment: dedicated\n", ""))
    text = found(dedicated)
    assert (
        f"kind: Application argocd/tenant-a: Deployment {CHURN} serves nothing the service "
        "accepts: MODEL_DEPLOYMENT: got 'tenant-a-fraud', expected 'shared' or the name of a "
        "model declared with deployment: dedicated (none)"
    ) in text


def test_a_shared_deployment_left_with_nothing_to_serve(dedicated: Path) -> None:
    path = dedicated / KIND_A / "models.yaml"
    path.write_text(
        re.sub(
            r"(?m)^(    resources: small.*)$", r"\1\n    deployment: dedicated", path.read_text()
        )
    )
    assert (
        "kind: Application argocd/tenant-a: the shared Deployment inference-service serves no "
        "model: every model of the tenant is dedicated"
    ) in found(dedicated)


# --- isolation -----------------------------------------------------------------------------


def test_a_dedicated_model_with_the_shared_pod_labels(dedicated: Path) -> None:
    """Without its own app.kubernetes.io/name, everything of the shared Deployment reaches
    the dedicated pods, and the other way round."""
    folder = dedicated / KIND_A / "dedicated/tenant-a-fraud"

    def shared_labels(docs: list[dict[str, Any]]) -> None:
        del docs[0]["labels"]
        docs[0]["patches"] = [p for p in docs[0]["patches"] if "ServiceMonitor" not in str(p)]

    edit_yaml(folder / "kustomization.yaml", shared_labels)
    text = found(dedicated)
    both = f"inference-service, {CHURN}"
    for expected in (
        f"Service inference-service selects the pods of 2 inference Deployments ({both})",
        f"PodDisruptionBudget {CHURN} covers the pods of 2 inference Deployments ({both})",
        f"Deployment inference-service's selector also matches the pods of {CHURN}: its HPA "
        "scales on their CPU too",
        f"the pods of Deployment {CHURN} are scraped by 2 ServiceMonitors ({both})",
    ):
        assert f"kind: Application argocd/tenant-a: {expected}" in text


def test_a_dedicated_model_no_servicemonitor_reaches(dedicated: Path) -> None:
    def no_selector_patch(docs: list[dict[str, Any]]) -> None:
        docs[0]["patches"] = [p for p in docs[0]["patches"] if "ServiceMonitor" not in str(p)]

    edit_yaml(dedicated / EKS_A / "dedicated/tenant-a-fraud/kustomization.yaml", no_selector_patch)
    text = found(dedicated)
    assert (
        f"eks: Application argocd/tenant-a: the pods of Deployment {CHURN} are scraped by no "
        "ServiceMonitor: their metrics never reach Prometheus"
    ) in text
    assert (
        "eks: Application argocd/tenant-a: the pods of Deployment inference-service are scraped "
        f"by 2 ServiceMonitors (inference-service, {CHURN}): every series is counted twice"
    ) in text


def test_network_policies_that_select_the_shared_pods_only(dedicated: Path) -> None:
    path = dedicated / "base/tenant/networkpolicy-allow-mlflow-egress.yaml"
    path.write_text(
        path.read_text().replace(
            "app.kubernetes.io/part-of: ml-inference-platform",
            "app.kubernetes.io/name: inference-service",
        )
    )
    assert (
        f"kind: Application argocd/tenant-a: the tenant's NetworkPolicies treat the pods of "
        f"Deployment {CHURN} unlike the shared Deployment inference-service's: not selected by "
        "allow-mlflow-egress"
    ) in found(dedicated)
    # ... which is what the reachability check sees: the dedicated pods never reach MLflow.
    assert (
        f"kind: tenant-a/{CHURN} -> mlflow/mlflow:5000/TCP is not allowed: denied by egress"
    ) in found(dedicated, "reachability")


def test_names_past_kubernetes_limits(dedicated: Path) -> None:
    long = "x" * 50
    folder = dedicated / KIND_A / "dedicated/tenant-a-fraud"
    path = folder / "kustomization.yaml"
    path.write_text(
        path.read_text()
        .replace("nameSuffix: -fraud", f"nameSuffix: -{long}")
        .replace(f"value: {CHURN}", f"value: inference-service-{long}")
        .replace(
            f"app.kubernetes.io/name: {CHURN}", f"app.kubernetes.io/name: inference-service-{long}"
        )
    )
    text = found(dedicated)
    assert (
        f"Service name 'inference-service-{long}' (68 characters) is not an RFC 1035 label"
    ) in text
    assert (
        f"Deployment inference-service-{long}: pod label app.kubernetes.io/name="
        f"'inference-service-{long}' is not a valid label value"
    ) in text


def test_an_eks_dedicated_model_behind_the_shared_catch_all(dedicated: Path) -> None:
    def same_order(docs: list[dict[str, Any]]) -> None:
        for patch in docs[0]["patches"]:
            patch["patch"] = patch["patch"].replace('value: "-1"', 'value: "0"')

    edit_yaml(dedicated / EKS_A / "dedicated/tenant-a-fraud/kustomization.yaml", same_order)
    text = found(dedicated)
    assert (
        "eks: Application argocd/tenant-a: Ingress inference-service's path / is evaluated "
        f"before {CHURN}'s /models/tenant-a-fraud (group.order, then namespace/name): requests "
        f"for tenant-a-fraud never reach Deployment {CHURN}"
    ) in text


def test_an_eks_dedicated_model_without_its_paths(dedicated: Path) -> None:
    def no_ingress_patch(docs: list[dict[str, Any]]) -> None:
        docs[0]["patches"] = [p for p in docs[0]["patches"] if "Ingress" not in str(p)]

    edit_yaml(dedicated / EKS_A / "dedicated/tenant-a-fraud/kustomization.yaml", no_ingress_patch)
    assert (
        "eks: Application argocd/tenant-a: no Ingress sends /models/tenant-a-fraud to the Service "
        f"of Deployment {CHURN}: requests for the dedicated model reach the shared Deployment, "
        "which does not serve it"
    ) in found(dedicated)


def test_the_shared_deployment_s_selector_never_changes(repo: Path) -> None:
    """Labels the base adds with includeSelectors reach spec.selector, which a running
    cluster's Deployment cannot change."""

    def into_selectors(docs: list[dict[str, Any]]) -> None:
        docs[0]["labels"][0]["includeSelectors"] = True

    edit_yaml(repo / "base/inference/kustomization.yaml", into_selectors)
    assert (
        "kind: Application argocd/tenant-a: the shared Deployment inference-service's selector is "
        "{'matchLabels': {'app.kubernetes.io/name': 'inference-service', "
        "'app.kubernetes.io/part-of': 'ml-inference-platform'}}, not {'matchLabels': "
        "{'app.kubernetes.io/name': 'inference-service'}}: a Deployment's selector cannot be "
        "changed once created, so Argo CD's sync of every running cluster is refused (field is "
        "immutable)"
    ) in found(repo)

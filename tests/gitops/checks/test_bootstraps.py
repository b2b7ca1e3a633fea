"""The `bootstraps` check: the real bootstrap scripts pass under the stand-ins, and each
planted fault (one edit to a copy of a script, in a copy of the repository) is reported with
the script, the call and what was expected."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gitops import paths
from gitops.checks.bootstraps import CHECK, check_scripts, needed_secrets
from gitops.simulation.bootstrap.run import copy_tree, initial_state, run_script
from gitops.simulation.bootstrap.scenarios import (
    E2E,
    E2E_ENV,
    KIND_BOOTSTRAP,
    SCENARIOS,
    Scenario,
    default_factory,
    inventory_answers,
    operator_kind_default,
    run_scenarios,
)
from gitops.tree import inventory
from gitops.tree.app_tree import ClusterTree
from gitops.validate import Report, validate_repo
from tests.gitops.tree_copies import copy_real_tree, problems

ROOT = paths.REPO_ROOT
KIND_RUN = next(s for s in SCENARIOS if s.script == KIND_BOOTSTRAP)
E2E_PASSING = next(s for s in SCENARIOS if s.script == E2E and not s.fail)
E2E_FAILING = next(s for s in SCENARIOS if s.script == E2E and s.fail)
EKS_RUN = next(s for s in SCENARIOS if s.cluster == "eks")


@pytest.fixture(scope="module")
def trees() -> dict[str, ClusterTree]:
    return {cluster: inventory.cluster_tree(ROOT, cluster) for cluster in paths.CLUSTERS}


@pytest.fixture(scope="module")
def answers(trees: dict[str, ClusterTree]) -> dict[str, str]:
    return inventory_answers(ROOT, trees.values())


@pytest.fixture(scope="module")
def real_report() -> Report:
    return validate_repo(ROOT, [CHECK])


def planted(
    tmp_path: Path,
    trees: dict[str, ClusterTree],
    answers: dict[str, str],
    script: str,
    edits: list[tuple[str, str]],
    scenarios: list[Scenario],
) -> str:
    """Findings (one per line) of the check on a copy of the repository whose `script` has
    each `old` replaced by `new` (each must occur once: the edit fits the script as it is)."""
    repo = tmp_path / "repo"
    copy_tree(ROOT, repo)
    path = repo / script
    text = path.read_text(encoding="utf-8")
    for old, new in edits:
        assert text.count(old) == 1, f"{script} no longer holds exactly one {old!r}"
        text = text.replace(old, new)
    path.write_text(text, encoding="utf-8")
    found = check_scripts(repo, trees["kind"], dict(answers), scenarios)
    return "\n".join(map(str, found))


def finding_with(found: str, *parts: str) -> str:
    """The finding (one line of `found`) that holds every part."""
    lines = [line for line in found.splitlines() if all(part in line for part in parts)]
    assert lines, f"no finding with all of {parts}; the findings:\n{found}"
    return lines[0]


# --- the real scripts ---------------------------------------------------------------------


def test_real_scripts_pass(real_report: Report) -> None:
    found = real_report.by_check(CHECK)
    assert not found, "\n".join(map(str, found))


def test_the_tree_needs_the_secrets_the_bootstrap_creates(trees: dict[str, ClusterTree]) -> None:
    needed = {(s.namespace, s.name): s.keys for s in needed_secrets(trees["kind"])}
    assert needed[("mlflow", "mlflow-auth")] == {"admin-password", "flask-secret-key"}
    assert needed[("minio", "minio-credentials")] == {"access-key", "secret-key"}
    for tenant in ("tenant-a", "tenant-b"):
        assert needed[(tenant, "mlflow-credentials")] == {"username", "password"}


def test_inventory_runs_for_real_and_agrees_with_the_answers_from_the_tree(
    answers: dict[str, str],
) -> None:
    # No answers given: the stand-in python runs `python -m gitops inventory` itself.
    computed: dict[str, str] = {}
    recording = run_script(
        KIND_BOOTSTRAP,
        {},
        ROOT,
        inventory=computed,
        edit=operator_kind_default,
        simulation=default_factory(ROOT),
    )
    assert recording.returncode == 0, recording.stderr[-2000:]
    assert computed, "the bootstrap asked the inventory nothing"
    for key, printed in computed.items():
        assert printed == answers[key], key


def test_the_stand_ins_record_the_whole_e2e() -> None:
    recording = run_script(E2E, E2E_ENV, ROOT, simulation=default_factory(ROOT))
    assert recording.returncode == 0, recording.stderr[-2000:]
    programs = {c.program for c in recording.calls}
    assert {"kind", "docker", "kubectl", "python"} <= programs
    scripts = {c.script for c in recording.calls}
    assert scripts == {E2E, KIND_BOOTSTRAP}
    promoted = [c.effect["promoted"] for c in recording.calls if "promoted" in c.effect]
    assert [p["version"] for p in promoted] == ["2", "2"]
    assert recording.state["clusters"] == []  # deleted by the EXIT trap


def test_keep_cluster_keeps_it(trees: dict[str, ClusterTree], answers: dict[str, str]) -> None:
    keep = Scenario("e2e with KEEP_CLUSTER=1", E2E, {**E2E_ENV, "KEEP_CLUSTER": "1"})
    assert check_scripts(ROOT, trees["kind"], dict(answers), [keep]) == []


# --- planted faults -----------------------------------------------------------------------


def test_e2e_without_exporting_cluster_name(tmp_path, trees, answers) -> None:
    # The historical bug: bootstrap.sh does not see e2e's name and creates ml-platform, while
    # e2e.sh goes on with kind-ml-inference-e2e and deletes (nothing) under that name.
    found = planted(
        tmp_path,
        trees,
        answers,
        E2E,
        [("export CLUSTER_NAME=", "CLUSTER_NAME=")],
        [E2E_PASSING],
    )
    finding_with(
        found,
        "clusters/kind/e2e.sh: call #",
        "kubectl --context kind-ml-inference-e2e get applications -n argocd -o json",
        "kubectl call names context kind-ml-inference-e2e, but the cluster the run created "
        "is ml-platform (two cluster names in one run)",
        "(expected: one cluster name and one context throughout: --context kind-ml-platform)",
    )
    finding_with(
        found, "clusters/kind/e2e.sh: e2e: Kind cluster ml-platform is still there after e2e.sh"
    )


def test_bootstrap_waiting_for_tenants_before_seeding(tmp_path, trees, answers) -> None:
    # The steps both bootstraps share: the tenants' wait moved before the users and seeding.
    platform = '  wait_for_applications platform "$1" "${platform_apps[@]}"\n'
    wait = '  wait_for_applications tenant "$TENANT_TIMEOUT" "${TENANT_APPS[@]}"\n'
    found = planted(
        tmp_path,
        trees,
        answers,
        "clusters/platform-steps.sh",
        [(platform, platform + wait)],
        [KIND_RUN],
    )
    finding_with(
        found,
        "clusters/kind/bootstrap.sh: call #",
        "-n argocd get application tenant-a",
        "waits for the tenant Applications tenant-a, tenant-b and never seeds the models: "
        "a tenant's pods are ready only once its model loads, so this wait cannot end",
        "(expected: platform Applications Synced/Healthy, then `python -m training seed`",
    )
    finding_with(found, "the tenant Applications are not Synced/Healthy after 0s")  # timed out


SAVE = 'docker image save --platform "$NODE_PLATFORM" -o "$archive" "${refs[@]}"\n'
LOAD = 'kind load image-archive "$archive" --name "$CLUSTER_NAME"\n'


def test_bootstrap_without_kind_load(tmp_path, trees, answers) -> None:
    found = planted(tmp_path, trees, answers, KIND_BOOTSTRAP, [(LOAD, "")], [KIND_RUN])
    for image in ("inference-service", "mlflow-server"):
        finding_with(
            found,
            f"clusters/kind/bootstrap.sh: image ghcr.io/example-org/ml-inference-platform/{image}:",
            "is never loaded into Kind cluster ml-platform",
            "(expected: docker image save --platform <the nodes' os/arch> -o FILE "
            f"ghcr.io/example-org/ml-inference-platform/{image}:",
            "then kind load image-archive FILE --name ml-platform, before the root Application "
            "is applied (kubernetes-sigs/kind#3795))",
        )


def test_bootstrap_back_on_kind_load_docker_image(tmp_path, trees, answers) -> None:
    # What the bootstrap did before: fails with Docker's containerd image store for a pulled
    # multi-platform image, which the stand-ins model for every image.
    back = 'kind load docker-image "${refs[@]}" --name "$CLUSTER_NAME"\n'
    found = planted(
        tmp_path, trees, answers, KIND_BOOTSTRAP, [(SAVE, ""), (LOAD, back)], [KIND_RUN]
    )
    finding_with(
        found,
        "clusters/kind/bootstrap.sh: call #",
        "`kind load docker-image ghcr.io/example-org/ml-inference-platform/inference-service:",
        "loading images into Kind cluster ml-platform failed: ERROR: failed to load image: "
        "ctr: content digest sha256:...: not found (standin kind: `kind load docker-image` is "
        "refused; kubernetes-sigs/kind#3795",
    )
    finding_with(found, "kind bootstrap: exited 1 under the stand-ins")


@pytest.mark.parametrize(
    ("platform", "failing", "problem"),
    [
        # Every platform's manifest in the archive's index, one platform's content: #3795.
        ("", "kind load image-archive", "was saved without --platform; kubernetes-sigs/kind#3795"),
        # Not the engine's platform: neither image store has those images to save.
        (
            "--platform linux/arm64 ",
            "docker image save",
            "no suitable export target found for platform linux/arm64",
        ),
    ],
)
def test_bootstrap_saving_another_platform(
    tmp_path, trees, answers, platform: str, failing: str, problem: str
) -> None:
    saved = SAVE.replace('--platform "$NODE_PLATFORM" ', platform)
    found = planted(tmp_path, trees, answers, KIND_BOOTSTRAP, [(SAVE, saved)], [KIND_RUN])
    finding_with(found, "kind bootstrap: exited 1 under the stand-ins", problem)
    if failing.startswith("kind"):
        finding_with(found, f"`{failing} /", "loading images into Kind cluster ml-platform failed")


def test_bootstrap_leaving_the_image_archive(tmp_path, trees, answers) -> None:
    found = planted(
        tmp_path,
        trees,
        answers,
        KIND_BOOTSTRAP,
        [
            ('  [[ -n "$IMAGE_ARCHIVE_DIR" ]] && rm -rf "$IMAGE_ARCHIVE_DIR"\n', ""),
            ('  rm -rf "$IMAGE_ARCHIVE_DIR"\n', ""),
        ],
        [KIND_RUN],
    )
    finding_with(
        found,
        "clusters/kind/bootstrap.sh: call #",
        "`docker image save --platform linux/amd64 -o /",
        "the image archive images.tar is still on disk after the script ended",
    )


def test_the_archive_is_of_the_engine_platform() -> None:
    # On an arm64 engine (Apple silicon, Graviton) the nodes are arm64: the archive follows.
    state = initial_state()
    state["docker"]["arch"] = "arm64"
    recording = run_script(
        KIND_BOOTSTRAP,
        {},
        ROOT,
        state=state,
        edit=operator_kind_default,
        simulation=default_factory(ROOT),
    )
    assert recording.returncode == 0, recording.stderr[-2000:]
    saved = [c.effect["saved"] for c in recording.of("docker") if "saved" in c.effect]
    assert [s["platform"] for s in saved] == ["linux/arm64"]
    loaded = [c.effect["loaded"] for c in recording.of("kind") if "loaded" in c.effect]
    assert sorted(loaded[0]["images"]) == sorted(saved[0]["images"])
    assert len(saved[0]["images"]) >= 2


@pytest.mark.parametrize(("client_api", "server_api"), [("1.47", "1.48"), ("1.51", "1.47")])
def test_bootstrap_refuses_a_docker_before_28(client_api: str, server_api: str) -> None:
    # Docker 27 (API 1.47) on either end: stop before creating a cluster or building anything.
    state = initial_state()
    state["docker"].update(client_api=client_api, server_api=server_api)
    recording = run_script(
        KIND_BOOTSTRAP,
        {},
        ROOT,
        state=state,
        edit=operator_kind_default,
        simulation=default_factory(ROOT),
    )
    assert recording.returncode == 1
    assert (
        "bootstrap: Docker 28.0 or newer is needed, client and engine (API 1.48, for docker "
        f"image save --platform); found client API {client_api}, engine API {server_api}"
    ) in recording.stderr
    assert [c.program for c in recording.calls] == ["docker"]


def test_e2e_without_its_cleanup_trap(tmp_path, trees, answers) -> None:
    found = planted(
        tmp_path, trees, answers, E2E, [("  trap cleanup EXIT\n", "")], [E2E_PASSING, E2E_FAILING]
    )
    finding_with(
        found, "clusters/kind/e2e.sh: e2e: Kind cluster ml-inference-e2e is still there after e2e"
    )
    finding_with(
        found,
        "clusters/kind/e2e.sh: e2e with the tenant check failing: Kind cluster ml-inference-e2e "
        "is still there after e2e.sh exited 1 (expected: the EXIT trap deletes the cluster the "
        "run used, failed or passed",
    )


def test_kubectl_call_without_context(tmp_path, trees, answers) -> None:
    apply = '"${KUBECTL[@]}" apply -k "$REPO_ROOT/clusters/kind"'
    found = planted(
        tmp_path,
        trees,
        answers,
        KIND_BOOTSTRAP,
        [(apply, 'kubectl apply -k "$REPO_ROOT/clusters/kind"')],
        [KIND_RUN],
    )
    finding_with(
        found,
        "clusters/kind/bootstrap.sh: call #",
        "`kubectl apply -k /",
        "kubectl call without --context: it acts on whatever context is current "
        "(expected: --context kind-ml-platform, the context of the cluster the run created)",
    )


def test_secret_created_after_the_root_application(tmp_path, trees, answers) -> None:
    # The tenants' Secrets moved after the root Application: their pods start without them.
    loop = (
        'for tenant in $(inventory --tenants); do\n  ensure_namespace "$tenant"\n'
        '  ensure_secret "$tenant" mlflow-credentials \\\n'
        '    --from-literal=username="$tenant" \\\n'
        '    --from-literal=password="$(random_secret)"\n'
        '  ensure_secret "$tenant" mlflow-trainer-credentials \\\n'
        '    --from-literal=username="$tenant-trainer" \\\n'
        '    --from-literal=password="$(random_secret)"\ndone\n'
    )
    platform = 'platform_then_first_models "$PLATFORM_TIMEOUT"\n'
    found = planted(
        tmp_path,
        trees,
        answers,
        KIND_BOOTSTRAP,
        [(loop, ""), (platform, loop + platform)],
        [KIND_RUN],
    )
    finding_with(
        found,
        "clusters/kind/bootstrap.sh: call #",
        "create secret generic mlflow-credentials",
        "Secret tenant-a/mlflow-credentials (needed by Deployment tenant-a/inference-service) "
        "is created only after the root Application was applied",
    )


STEPS = "clusters/platform-steps.sh"
WRITER_USER = '    ensure_registry_user "$tenant-trainer" "$tenant" mlflow-trainer-credentials\n'
WRITER_SECRET = (
    '  ensure_secret "$tenant" mlflow-trainer-credentials \\\n'
    '    --from-literal=username="$tenant-trainer" \\\n'
    '    --from-literal=password="$(random_secret)"\n'
)
PROVISION = '    grant_declared_models "$tenant"\n'


def test_the_real_runs_provision_every_tenant_and_register_the_team_model(
    trees: dict[str, ClusterTree], answers: dict[str, str]
) -> None:
    """The writer users, provision-tenant per tenant, and tenant-a-churn registered on Kind by
    its example as tenant-a-trainer, after the catalog's seeding."""
    runs = run_scenarios(
        ROOT,
        dict(answers),
        scenarios=[KIND_RUN, EKS_RUN],
        simulation=default_factory(ROOT, trees["kind"]),
    )
    for run in runs:
        calls = run.recording.calls
        assert run.recording.returncode == 0, run.recording.stderr_tail()
        users = [c.argv[-1] for c in calls if c.argv[2:3] == ("ensure-user",)]
        provisioned = [
            c.effect["provisioned"]["tenant"] for c in calls if c.effect.get("provisioned")
        ]
        assert {"tenant-a-trainer", "tenant-b-trainer"} <= set(users)
        assert provisioned == ["tenant-a", "tenant-b"]
        seed = next(c for c in calls if c.effect.get("seeded"))
        examples = [c for c in calls if c.argv[2:3] == ("seed-examples",)]
        assert [c.env["MLFLOW_TRACKING_USERNAME"] for c in examples] == [
            "tenant-a-trainer",
            "tenant-b-trainer",
        ]
        assert all(c.seq > seed.seq for c in examples)
    kind_examples = next(c for c in runs[0].recording.calls if c.effect.get("seeded_examples"))
    assert kind_examples.effect["seeded_examples"] == {
        "tenant-a-churn": "tenant-a-churn@staging = version 1"
    }


def test_bootstrap_without_the_tenant_writer_user(tmp_path, trees, answers) -> None:
    """The writer user is no longer created: provision-tenant is refused (a grant for a user
    MLflow does not know), and the check names the user."""
    found = planted(tmp_path, trees, answers, STEPS, [(WRITER_USER, "")], [KIND_RUN, EKS_RUN])
    for label in ("kind bootstrap", "eks bootstrap"):
        finding_with(
            found,
            f"{label}: exited 2 under the stand-ins",
            "registry user 'tenant-a-trainer' does not exist",
        )


def test_kind_bootstrap_without_the_writer_secret(tmp_path, trees, answers) -> None:
    """The Kind bootstrap no longer creates <tenant>/mlflow-trainer-credentials: the step that
    reads it stops, naming the Secret."""
    found = planted(tmp_path, trees, answers, KIND_BOOTSTRAP, [(WRITER_SECRET, "")], [KIND_RUN])
    finding_with(
        found,
        "kind bootstrap: exited 1 under the stand-ins",
        "Secret tenant-a/mlflow-trainer-credentials (key password) is missing or empty",
    )


def test_bootstrap_without_provisioning_the_tenants(tmp_path, trees, answers) -> None:
    """provision-tenant no longer runs: on Kind the churn team's writer may not register its
    model (403); on EKS, where every declared model is the catalog's, the run still ends well
    and the check names what is missing."""
    found = planted(tmp_path, trees, answers, STEPS, [(PROVISION, "")], [KIND_RUN, EKS_RUN])
    finding_with(
        found,
        "kind bootstrap: exited 1 under the stand-ins",
        "user 'tenant-a-trainer' may not write tenant-a-churn",
    )
    finding_with(
        found,
        "eks bootstrap: never provisions tenant-a's registry access",
        "provision-tenant --models overlays/eks/tenants/tenant-a/models.yaml",
    )


def test_eks_bootstrap_running_kind_and_switching_context(tmp_path, trees, answers) -> None:
    install = 'log "installing Argo CD $ARGOCD_VERSION"\n'
    found = planted(
        tmp_path,
        trees,
        answers,
        "clusters/eks/bootstrap.sh",
        [(install, "kind get clusters\nkubectl config use-context kind-ml-platform\n" + install)],
        [EKS_RUN],
    )
    finding_with(
        found,
        "clusters/eks/bootstrap.sh: call #",
        "`kind get clusters`: runs kind while bootstrapping EKS",
    )
    finding_with(
        found,
        "clusters/eks/bootstrap.sh: call #",
        "`kubectl config use-context kind-ml-platform`: switches the kubectl context",
    )


def test_a_call_the_stand_ins_do_not_model_fails_loudly(tmp_path, trees, answers) -> None:
    install = 'log "installing Argo CD $ARGOCD_VERSION"\n'
    found = planted(
        tmp_path,
        trees,
        answers,
        KIND_BOOTSTRAP,
        [(install, '"${KUBECTL[@]}" get nodes\n' + install)],
        [KIND_RUN],
    )
    finding_with(
        found,
        "clusters/kind/bootstrap.sh: call #",
        "kubectl --context kind-ml-platform get nodes`: a call the stand-ins do not model",
    )
    finding_with(found, "kind bootstrap: exited 1 under the stand-ins")


def test_the_runner_runs_a_script_from_the_command_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gitops.simulation.bootstrap", "clusters/eks/bootstrap.sh"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    # The repository's example settings.env: the EKS bootstrap stops before any call.
    assert re.fullmatch(r"exit \d+ in [\d.]+s, left: \[\]", result.stdout.splitlines()[-1])


def test_a_failing_inventory_is_reported(tmp_path, trees, answers) -> None:
    # The image workflow is gone, so `inventory --images-built` fails for real. (The Kind
    # bootstrap currently carries on without loading any image; see the report.)
    repo = tmp_path / "repo"
    copy_tree(ROOT, repo)
    (repo / ".github/workflows/image.yaml").unlink()
    partial = {k: v for k, v in answers.items() if not k.endswith("--images-built")}
    found = "\n".join(map(str, check_scripts(repo, trees["kind"], partial, [KIND_RUN])))
    finding_with(
        found,
        "clusters/kind/bootstrap.sh: call #",
        "`python -m gitops inventory --cluster kind --images-built`",
        "python -m gitops inventory failed: FileNotFoundError",
    )


def test_the_slim_image_built_without_its_build_arguments(tmp_path: Path) -> None:
    """A pickle-free Kind tenant on the slim image (unpublished, so the bootstrap builds it);
    planted: build_image drops the matrix entry's build arguments."""
    repo = copy_real_tree(tmp_path / "repo")
    tenant = repo / "overlays/kind/tenants/tenant-a"
    declared = (tenant / "models.yaml").read_text(encoding="utf-8")
    (tenant / "models.yaml").write_text(
        declared.replace("kind: TenantModels\n", "kind: TenantModels\npickleFree: true\n")
    )
    slim = f"ghcr.io/example-org/ml-inference-platform/inference-service-slim:{'a' * 40}"
    text = (tenant / "kustomization.yaml").read_text(encoding="utf-8")
    (tenant / "kustomization.yaml").write_text(
        text.replace(
            "images:\n",
            "components:\n  - ../../components/slim-image\nimages:\n"
            f"  - name: inference-service-slim\n    newName: {slim.split(':')[0]}\n"
            f"    newTag: {'a' * 40}\n",
            1,
        )
    )
    assert problems(validate_repo(repo, [CHECK]), CHECK) == ""

    script = repo / KIND_BOOTSTRAP
    arguments = 'for arg in "${@:3}"; do args+=(--build-arg "$arg"); done\n'
    assert arguments in script.read_text(encoding="utf-8")
    script.write_text(script.read_text(encoding="utf-8").replace(arguments, ""))
    found = problems(validate_repo(repo, [CHECK]), CHECK)
    finding_with(
        found,
        f"image {slim} is built without REQUIREMENTS=requirements-slim.txt, PICKLE_FREE=true, "
        "which CI builds it with",
        "(expected: docker build --build-arg NAME=value for each build argument",
    )

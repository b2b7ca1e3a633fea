"""`bootstraps`: the cluster bootstrap scripts, run offline under recording stand-ins, make
their calls in an order that works, on one cluster.

The stand-ins (standins/, run by bootstrap_run.py) are mocks of what cannot run
here: Kind, kubectl against a cluster, Docker builds and pulls, Argo CD, MLflow in the
cluster. They answer like the real programs would, and model Argo CD the way the tree needs
it: once the root Application is applied the platform Applications are Healthy, a tenant's
only once every model it declares is seeded or registered, its registry user has its
Secret's password and READ on each model. GitHub's
e2e workflow (.github/workflows/e2e-kind.yaml) runs the real scripts on a real Kind cluster;
this check catches ordering and naming mistakes in seconds, on every `make validate`.

Runs (in parallel, each in a copy of the repository, every wait with a timeout of 0 because
the stand-ins answer at once, see bootstrap_run.FAST_WAITS):
- clusters/kind/bootstrap.sh as a person runs it (defaults);
- clusters/kind/e2e.sh passing, and again with the tenant check failing (a tenant's service
  answers /predict from another model version than the one promoted);
- clusters/eks/bootstrap.sh, with kubectl pointing at an EKS cluster.

What the recorded calls must show, on Kind:
1. one cluster and one context: `kind create cluster` once; every kind call names that
   cluster (--name) and every kubectl call names its context (--context kind-<cluster>);
2. every image of the Kind tree that CI builds (gitops.tree.inventory) is loaded into that
   cluster before the root Application is applied, from an archive of the nodes' platform
   (`docker image save --platform P -o FILE`, then `kind load image-archive FILE`), and the
   archive is gone when the script ends. The stand-ins refuse `kind load docker-image` and an
   archive saved without --platform: with Docker's containerd image store both fail for a
   pulled multi-platform image (kubernetes-sigs/kind#3795);
3. the platform Applications are waited on (Synced/Healthy) before the models are seeded
   (`python -m training seed`), and the tenant Applications only after the seeding: a
   tenant's pods are ready only once its model loads, so a wait before it cannot end;
4. every Secret a pod of the Kind tree needs and no Application creates is created (with
   the keys the pods read) before the root Application is applied;
5. e2e.sh deletes its cluster when it ends, failed or passed (KEEP_CLUSTER=1 keeps it);
6. the script ends as expected (exit 0; the failing e2e run not 0), and makes no call the
   stand-ins do not model (a new call must be taught to standins/standin.py);
and on EKS: never kind or docker; kubectl on the current context, never switching it; Argo
CD installed and clusters/eks applied. On both, every tenant's registry access is set up:
its team's writer user `<tenant>-trainer` created (`ensure-user`) and `provision-tenant` run
with the tenant's models.yaml of that cluster (READ for the service, EDIT for the writer on
every declared model).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops.checks import Context, register
from gitops.simulation.bootstrap.run import Call, Recording
from gitops.simulation.bootstrap.scenarios import (
    E2E,
    INVENTORY,
    KIND_BOOTSTRAP,
    SCENARIOS,
    SEED,
    Scenario,
    ScenarioRun,
    default_factory,
    run_scenarios,
    shared_validation_runs,
)
from gitops.tree import inventory
from gitops.tree.app_tree import ClusterTree
from gitops.tree.findings import Finding, name_of, namespace_of, obj_ref
from gitops.tree.selectors import containers, pod_template
from gitops.tree.tenants import tenant_namespaces

CHECK = "bootstraps"
REGISTRY_ACCESS = ("-m", "training.registry_access")


@dataclass(frozen=True)
class NeededSecret:
    namespace: str
    name: str
    keys: frozenset[str]  # keys the pods read (envFrom/volumes: none in particular)
    users: tuple[str, ...]  # the workloads that need it


@dataclass(frozen=True)
class KindTree:
    """What the Kind tree says the bootstrap must provide."""

    images: tuple[str, ...]
    build_args: dict[str, tuple[str, ...]]  # image -> NAME=value CI builds it with
    platform_apps: tuple[str, ...]
    tenant_apps: tuple[str, ...]
    secrets: tuple[NeededSecret, ...]


@register(
    CHECK,
    "the bootstrap scripts, run under stand-ins, use one cluster in a working order",
    background=True,
)
def check(ctx: Context) -> Iterable[Finding]:
    runs, sample = shared_validation_runs(
        ctx.cache, ctx.root, ctx.trees, ctx.tenants, ctx.crds, ctx.settings
    )
    return check_runs(ctx.root, ctx.tree("kind"), runs, sample)


def check_scripts(
    root: Path,
    kind_tree: ClusterTree | None,
    answers: dict[str, str] | None = None,
    scenarios: Iterable[Scenario] = SCENARIOS,
    sample: dict[str, list[str]] | None = None,
) -> list[Finding]:
    """Run each scenario whose script exists and report what its calls get wrong (outside a
    validation run, e.g. in tests). `answers`: `python -m gitops inventory` answers for the
    stand-in python (else real); `sample`: the tenants per cluster the runs keep (the answers
    must agree)."""
    clusters = ("kind", "eks") if kind_tree is not None else ("eks",)
    runs = run_scenarios(
        root,
        answers,
        scenarios=scenarios,
        sample=sample,
        simulation=default_factory(root, kind_tree),
        clusters=clusters,
    )
    return check_runs(root, kind_tree, runs, sample)


def check_runs(
    root: Path,
    kind_tree: ClusterTree | None,
    runs: list[ScenarioRun],
    sample: dict[str, list[str]] | None = None,
) -> list[Finding]:
    """What the recorded calls of each run get wrong."""
    expected = kind_expectations(root, kind_tree, sample) if kind_tree else None
    findings: dict[tuple[str, str], Finding] = {}
    for run in runs:
        scenario, recording = run.scenario, run.recording
        found = list(_outcome(scenario, recording))
        tenants = (
            sample.get(scenario.cluster, [])
            if sample is not None
            else sorted(tenant_namespaces(root, scenario.cluster))
        )
        found += _tenant_access(scenario, recording, tenants)
        if scenario.cluster == "kind" and expected is not None:
            found += _kind(scenario, recording, expected)
        elif scenario.cluster == "eks":
            found += _eks(scenario, recording)
        for finding in found:
            findings.setdefault((finding.where, finding.problem), finding)
    return list(findings.values())


# --- what the tree needs ------------------------------------------------------------------


def kind_expectations(
    root: Path, tree: ClusterTree, sample: dict[str, list[str]] | None = None
) -> KindTree:
    built = inventory.built_images(root) if (root / inventory.IMAGE_WORKFLOW).is_file() else []
    kept = None if sample is None else set(sample.get(tree.cluster, []))

    def in_sample(name: str) -> bool:
        tenant = name.removesuffix("-kit")
        return kept is None or tenant not in tree_tenants or tenant in kept

    tree_tenants = {
        str((a.obj["metadata"].get("labels") or {}).get("ml-platform.example.com/tenant", ""))
        for a in tree.apps
    } - {""}
    return KindTree(
        images=tuple(ref for ref, _ in inventory.images_built_here(tree, built)),
        build_args={
            ref: next(b.build_args for b in built if b.name == inventory.image_name(ref))
            for ref, _ in inventory.images_built_here(tree, built)
        },
        platform_apps=tuple(a for a in inventory.applications(tree, "platform") if in_sample(a)),
        tenant_apps=tuple(
            a for a in inventory.applications(tree, inventory.TENANT_LAYER) if in_sample(a)
        ),
        secrets=tuple(
            s
            for s in needed_secrets(tree)
            if kept is None or s.namespace not in tree_tenants or s.namespace in kept
        ),
    )


def needed_secrets(tree: ClusterTree) -> list[NeededSecret]:
    """Secrets the tree's pods need to start (env, envFrom, volumes, imagePullSecrets; not
    the optional ones) that no Application of the tree creates (a Secret, a SealedSecret,
    an ExternalSecret's target)."""
    created = set()
    for obj in tree.all_objects():
        kind = obj.get("kind")
        if kind in ("Secret", "SealedSecret"):
            created.add((namespace_of(obj), name_of(obj)))
        elif kind == "ExternalSecret":
            target = ((obj.get("spec") or {}).get("target") or {}).get("name") or name_of(obj)
            created.add((namespace_of(obj), str(target)))
    needs: dict[tuple[str, str], tuple[set[str], list[str]]] = {}

    def need(namespace: str, name: str, key: str | None, user: str) -> None:
        if (namespace, name) in created or not name:
            return
        keys, users = needs.setdefault((namespace, name), (set(), []))
        if key:
            keys.add(key)
        if user not in users:
            users.append(user)

    for obj in tree.all_objects():
        template = pod_template(obj)
        if template is None:
            continue
        spec = template.get("spec") or {}
        namespace, user = namespace_of(obj), obj_ref(obj)
        for ref in spec.get("imagePullSecrets") or []:
            need(namespace, str(ref.get("name", "")), None, user)
        for volume in spec.get("volumes") or []:
            secret = volume.get("secret") or {}
            if secret and not secret.get("optional"):
                need(namespace, str(secret.get("secretName", "")), None, user)
            for source in (volume.get("projected") or {}).get("sources") or []:
                ref = source.get("secret") or {}
                if ref and not ref.get("optional"):
                    need(namespace, str(ref.get("name", "")), None, user)
        for container in containers(spec):
            for source in container.get("envFrom") or []:
                ref = source.get("secretRef") or {}
                if ref and not ref.get("optional"):
                    need(namespace, str(ref.get("name", "")), None, user)
            for variable in container.get("env") or []:
                ref = (variable.get("valueFrom") or {}).get("secretKeyRef") or {}
                if ref and not ref.get("optional"):
                    need(namespace, str(ref.get("name", "")), str(ref.get("key", "")), user)
    return [
        NeededSecret(namespace, name, frozenset(keys), tuple(users))
        for (namespace, name), (keys, users) in sorted(needs.items())
    ]


# --- what every run must show -------------------------------------------------------------


def _finding(where: str, obj: Any, problem: str, expected: str) -> Finding:
    return Finding(CHECK, where, str(obj) if obj else "", problem, expected)


def _ended_early(scenario: Scenario, recording: Recording) -> bool:
    """A run that failed where it should not: what it never reached is not reported."""
    return scenario.expect_success and recording.returncode != 0


def _outcome(scenario: Scenario, recording: Recording) -> Iterable[Finding]:
    how = "timed out" if recording.timed_out else f"exited {recording.returncode}"
    if scenario.expect_success and recording.returncode != 0:
        yield _finding(
            scenario.script,
            "",
            f"{scenario.label}: {how} under the stand-ins: {recording.stderr_tail()}",
            "exit 0: the stand-ins answer every call a correct run makes",
        )
    if not scenario.expect_success and recording.returncode == 0:
        yield _finding(
            scenario.script,
            "",
            f"{scenario.label}: exited 0 although the injected failure ({scenario.fail}) "
            "should fail it",
            "a failing exit status when a tenant answers from the wrong model version",
        )
    for call in recording.calls:
        if call.program == "python" and call.argv[:3] == INVENTORY and call.rc:
            carried_on = (
                f"; the script carried on and {how} (set -e sees no failure inside "
                "`< <(...)` or a for list's `$(...)`)"
                if recording.returncode == 0
                else ""
            )
            yield _finding(
                call.script or scenario.script,
                call,
                f"python -m gitops inventory failed: {call.error}{carried_on}",
                "a tree the inventory can read, and a script that stops when it cannot",
            )
        if "unmodelled" in call.effect:
            yield _finding(
                call.script or scenario.script,
                call,
                f"a call the stand-ins do not model ({call.effect['unmodelled']})",
                "calls the stand-ins answer; teach gitops/simulation/bootstrap/standins/standin.py "
                "a new one",
            )


def _grouped(calls: list[Call], where: str, problem: str, expected: str) -> Finding:
    """One finding for calls that share a problem: the first call, and how many there are."""
    count = f" ({len(calls)} calls like it)" if len(calls) > 1 else ""
    return _finding(calls[0].script or where, calls[0], problem + count, expected)


def _kind(scenario: Scenario, recording: Recording, tree: KindTree) -> list[Finding]:
    calls = recording.calls
    created = [c for c in recording.of("kind") if c.effect.get("cluster_created")]
    if not created:
        if not _ended_early(scenario, recording) or recording.of("kubectl"):
            return [
                _finding(
                    scenario.script,
                    "",
                    f"{scenario.label}: never creates a Kind cluster",
                    "kind create cluster --name CLUSTER_NAME",
                )
            ]
        return []
    cluster = str(created[0].effect["cluster_created"])
    findings = _one_cluster(scenario, recording, cluster, created)
    root = next((c for c in calls if c.program == "kubectl" and c.effect.get("root")), None)
    if root is None and not _ended_early(scenario, recording):
        findings.append(
            _finding(
                scenario.script,
                "",
                "never applies the root Application",
                "kubectl --context kind-CLUSTER apply -k clusters/kind",
            )
        )
    findings += _images(scenario, recording, tree, cluster, root)
    findings += _waits(scenario, recording, tree)
    findings += _secrets(scenario, recording, tree, root)
    if scenario.script == E2E:
        findings += _cleanup(scenario, recording)
    return findings


def _one_cluster(
    scenario: Scenario, recording: Recording, cluster: str, created: list[Call]
) -> list[Finding]:
    findings = [
        _finding(
            call.script or scenario.script,
            call,
            f"creates a second Kind cluster, {call.effect['cluster_created']}, after "
            f"{cluster} ({created[0]})",
            f"one cluster per run: every step on {cluster}",
        )
        for call in created[1:]
    ]
    context = f"kind-{cluster}"
    wrong: dict[tuple[str, str, str], list[Call]] = {}
    for call in recording.calls:
        if call.program == "kind" and call.argv[:1] != ("get",):
            name = _option(call.argv, "--name")
            if name != cluster:
                wrong.setdefault((call.script, "kind-name", name or ""), []).append(call)
        elif call.program == "kubectl" and call.argv[:1] != ("kustomize",):
            named = _option(call.argv, "--context")
            if named != context:
                wrong.setdefault((call.script, "context", named or ""), []).append(call)
    for (script, what, value), offending in wrong.items():
        where = script or scenario.script
        if what == "kind-name" and not value:
            problem = "kind call without --name: it acts on kind's default cluster `kind`"
            expected = f"--name {cluster}, the cluster this run created"
        elif what == "kind-name":
            problem = f"kind call names cluster {value}, not {cluster}, the cluster the run created"
            expected = f"one cluster name throughout: --name {cluster}"
        elif not value:
            problem = "kubectl call without --context: it acts on whatever context is current"
            expected = f"--context {context}, the context of the cluster the run created"
        else:
            problem = (
                f"kubectl call names context {value}, but the cluster the run created is "
                f"{cluster} (two cluster names in one run)"
            )
            expected = f"one cluster name and one context throughout: --context {context}"
            other = value.removeprefix("kind-")
            if created[0].env.get("CLUSTER_NAME") != other:
                problem += (
                    f"; {created[0].script or 'the script'} created its cluster without "
                    f"CLUSTER_NAME={other} in its environment (not exported?)"
                )
        findings.append(_grouped(offending, where, problem, expected))
    return findings


def _build_args(recording: Recording, tree: KindTree) -> list[Finding]:
    """An image the bootstrap builds gets the build arguments CI builds it with: without
    REQUIREMENTS and PICKLE_FREE the slim image's tag would name the full image."""
    findings = []
    for call in recording.of("docker"):
        built = call.effect.get("built") or {}
        for ref in built.get("tags") or []:
            missing = [
                arg for arg in tree.build_args.get(ref, ()) if arg not in built["build_args"]
            ]
            if missing:
                findings.append(
                    _finding(
                        call.script or KIND_BOOTSTRAP,
                        call,
                        f"image {ref} is built without {', '.join(missing)}, which CI builds "
                        "it with",
                        "docker build --build-arg NAME=value for each build argument "
                        "`inventory --images-built` prints after the context",
                    )
                )
    return findings


def _images(
    scenario: Scenario, recording: Recording, tree: KindTree, cluster: str, root: Call | None
) -> list[Finding]:
    loaded: dict[str, Call] = {}
    for call in recording.of("kind"):
        load = call.effect.get("loaded") or {}
        if call.rc == 0 and load.get("cluster") == cluster:
            for ref in load.get("images") or []:
                loaded.setdefault(str(ref), call)
    how = (
        "docker image save --platform <the nodes' os/arch> -o FILE {refs}, then kind load "
        "image-archive FILE --name {cluster}, before the root Application is applied "
        "(kubernetes-sigs/kind#3795)"
    )
    findings = [
        _finding(
            call.script or scenario.script,
            call,
            f"loading images into Kind cluster {cluster} failed: {call.error}",
            how.format(refs="REF...", cluster=cluster),
        )
        for call in recording.of("kind")
        if call.argv[:1] == ("load",) and call.rc
    ]
    findings += _build_args(recording, tree)
    for ref in tree.images:
        call = loaded.get(ref)
        # A run that applied the root without loading an image fails later (the pods never
        # start), and the missing load is still the cause worth naming.
        if call is None and (root is not None or not _ended_early(scenario, recording)):
            findings.append(
                _finding(
                    KIND_BOOTSTRAP,
                    "",
                    f"image {ref} (CI builds it, the Kind tree runs it) is never loaded into "
                    f"Kind cluster {cluster}: its pods would wait for an image pull",
                    how.format(refs=ref, cluster=cluster),
                )
            )
        elif call is not None and root is not None and call.seq > root.seq:
            findings.append(
                _finding(
                    call.script or scenario.script,
                    call,
                    f"image {ref} is loaded only after the root Application was applied ({root})",
                    "every image loaded before the root Application is applied",
                )
            )
    for archive in recording.state.get("archives_left") or []:
        saved = next(
            (
                c
                for c in recording.of("docker")
                if c.effect.get("saved", {}).get("archive") == archive
            ),
            None,
        )
        findings.append(
            _finding(
                (saved.script if saved else "") or scenario.script,
                saved or "",
                f"the image archive {Path(archive).name} is still on disk after the script "
                "ended (it holds every image the cluster runs)",
                "the archive in a temporary folder that the script's EXIT trap removes",
            )
        )
    return findings


def _waits(scenario: Scenario, recording: Recording, tree: KindTree) -> list[Finding]:
    polls = [c for c in recording.of("kubectl") if c.effect.get("application")]
    seed = next((c for c in recording.of("python") if c.argv[:3] == SEED), None)
    findings = []
    early = [c for c in polls if c.effect["application"]["name"] in tree.tenant_apps]
    early = [c for c in early if seed is None or c.seq < seed.seq]
    if early:
        names = sorted({str(c.effect["application"]["name"]) for c in early})
        when = f"before the models are seeded ({seed})" if seed else "and never seeds the models"
        findings.append(
            _finding(
                early[0].script or scenario.script,
                early[0],
                f"waits for the tenant Applications {', '.join(names)} {when}: a tenant's pods "
                "are ready only once its model loads, so this wait cannot end",
                "platform Applications Synced/Healthy, then `python -m training seed`, then "
                "the wait for the tenant Applications",
            )
        )
    if seed is None:
        if not early and not _ended_early(scenario, recording):
            findings.append(
                _finding(
                    scenario.script,
                    "",
                    "never seeds the models (`python -m training seed`)",
                    "the first model of every tenant seeded between the platform and the "
                    "tenant waits",
                )
            )
        return findings
    healthy_before = {
        str(c.effect["application"]["name"])
        for c in polls
        if c.seq < seed.seq and c.effect["application"]["field"] == "health"
        if c.effect["application"]["answer"] == "Healthy"
    }
    missing = [a for a in tree.platform_apps if a not in healthy_before]
    if missing:
        findings.append(
            _finding(
                seed.script or scenario.script,
                seed,
                "seeds the models before the platform Applications "
                f"{', '.join(missing)} are seen Synced/Healthy (MLflow may not be up yet)",
                "wait for every platform Application (inventory --apps platform) before seeding",
            )
        )
    waited = {str(c.effect["application"]["name"]) for c in polls if c.seq > seed.seq}
    unwaited = [a for a in tree.tenant_apps if a not in waited]
    if unwaited and not _ended_early(scenario, recording):
        findings.append(
            _finding(
                seed.script or scenario.script,
                "",
                f"never waits for the tenant Applications {', '.join(unwaited)} after seeding",
                "wait for every tenant Application (inventory --apps tenants) after seeding",
            )
        )
    return findings


def _secrets(
    scenario: Scenario, recording: Recording, tree: KindTree, root: Call | None
) -> list[Finding]:
    made: dict[str, Call] = {}
    for call in recording.of("kubectl"):
        secret = call.effect.get("secret_created") or {}
        if call.rc == 0 and secret:
            made.setdefault(str(secret["secret"]), call)
    findings = []
    for need in tree.secrets:
        ref = f"{need.namespace}/{need.name}"
        users = ", ".join(need.users)
        call = made.get(ref)
        if call is None:
            if not _ended_early(scenario, recording):
                findings.append(
                    _finding(
                        KIND_BOOTSTRAP,
                        "",
                        f"Secret {ref} is never created, and no Application creates it; "
                        f"needed by {users}",
                        f"kubectl -n {need.namespace} create secret generic {need.name} "
                        "before the root Application is applied",
                    )
                )
            continue
        if root is not None and call.seq > root.seq:
            findings.append(
                _finding(
                    call.script or scenario.script,
                    call,
                    f"Secret {ref} (needed by {users}) is created only after the root "
                    f"Application was applied ({root})",
                    "every Secret the tree needs created before the root Application",
                )
            )
        missing = sorted(need.keys - set(call.effect["secret_created"].get("keys") or []))
        if missing:
            findings.append(
                _finding(
                    call.script or scenario.script,
                    call,
                    f"Secret {ref} is created without the key(s) {', '.join(missing)} that "
                    f"{users} read(s)",
                    f"--from-literal for every key the pods read: {', '.join(sorted(need.keys))}",
                )
            )
    return findings


def _tenant_access(
    scenario: Scenario, recording: Recording, tenants: Iterable[str]
) -> list[Finding]:
    """Each tenant's writer user created and its declared models provisioned (a run that
    failed earlier says why in _outcome)."""
    if _ended_early(scenario, recording) or recording.timed_out:
        return []
    done = [c for c in recording.of("python") if c.rc == 0 and c.argv[:2] == REGISTRY_ACCESS]
    users = {_option(c.argv, "--username") for c in done if c.argv[2:3] == ("ensure-user",)}
    provisioned = {
        str(c.effect["provisioned"]["tenant"]) for c in done if c.effect.get("provisioned")
    }
    steps = "provision_tenants in clusters/platform-steps.sh"
    findings = []
    for tenant in tenants:
        models = f"overlays/{scenario.cluster}/tenants/{tenant}/models.yaml"
        if f"{tenant}-trainer" not in users:
            findings.append(
                _finding(
                    scenario.script,
                    "",
                    f"{scenario.label}: never creates the registry user {tenant}-trainer, the "
                    f"writer {tenant}'s team registers its models as (Secret "
                    f"{tenant}/mlflow-trainer-credentials)",
                    f"registry_access ensure-user --username {tenant}-trainer with that "
                    f"Secret's password ({steps})",
                )
            )
        if tenant not in provisioned:
            findings.append(
                _finding(
                    scenario.script,
                    "",
                    f"{scenario.label}: never provisions {tenant}'s registry access for the "
                    f"models it declares: its service may be refused (403) the models no "
                    f"seeding granted, and its writer user may write none",
                    f"registry_access provision-tenant --models {models} as the admin ({steps})",
                )
            )
    return findings


def _cleanup(scenario: Scenario, recording: Recording) -> list[Finding]:
    keep = scenario.env.get("KEEP_CLUSTER") == "1"
    left = list(recording.state.get("clusters") or [])
    how = "timed out" if recording.timed_out else f"exited {recording.returncode}"
    if keep:
        if left:
            return []
        return [
            _finding(
                E2E,
                "",
                f"{scenario.label}: the cluster is gone although KEEP_CLUSTER=1",
                "KEEP_CLUSTER=1 keeps the cluster",
            )
        ]
    return [
        _finding(
            E2E,
            "",
            f"{scenario.label}: Kind cluster {name} is still there after e2e.sh {how}",
            "the EXIT trap deletes the cluster the run used, failed or passed (unless "
            "KEEP_CLUSTER=1)",
        )
        for name in left
    ]


# --- EKS ----------------------------------------------------------------------------------


def _eks(scenario: Scenario, recording: Recording) -> list[Finding]:
    findings = []
    for program in ("kind", "docker"):
        used = recording.of(program)
        if used:
            findings.append(
                _grouped(
                    used,
                    scenario.script,
                    f"runs {program} while bootstrapping EKS",
                    "no kind and no docker on EKS: the cluster exists (eksctl) and pulls "
                    "published images",
                )
            )
    context = scenario.current_context
    other = [
        c for c in recording.of("kubectl") if _option(c.argv, "--context") not in (None, context)
    ]
    if other:
        findings.append(
            _grouped(
                other,
                scenario.script,
                f"kubectl call names another context than the current one ({context})",
                "every kubectl call on the current context (the cluster the operator chose)",
            )
        )
    switched = [c for c in recording.calls if c.effect.get("switch_context")]
    if switched:
        findings.append(
            _grouped(
                switched,
                scenario.script,
                "switches the kubectl context",
                "the current context kept: bootstrap.sh runs against the cluster it is pointed at",
            )
        )
    root = next((c for c in recording.of("kubectl") if c.effect.get("root")), None)
    if root is None and not _ended_early(scenario, recording):
        findings.append(
            _finding(
                scenario.script,
                "",
                "never applies the root Application",
                "kubectl apply -k clusters/eks, after Argo CD is installed",
            )
        )
    elif root is not None and root.effect.get("kustomization") != "clusters/eks":
        findings.append(
            _finding(
                root.script or scenario.script,
                root,
                f"applies the root Application from {root.effect.get('kustomization')}",
                "the EKS root: kubectl apply -k clusters/eks",
            )
        )
    return findings


def _option(argv: tuple[str, ...], name: str) -> str | None:
    for i, arg in enumerate(argv):
        if arg == name and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith(name + "="):
            return arg.split("=", 1)[1]
    return None

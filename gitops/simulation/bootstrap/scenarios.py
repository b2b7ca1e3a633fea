"""The runs of the bootstrap scripts that validation makes, shared by the checks that read
them: `bootstraps` (the calls each script makes) and `first-sync` (where each cluster's first
sync ends, in the simulated cluster the stand-ins drive).

Scenarios (each in a copy of the repository, every wait with a timeout of 0 because the
stand-ins answer at once, see run.FAST_WAITS):
- clusters/kind/bootstrap.sh as a person runs it in a fork (after `make repository`);
- clusters/kind/e2e.sh passing, and again with the tenant check failing (a tenant's service
  answers /predict from another model version than the one promoted);
- clusters/eks/bootstrap.sh, with kubectl on an EKS cluster, the operator's settings, and AWS
  as the documented first-deploy steps leave it (gitops/simulation/start.py).
The scripts treat every tenant alike, so the runs keep at most SAMPLE_TENANTS per cluster.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gitops.settings import REPO_URL, Settings
from gitops.simulation.bootstrap.run import Recording, initial_state, run_script
from gitops.simulation.engine import Simulation
from gitops.simulation.start import ci_images, eks_world, kind_world
from gitops.tree import inventory, upstream
from gitops.tree.app_tree import ClusterTree, TreeBuilder
from gitops.tree.crds import CrdSet, load_crds
from gitops.tree.kustomizations import discover, render_all
from gitops.tree.namespacing import is_namespaced
from gitops.tree.repository_url import rewrite
from gitops.tree.tenants import tenant_namespaces

OPERATOR_REPO_URL = "https://github.com/operator/ml-platform.git"
KIND_BOOTSTRAP = "clusters/kind/bootstrap.sh"
E2E = "clusters/kind/e2e.sh"
EKS_BOOTSTRAP = "clusters/eks/bootstrap.sh"
# The context `aws eks update-kubeconfig` writes for the cluster of clusters/eks/cluster.yaml.
EKS_CONTEXT = "arn:aws:eks:eu-west-1:111122223333:cluster/ml-platform"
# e2e.sh asks git for these when unset; a revision other than main makes the bootstrap
# point Argo CD at it through its generated overlay, as in CI.
E2E_ENV = {"REPO_URL": OPERATOR_REPO_URL, "REVISION": "e2e0" + "0" * 36}
EKS_SETTINGS = Path("clusters/eks/settings/settings.env")
SEED = ("-m", "training", "seed")
INVENTORY = ("-m", "gitops", "inventory")
# A guard against a script that hangs, not a speed requirement: the stand-ins answer at once
# and a run takes seconds, but the runs go in parallel and each spawns Python processes that
# render the tree, so on a busy 2-core machine they took over 30 s (seen at load 10).
TIMEOUT = 180.0
# The scripts treat every tenant alike (one loop each: Secrets, users, seeding, the e2e
# checks), so the runs see at most this many tenants per cluster: the check costs the same
# with 2 tenants or 200. Which ones: the first in name order, every run the same.
SAMPLE_TENANTS = 3


@dataclass(frozen=True)
class Scenario:
    label: str
    script: str
    env: Mapping[str, str] = field(default_factory=dict)
    fail: str = (
        ""  # injected by the stand-ins (see gitops/simulation/bootstrap/standins/standin.py)
    )
    cluster: str = "kind"
    current_context: str = ""
    other_contexts: tuple[str, ...] = ()
    edit: Callable[[Path], None] | None = None  # on the run's copy of the repository
    # Models a team registered before the run, as docs/models.md has it register a model
    # before declaring it: model -> alias -> version (the versions 1..the highest).
    registered: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    @property
    def expect_success(self) -> bool:
        return not self.fail


def operator_settings(repo: Path) -> None:
    """settings.env with values of an operator's instead of the examples the repository
    ships (AWS's documentation account, example.com, ...), which the EKS bootstrap refuses:
    the run is about the calls that come after that guard."""
    path = repo / EKS_SETTINGS
    if not path.is_file():
        return
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            value = value.replace("111122223333", "000000000000").replace("example", "operator")
        lines.append(f"{key}{sep}{value}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def operator_repository(repo: Path) -> None:
    """The copy points at an operator's fork, as `make repository URL=...` leaves a fork:
    both bootstraps refuse the example repository."""
    rewrite(repo, OPERATOR_REPO_URL)


def operator_kind_default(repo: Path) -> None:
    """Kind's bootstrap as a fork has it: its default REPO_URL is the fork's. Only the script
    changes: the Kind simulation and the inventory answers come from the validated tree, whose
    image paths must stay those of the images the script loads."""
    script = repo / KIND_BOOTSTRAP
    text = script.read_text(encoding="utf-8")
    script.write_text(text.replace(REPO_URL, OPERATOR_REPO_URL), encoding="utf-8")


def operator_eks(repo: Path) -> None:
    operator_repository(repo)
    operator_settings(repo)


SCENARIOS = (
    Scenario("kind bootstrap", KIND_BOOTSTRAP, edit=operator_kind_default),
    Scenario("e2e", E2E, E2E_ENV),
    Scenario("e2e with the tenant check failing", E2E, E2E_ENV, fail="predict"),
    Scenario(
        "eks bootstrap",
        EKS_BOOTSTRAP,
        cluster="eks",
        current_context=EKS_CONTEXT,
        other_contexts=("kind-ml-platform",),  # a Kind cluster in the same kubeconfig
        edit=operator_eks,
    ),
)


def sampled(
    answers: dict[str, str], tenants: Mapping[str, frozenset[str]], sample: dict[str, list[str]]
) -> dict[str, str]:
    """The inventory answers with only the sampled tenants (their two Applications, and the
    lines of their models, which start with the tenant)."""
    left_out = {c: set(tenants.get(c, ())) - set(kept) for c, kept in sample.items()}
    out = {}
    for question, answer in answers.items():
        cluster = question.split()[2]
        dropped = left_out.get(cluster, set())
        dropped_apps = dropped | {f"{t}-kit" for t in dropped}
        lines = [
            line
            for line in answer.splitlines()
            if line not in dropped_apps and line.split(" ", 1)[0] not in dropped
        ]
        out[question] = _printed(lines) if lines else ""
    return out


def _trim(
    sample: dict[str, list[str]], then: Callable[[Path], None] | None
) -> Callable[[Path], None]:
    """An edit of a run's copy: the tenant folders outside the sample removed."""

    def edit(repo: Path) -> None:
        for cluster, kept in sample.items():
            folder = repo / "overlays" / cluster / "tenants"
            for tenant in folder.iterdir() if folder.is_dir() else []:
                if tenant.is_dir() and tenant.name not in kept:
                    shutil.rmtree(tenant)
        if then is not None:
            then(repo)

    return edit


def inventory_answers(root: Path, trees: Iterable[ClusterTree]) -> dict[str, str]:
    """What `python -m gitops inventory` prints for the calls the scripts make, from trees
    validate already built, with the functions the command uses (no second rendering).
    A tree with findings is left out: the command fails on it, and so must the script."""
    answers = {}
    for tree in trees:
        cluster = tree.cluster
        tenants = sorted(tenant_namespaces(root, cluster))
        answers[f"inventory --cluster {cluster} --tenants"] = _printed(tenants)
        if tree.findings:
            continue
        answers[f"inventory --cluster {cluster} --cloud-secrets"] = _printed(
            inventory.cloud_secrets(tree)
        )
        answers[f"inventory --cluster {cluster} --models"] = _printed(inventory.models(tree))
        for layer in ("platform", inventory.TENANT_LAYER):
            answers[f"inventory --cluster {cluster} --apps {layer}"] = _printed(
                inventory.applications(tree, layer)
            )
        if (root / inventory.IMAGE_WORKFLOW).is_file():
            images = inventory.images_built_lines(tree, inventory.built_images(root))
            answers[f"inventory --cluster {cluster} --images-built"] = _printed(images)
    return answers


def _printed(lines: list[str]) -> str:
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class ScenarioRun:
    scenario: Scenario
    recording: Recording
    simulations: dict[str, Simulation] = field(default_factory=dict)  # context -> cluster


def own_packages(repo_url: str = REPO_URL) -> str:
    """Where .github/workflows/image.yaml publishes: ghcr.io/<owner>/<repo>/ (lower case)."""
    repository = repo_url.removesuffix(".git").split("github.com/", 1)[-1]
    return f"ghcr.io/{repository.lower()}/"


def simulation_factory(
    root: Path,
    trees: Mapping[str, ClusterTree],
    crds: CrdSet,
    health_scripts: Path,
    history: Path,
) -> Callable[[str, Path], Simulation]:
    """`factory(kind of cluster, the run's copy of the repository)`: a simulated cluster in the
    state the bootstrap finds it. Kind simulates the tree validation rendered; EKS renders
    the run's copy, whose settings are the operator's (the run's AWS state comes from the
    same files, so the certificate ARN and the hosts agree)."""

    def factory(kind: str, repo: Path) -> Simulation:
        if kind == "kind":
            return Simulation(trees["kind"], crds, kind_world(own_packages()), health_scripts)
        tree = _render_tree(repo, "eks", crds)
        tenants = sorted(tenant_namespaces(repo, "eks"))
        packages = own_packages(_root_repo_url(tree.entry_objects))
        world = eks_world(repo, tenants, packages, ci_images(root, history))
        return Simulation(tree, crds, world, health_scripts)

    return factory


def _render_tree(repo: Path, cluster: str, crds: CrdSet) -> ClusterTree:
    """The cluster's tree in `repo`, whose own URL is the one its root Application names
    (a fork's, after `make repository`)."""
    entry = [p for p in discover(repo) if p.is_relative_to(repo / "clusters" / cluster)]
    rendered = render_all(entry, repo)
    repo_url = _root_repo_url([o for p in entry for o in rendered[p].objects])
    builder = TreeBuilder(repo, repo_url, rendered, lambda o: is_namespaced(o, crds))
    return builder.build(cluster)


def _root_repo_url(objects: list[dict[str, Any]]) -> str:
    for obj in objects:
        if obj.get("kind") == "Application" and (obj.get("metadata") or {}).get("name") == "root":
            return str(((obj.get("spec") or {}).get("source") or {}).get("repoURL") or REPO_URL)
    return REPO_URL


def run_scenarios(
    root: Path,
    answers: dict[str, str] | None,
    *,
    scenarios: Iterable[Scenario] = SCENARIOS,
    sample: dict[str, list[str]] | None = None,
    simulation: Callable[[str, Path], Simulation] | None = None,
    clusters: Iterable[str] = ("kind", "eks"),
) -> list[ScenarioRun]:
    """Run each scenario whose script exists (and whose cluster is in `clusters`), in
    parallel. `answers`: `python -m gitops inventory` answers for the stand-in python (else
    real); `sample`: the tenants per cluster the runs keep (the answers must agree)."""
    wanted = set(clusters)
    runnable = [s for s in scenarios if (root / s.script).is_file() and s.cluster in wanted]
    if sample is not None:
        runnable = [replace(s, edit=_trim(sample, s.edit)) for s in runnable]
    shared = {} if answers is None else answers

    def run(scenario: Scenario) -> ScenarioRun:
        recording = run_script(
            scenario.script,
            scenario.env,
            root,
            timeout=TIMEOUT,
            inventory=shared,
            state=_with_registered(
                initial_state(scenario.current_context, scenario.other_contexts),
                scenario.registered,
            ),
            fail=scenario.fail,
            edit=scenario.edit,
            simulation=simulation,
        )
        return ScenarioRun(scenario, recording, dict(recording.simulations))

    with ThreadPoolExecutor(max_workers=max(1, len(runnable))) as pool:
        return list(pool.map(run, runnable))


def _with_registered(
    state: dict[str, Any], registered: Mapping[str, Mapping[str, str]]
) -> dict[str, Any]:
    for model, aliases in registered.items():
        versions = max((int(v) for v in aliases.values()), default=0)
        state["registry"]["models"][model] = {"versions": versions, "aliases": dict(aliases)}
    return state


def default_factory(
    root: Path, kind_tree: ClusterTree | None = None, settings: Settings | None = None
) -> Callable[[str, Path], Simulation]:
    """A simulation factory for `root` outside a validation run (tests, the command line):
    the pinned CRDs and health checks resolved, the Kind tree rendered unless given."""
    settings = settings or Settings.from_env(root)
    crds = load_crds(upstream.folder("crds", settings))
    trees = {"kind": kind_tree or _render_tree(root, "kind", crds)}
    return simulation_factory(
        root, trees, crds, upstream.folder("argocd-health", settings), settings.git_history
    )


def validation_runs(
    root: Path,
    trees: Iterable[ClusterTree],
    tenants: Mapping[str, frozenset[str]],
    crds: CrdSet,
    settings: Settings,
    sample: dict[str, list[str]],
    scenarios: Iterable[Scenario] = SCENARIOS,
) -> list[ScenarioRun]:
    """The scenarios of one validation, with the sync simulation answering for Argo CD."""
    trees = list(trees)
    answers = sampled(inventory_answers(root, trees), tenants, sample)
    by_cluster = {t.cluster: t for t in trees}
    factory = simulation_factory(
        root, by_cluster, crds, upstream.folder("argocd-health", settings), settings.git_history
    )
    return run_scenarios(
        root, answers, scenarios=scenarios, sample=sample, simulation=factory, clusters=by_cluster
    )


def shared_validation_runs(
    cache: dict[str, Any],
    root: Path,
    trees: Iterable[ClusterTree],
    tenants: Mapping[str, frozenset[str]],
    crds: CrdSet,
    settings: Settings,
) -> tuple[list[ScenarioRun], dict[str, list[str]]]:
    """The runs of one validation (made once, whichever check asks first) and the tenants
    each cluster's runs kept."""
    sample = {c: sorted(t)[:SAMPLE_TENANTS] for c, t in tenants.items()}
    runs = shared_runs(cache, lambda: validation_runs(root, trees, tenants, crds, settings, sample))
    return runs, sample


_LOCK = threading.Lock()


def shared_runs(cache: dict[str, Any], make: Callable[[], list[ScenarioRun]]) -> list[ScenarioRun]:
    """The runs of one validation, made once whichever check asks first (checks run in
    threads; `cache` is the validation's Context.cache)."""
    with _LOCK:
        event = cache.get("bootstrap-runs-ready")
        if event is None:
            event = cache["bootstrap-runs-ready"] = threading.Event()
            owner = True
        else:
            owner = False
    if owner:
        try:
            cache["bootstrap-runs"] = make()
        finally:
            event.set()
    event.wait()
    if "bootstrap-runs" not in cache:
        raise RuntimeError("the bootstrap runs failed in another check (see its error)")
    return list(cache["bootstrap-runs"])

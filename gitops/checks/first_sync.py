"""`first-sync`: each cluster's first deploy, simulated from an empty cluster, ends with every
Application Synced and Healthy, and a later sync removes what the tree dropped.

The bootstrap scripts run under the recording stand-ins (the runs the `bootstraps` check
reads too), and the stand-ins drive the sync simulation (gitops/simulation/): what the
script creates (namespaces, Secrets, the Argo CD install and its argocd-cm, the root
Application, images loaded into Kind's nodes, MLflow users and the first model versions,
syncs requested) happens in the simulated cluster, and every `kubectl get application` the
script makes is answered by it. On EKS the AWS side is what docs/eks.md's first-deploy steps
create (gitops/simulation/start.py). Where the simulated sync stops, the finding is the chain
that stops it, e.g. "tenant-a never applied: ApplicationSet argocd/tenants is in root's wave 6;
root's sync failed at wave 5: rollout-judge Synced/Degraded: Deployment rollout-judge/...".

After the first deploy:
- every pod that logs in to MLflow (MLFLOW_TRACKING_USERNAME/PASSWORD) does so as a user the
  registry has, with that password (the rollout judge's pod is ready either way; its actions
  would fail);
- a change of each manually synced Application's generated ConfigMaps (a model added to
  models.yaml, a new settings.env line), synced the way the scripts sync it, leaves no
  ConfigMap behind: without prune they pile up until the tenant quota refuses the next one.

The simulation is a model, not a cluster: docs/gitops.md ("The first sync, simulated") says
what each part stands for and what it cannot see; the e2e workflow runs the real thing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from gitops.checks import Context, register
from gitops.simulation.bootstrap.scenarios import (
    ScenarioRun,
    shared_validation_runs,
)
from gitops.simulation.engine import Simulation
from gitops.simulation.explain import stops
from gitops.simulation.keys import Key
from gitops.simulation.pods import container_env
from gitops.simulation.revisions import next_revision
from gitops.tree.findings import Finding, name_of
from gitops.tree.selectors import pod_template

CHECK = "first-sync"
# The runs whose clusters are judged: a person's bootstrap of each cluster (the e2e runs
# bootstrap the same way, and the bootstraps check reads their calls).
JUDGED = {"kind bootstrap", "eks bootstrap"}


@register(
    CHECK,
    "each cluster's first sync, simulated from the bootstrap, ends Synced and Healthy",
    background=True,
)
def check(ctx: Context) -> Iterable[Finding]:
    runs, sample = shared_validation_runs(
        ctx.cache, ctx.root, ctx.trees, ctx.tenants, ctx.crds, ctx.settings
    )
    findings: list[Finding] = []
    for run in runs:
        if run.scenario.label in JUDGED:
            findings += list(judge(run, sample.get(run.scenario.cluster, [])))
    return findings


def judge(run: ScenarioRun, sample: list[str]) -> Iterator[Finding]:
    scenario, recording = run.scenario, run.recording
    where = f"{scenario.cluster}: first sync"
    sims = [
        s
        for s in run.simulations.values()
        if s.argocd is not None and s.tree.cluster == scenario.cluster
    ]
    if not sims:
        yield Finding(
            CHECK,
            where,
            "",
            f"{scenario.script} stopped before Argo CD had anything to sync (exit "
            f"{recording.returncode}): {recording.stderr_tail(3)}",
            "the bootstrap reaching the root Application (the bootstraps check has the calls)",
        )
        return
    sim = sims[0]
    expected = expected_apps(sim, sample)
    found = stops(sim, expected)
    for stop in found:
        yield Finding(
            CHECK,
            where,
            f"Application argocd/{stop.app}",
            f"{stop.status}: {stop.why}",
            "Synced and Healthy, as the bootstrap waits for",
        )
    if recording.returncode != 0:
        if not found:
            yield Finding(
                CHECK,
                where,
                "",
                f"{scenario.script} failed (exit {recording.returncode}) although every "
                f"Application is Synced and Healthy: {recording.stderr_tail(3)}",
                "the bootstrap ending as the cluster does",
            )
        return
    yield from _registry_logins(sim, where)
    yield from _later_sync(run, sim, where)


def expected_apps(sim: Simulation, sample: list[str]) -> list[str]:
    """Every Application of the tree, but tenants outside the runs' sample."""
    out = []
    for app in sim.tree.apps:
        name = name_of(app.obj)
        tenant = str(
            ((app.obj.get("metadata") or {}).get("labels") or {}).get(
                "ml-platform.example.com/tenant", ""
            )
        )
        if tenant and tenant not in sample:
            continue
        out.append(name)
    return sorted(set(out))


def _registry_logins(sim: Simulation, where: str) -> Iterator[Finding]:
    """Every pod that logs in to MLflow does so as a registry user with its password."""
    users = sim.world.registry.users
    for key, obj in sorted(sim.cluster.objects.items()):
        template = pod_template(obj) if key.kind in ("Deployment", "StatefulSet") else None
        if template is None or sim.workloads.pods.get(key) is None:
            continue
        for container in (template.get("spec") or {}).get("containers") or []:
            env = container_env(container, key.namespace, sim.cluster)
            user = env.get("MLFLOW_TRACKING_USERNAME")
            if user is None:
                continue
            if users.get(user) != env.get("MLFLOW_TRACKING_PASSWORD"):
                known = "has another password" if user in users else "does not exist"
                yield Finding(
                    CHECK,
                    where,
                    str(key),
                    f"logs in to MLflow as {user!r}, a registry user that {known} after the "
                    "bootstrap: every request it makes is refused (401)",
                    "the bootstrap creating each registry user with the password its Secret "
                    "holds (provision_registry_users in clusters/platform-steps.sh)",
                )


def _later_sync(run: ScenarioRun, sim: Simulation, where: str) -> Iterator[Finding]:
    """A later change of each manually synced Application's generated ConfigMaps, synced
    with the prune flag the scripts sync with, leaves nothing behind."""
    assert sim.argocd is not None
    requests = [c for c in run.recording.calls if "sync_requested" in c.effect]
    manual = [r.effect["sync_requested"] for r in requests]
    if not manual:
        return
    apps = sorted({m["application"] for m in manual})
    prune = {m["application"]: bool(m["prune"]) for m in manual}
    replaced = next_revision(sim, apps)
    for app in apps:
        sim.request_sync(app, prune[app])
    sim.settle()
    for app in apps:
        view = sim.application(app)
        tree_app = sim.tree_app(app)
        if view is None or tree_app is None:
            continue
        namespace = tree_app.destination_namespace
        left = [
            name
            for name in replaced.get(app, [])
            if Key("", "ConfigMap", namespace, name) in sim.cluster.objects
        ]
        if left:
            call = next(c for c in requests if c.effect["sync_requested"]["application"] == app)
            yield Finding(
                CHECK,
                where,
                f"Application argocd/{app}",
                f"after a change of its generated ConfigMaps, the documented sync "
                f"({call.script or run.scenario.script}: `{call.text}`) leaves "
                f"{', '.join(f'ConfigMap {namespace}/{n}' for n in left)} behind "
                f"({view.sync}): each change adds one until the tenant quota's `configmaps` "
                "count refuses the next",
                "a sync that prunes (operation.sync.prune: true; `argocd app sync --prune`)",
            )

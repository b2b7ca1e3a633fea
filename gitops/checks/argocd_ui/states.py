"""The Applications notification triggers are evaluated against, from the sync simulation
(gitops/simulation): each cluster's first deploy as its bootstrap script makes it (every
Application Synced and Healthy: nothing may fire), and on Kind the same cluster after a later
revision planted with three faults (gitops/simulation/faults.py): a sync that fails, an
Application that turns Degraded, a sync that waits for ever (each trigger must fire on one).

The runs are this check's own (the same scenarios as the `first-sync` check, run again):
the faults are planted into the simulated cluster, which the other checks' runs must not see.

The simulation has no clock: it runs to rest, and what rests stays so for ever. Its
timestamps (startedAt, finishedAt) are logical; a state is evaluated at a `now` one day after
the last of them ("long after"), and a time-based trigger also at its operation's start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from gitops.checks import Context
from gitops.simulation import faults
from gitops.simulation.bootstrap.scenarios import SCENARIOS, validation_runs
from gitops.simulation.engine import Simulation
from gitops.tree.findings import labels_of, name_of

HEALTHY_RUNS = ("kind bootstrap", "eks bootstrap")
LATER = timedelta(days=1)
TENANT_LABEL = "ml-platform.example.com/tenant"


@dataclass(frozen=True)
class State:
    cluster: str
    label: str  # "first sync" or the fault planted
    app: dict[str, Any]
    now: datetime  # "long after": the state is at rest

    @property
    def name(self) -> str:
        return name_of(self.app)


@dataclass
class States:
    healthy: list[State]
    faulty: list[State]
    planted: list[str]  # what was planted, for messages
    problems: list[str]  # runs that did not reach the state they stand for


def simulated(ctx: Context) -> States:
    sample = {c: sorted(t)[:3] for c, t in ctx.tenants.items()}
    scenarios = [s for s in SCENARIOS if s.label in HEALTHY_RUNS]
    runs = validation_runs(
        ctx.root, ctx.trees, ctx.tenants, ctx.crds, ctx.settings, sample, scenarios=scenarios
    )
    out = States([], [], [], [])
    for run in runs:
        sims = [s for s in run.simulations.values() if s.argocd is not None]
        if not sims:
            out.problems.append(f"{run.scenario.label}: the bootstrap reached no Argo CD")
            continue
        sim = sims[0]
        cluster = run.scenario.cluster
        out.healthy += _states(sim, cluster, "first sync")
        if cluster == "kind":
            plan = _faults(sim)
            out.planted = [f"{app}: {edit.__name__}" for app, edit in plan]
            faults.plant(sim, plan)
            out.faulty += _states(sim, cluster, "later revision with " + ", ".join(out.planted))
    return out


def _faults(sim: Simulation) -> list[tuple[str, faults.Edit]]:
    """A tenant's workload gains a Role its project refuses; MLflow's image is one never
    built; a tenant kit waits on a LoadBalancer Service that never gets an address."""
    apps = [a.obj for a in sim.tree.apps]
    tenants = sorted(
        name_of(a)
        for a in apps
        if labels_of(a).get(TENANT_LABEL)
        and (a.get("spec") or {}).get("project") == labels_of(a)[TENANT_LABEL]
    )
    kits = sorted(
        name_of(a)
        for a in apps
        if labels_of(a).get(TENANT_LABEL) and (a.get("spec") or {}).get("project") == "platform"
    )
    plan: list[tuple[str, faults.Edit]] = []
    if tenants:
        plan.append((tenants[0], faults.refused_kind))
    if any(name_of(a) == "mlflow" for a in apps):
        plan.append(("mlflow", faults.unbuilt_image))
    if kits:
        plan.append((kits[0], faults.never_ready))
    return plan


def _states(sim: Simulation, cluster: str, label: str) -> list[State]:
    apps = faults.live_applications(sim)
    stamps = [
        str(stamp)
        for app in apps
        for stamp in (
            ((app.get("status") or {}).get("operationState") or {}).get("startedAt"),
            ((app.get("status") or {}).get("operationState") or {}).get("finishedAt"),
        )
        if stamp
    ]
    latest = max((datetime.fromisoformat(s.replace("Z", "+00:00")) for s in stamps), default=None)
    now = (latest or datetime.fromisoformat("2026-01-01T00:00:00+00:00")) + LATER
    return [State(cluster, label, app, now) for app in apps]

"""Where a simulated sync stops, said the way a person fixes it: the chain from the Application
that never got applied back to the resource that is to blame.

    tenants (wave 6) never applied: root waits at wave 5: rollout-judge Degraded:
    Deployment rollout-judge/rollout-judge: pod not started: ErrImagePull ...: secret
    "registry-credentials" not found <- ExternalSecret rollout-judge/registry-credentials:
    could not get secret data from provider: using cluster store "aws-secrets-manager" is not
    allowed from namespace "rollout-judge": denied by spec.condition
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitops.simulation.argocd.sync import Task, wave_of
from gitops.simulation.engine import Simulation
from gitops.simulation.keys import Key, key_of
from gitops.tree.findings import name_of

DONE = ("Synced", "Healthy")
_NOT_FOUND = re.compile(r'(secret|configmap) "([^"]+)" not found')


@dataclass(frozen=True)
class Stop:
    """One Application that does not end Synced and Healthy, and why."""

    app: str
    status: str  # e.g. "OutOfSync/Degraded", "never applied"
    why: str

    def __str__(self) -> str:
        return f"{self.app} {self.status}: {self.why}" if self.why else f"{self.app} {self.status}"


def stops(sim: Simulation, expected: list[str]) -> list[Stop]:
    """Every expected Application that is not Synced and Healthy, the root's chain first."""
    out: list[Stop] = []
    views = {v.name: v for v in sim.applications()}
    for name in expected:
        view = views.get(name)
        if view is None:
            out.append(Stop(name, "never applied", _never_applied(sim, name)))
        elif (view.sync, view.health) != DONE:
            out.append(Stop(name, f"{view.sync}/{view.health}", app_reason(sim, name)))
    return out


def _never_applied(sim: Simulation, name: str) -> str:
    """Which parent did not create the Application, and where that parent's sync stands."""
    tree_app = sim.tree_app(name)
    if tree_app is None:
        return "not in the tree"
    if not tree_app.parent.startswith("Application "):
        return f"{tree_app.parent} was never applied (the bootstrap applies it)"
    parent = tree_app.parent.rsplit("/", 1)[-1]
    return _parent_blocked(sim, parent, tree_app.generated_by or tree_app.ref)


def _parent_blocked(sim: Simulation, parent: str, child_ref: str) -> str:
    assert sim.argocd is not None
    state = sim.argocd.apps.get(parent)
    wanted = _wave_of_child(sim, parent, child_ref)
    prefix = f"{child_ref} is in {parent}'s wave {wanted}"
    if state is None or state.operation is None:
        return f"{prefix}, and {parent} never synced"
    operation = state.operation
    blockers = [
        t
        for t in operation.tasks
        if t.state in ("Running", "Failed", "Error") or t.status == "SyncFailed"
    ]
    blockers = [t for t in blockers if t.phase != "PostSync" or t.hook]
    current = [t for t in blockers if t.state != "Succeeded" and t.key != Key("", "", "", "")]
    failing = [t for t in current if t.state in ("Failed", "Error") or t.status == "SyncFailed"]
    waiting = [t for t in current if t.state == "Running"]
    if failing:
        first = failing[0]
        return (
            f"{prefix}; {parent}'s sync failed at wave {first.wave} "
            f"({operation.message.split(':')[0]}): {_task_reason(sim, first)}"
        )
    if waiting:
        first = waiting[0]
        return f"{prefix}; {parent} waits at wave {first.wave} for {_task_reason(sim, first)}"
    return f"{prefix}; {parent}'s sync: {operation.phase} {operation.message}"


def _wave_of_child(sim: Simulation, parent: str, child_ref: str) -> int:
    tree_app = sim.tree_app(parent)
    for obj in tree_app.objects if tree_app else []:
        if child_ref.endswith(f"/{name_of(obj)}") and child_ref.startswith(str(obj.get("kind"))):
            return wave_of(obj)
    return 0


def _task_reason(sim: Simulation, task: Task) -> str:
    if task.key.kind == "Application" and task.key.group == "argoproj.io":
        return (
            f"{task.key.name} {_app_status(sim, task.key.name)}: {app_reason(sim, task.key.name)}"
        )
    if task.status == "SyncFailed" or task.state in ("Failed", "Error"):
        return f"{task.key}: {task.message}"
    return resource_reason(sim, task.key)


def _app_status(sim: Simulation, name: str) -> str:
    view = sim.application(name)
    return f"{view.sync}/{view.health}" if view else "missing"


def app_reason(sim: Simulation, name: str, depth: int = 0) -> str:
    """Why one Application is not Synced and Healthy."""
    assert sim.argocd is not None
    state = sim.argocd.apps.get(name)
    if state is None:
        return "never reconciled"
    if state.condition:
        return state.condition
    operation = state.operation
    if operation is not None and operation.phase == "Failed":
        failed = operation.failed_tasks()
        if failed:
            return f"sync failed: {_task_reason(sim, failed[0])}"
        return f"sync failed: {operation.message}"
    if state.health.status not in ("Healthy",):
        bad = [
            (k, h)
            for k, h in state.resources.items()
            if h is not None and h.status not in ("Healthy", "Missing")
        ]
        bad.sort(key=lambda kh: (kh[1].status != "Degraded", str(kh[0])))
        if bad and depth < 4:
            key, _health = bad[0]
            if key.kind == "Application" and key.group == "argoproj.io":
                why = app_reason(sim, key.name, depth + 1)
                return f"{key.name} {_app_status(sim, key.name)}: {why}"
            return resource_reason(sim, key)
    if operation is not None and operation.phase == "Running":
        return f"sync running: {operation.message}"
    if state.sync == "OutOfSync":
        pending = [
            str(k) for k, h in state.resources.items() if h is not None and h.status == "Missing"
        ]
        return "OutOfSync: " + (
            f"{', '.join(pending[:3])} missing"
            if pending
            else "live objects differ from the tree (a sync has not applied this revision)"
        )
    return state.health.message


def resource_reason(sim: Simulation, key: Key) -> str:
    """What is wrong with one live resource, followed to the resource that causes it."""
    live = sim.cluster.get(key)
    if live is None:
        return f"{key}: missing"
    health = sim.health(live)
    text = f"{key}: {health.status if health else 'no health'}"
    pods = sim.workloads.pods.get(key)
    if pods is not None and pods.problem:
        return f"{text}: {pods.problem}{_cause(sim, key.namespace, pods.problem)}"
    if key in sim.ingress_problems:
        return f"{text}: {sim.ingress_problems[key]}"
    if live.get("_problem"):
        return f"{text}: {live['_problem']}"
    return f"{text}: {health.message}" if health and health.message else text


def _cause(sim: Simulation, namespace: str, problem: str) -> str:
    """A missing Secret or ConfigMap a pod needs: what should have created it."""
    match = _NOT_FOUND.search(problem)
    if not match or match.group(1) != "secret":
        return ""
    name = match.group(2)
    for external in sim.cluster.of_kind("external-secrets.io", "ExternalSecret", namespace):
        target = ((external.get("spec") or {}).get("target") or {}).get("name") or name_of(external)
        if target == name:
            condition = ((external.get("status") or {}).get("conditions") or [{}])[0]
            message = condition.get("message") or "no status yet (no controller)"
            event = sim.secret_events.get(key_of(external))
            return f" <- {key_of(external)}: {message}" + (f" ({event})" if event else "")
    return " (nothing in the tree or the bootstrap creates it)"

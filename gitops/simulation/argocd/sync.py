"""One sync operation of one Application, step by step, as argo-cd v3.5.1 runs it
(gitops-engine/pkg/sync/sync_context.go `Sync`, `getSyncTasks`, `runTasks`; sync_tasks.go;
sync_task.go; common/types.go).

Each call of `step()` is one call of Sync():
1. the first step validates every task: a kind the API server does not serve fails the
   operation ("the server could not find the requested resource"), unless its CRD is part
   of the same sync or the object says SkipDryRunOnMissingResource=true; a kind or namespace
   the AppProject does not permit fails it too ("one or more synchronization tasks are not
   valid"). With CreateNamespace=true the destination namespace is created first (with
   managedNamespaceMetadata).
2. running tasks are updated from the health of their live objects: Healthy (or no health at
   all, e.g. a ConfigMap) -> Succeeded, Degraded -> Failed, Progressing -> still running.
   Hooks: Degraded/Unknown -> Failed, Progressing/Suspended -> running.
3. if the operation has more than one phase or wave (or runs hooks) and any task is still
   running, it waits: waves are barriers.
4. any task completed unsuccessfully fails the operation (then the SyncFail hooks run).
5. otherwise the next (phase, wave) of pending tasks is applied: prunes first, then creates
   grouped by kind in kind order (Namespace, NetworkPolicy, ResourceQuota, LimitRange, ...,
   ServiceAccount, Secret, ConfigMap, ..., Service, ..., Deployment, ...). An apply the API
   server refuses fails the operation ("one or more objects failed to apply").
6. when the last wave has been applied and no hook runs, the operation succeeds at once,
   even if those last objects are not healthy yet ("successfully synced (all tasks run)").
Prune tasks run only when the operation prunes; otherwise they are skipped ("ignored
(requires pruning)") and the Application stays OutOfSync.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gitops.simulation.argocd.projects import destination_permitted, kind_permitted
from gitops.simulation.cluster import Cluster, Refused
from gitops.simulation.health import Health
from gitops.simulation.keys import Key, key_of

WAVE = "argocd.argoproj.io/sync-wave"
HOOK = "argocd.argoproj.io/hook"
HELM_HOOK = "helm.sh/hook"
SYNC_OPTIONS = "argocd.argoproj.io/sync-options"
PHASES = {"PreSync": -1, "Sync": 0, "PostSync": 1, "SyncFail": 2}
# gitops-engine/pkg/sync/sync_tasks.go kindOrder (Helm's install order); other kinds last.
KIND_ORDER = [
    "Namespace",
    "NetworkPolicy",
    "ResourceQuota",
    "LimitRange",
    "PodSecurityPolicy",
    "PodDisruptionBudget",
    "ServiceAccount",
    "Secret",
    "SecretList",
    "ConfigMap",
    "StorageClass",
    "PersistentVolume",
    "PersistentVolumeClaim",
    "CustomResourceDefinition",
    "ClusterRole",
    "ClusterRoleList",
    "ClusterRoleBinding",
    "ClusterRoleBindingList",
    "Role",
    "RoleList",
    "RoleBinding",
    "RoleBindingList",
    "Service",
    "DaemonSet",
    "Pod",
    "ReplicationController",
    "ReplicaSet",
    "Deployment",
    "HorizontalPodAutoscaler",
    "StatefulSet",
    "Job",
    "CronJob",
    "IngressClass",
    "Ingress",
    "APIService",
]
_KIND_RANK = {kind: i - len(KIND_ORDER) for i, kind in enumerate(KIND_ORDER)}

HealthOf = Callable[[dict[str, Any]], Health | None]


def content_hash(obj: dict[str, Any]) -> str:
    """What was applied, without the status controllers write: to compare desired and live."""
    stripped = {k: v for k, v in obj.items() if k != "status"}
    return hashlib.sha256(json.dumps(stripped, sort_keys=True, default=str).encode()).hexdigest()


def annotations(obj: dict[str, Any]) -> dict[str, str]:
    return dict((obj.get("metadata") or {}).get("annotations") or {})


def wave_of(obj: dict[str, Any]) -> int:
    try:
        return int(str(annotations(obj).get(WAVE, "0")))
    except ValueError:
        return 0


def hook_phases(obj: dict[str, Any]) -> list[str]:
    """The phases a hook runs in ([] for an ordinary resource); Helm hooks map to Argo's
    (gitops-engine pkg/sync/hook/helm/type.go: pre-install -> PreSync, post-install ->
    PostSync)."""
    raw = annotations(obj).get(HOOK)
    if raw:
        return [p.strip() for p in raw.split(",") if p.strip() in PHASES]
    helm = annotations(obj).get(HELM_HOOK, "")
    mapped = {
        "pre-install": "PreSync",
        "pre-upgrade": "PreSync",
        "post-install": "PostSync",
        "post-upgrade": "PostSync",
    }
    return sorted({mapped[h.strip()] for h in helm.split(",") if h.strip() in mapped})


def has_option(obj: dict[str, Any] | None, option: str) -> bool:
    if not obj:
        return False
    return option in [o.strip() for o in annotations(obj).get(SYNC_OPTIONS, "").split(",")]


@dataclass
class Task:
    phase: str
    key: Key
    target: dict[str, Any] | None  # None: the live object is to be pruned
    live: dict[str, Any] | None
    hook: bool = False
    status: str = ""  # "" (pending), Synced, SyncFailed, Pruned, PruneSkipped
    state: str = ""  # "" , Running, Succeeded, Failed, Error
    message: str = ""
    wave_override: int | None = None
    skip_dry_run: bool = False
    # CreateNamespace=true's namespace: created for the Application, never managed by it
    # (not tracked, so never pruned; gitops-engine sync_context.go autoCreateNamespace)
    managed: bool = True

    @property
    def obj(self) -> dict[str, Any]:
        return self.target if self.target is not None else self.live or {}

    @property
    def wave(self) -> int:
        return self.wave_override if self.wave_override is not None else wave_of(self.obj)

    @property
    def is_prune(self) -> bool:
        return self.target is None

    def order(self) -> tuple[int, int, int, str]:
        return (PHASES[self.phase], self.wave, _KIND_RANK.get(self.key.kind, 0), self.key.name)

    @property
    def pending(self) -> bool:
        return self.state == ""

    @property
    def running(self) -> bool:
        return self.state == "Running"

    @property
    def completed(self) -> bool:
        return self.state in ("Succeeded", "Failed", "Error")

    @property
    def successful(self) -> bool:
        return self.state == "Succeeded" or self.status in ("Pruned", "PruneSkipped")


@dataclass
class Operation:
    """One sync operation: its tasks and where it stands (phase Running, Succeeded, Failed)."""

    app: str
    revision: str
    prune: bool
    tasks: list[Task] = field(default_factory=list)
    phase: str = "Running"
    message: str = ""
    started: bool = False
    # Logical times (controller.py LogicalClock): only their order means anything.
    started_at: str = ""
    finished_at: str = ""

    @property
    def done(self) -> bool:
        return self.phase in ("Succeeded", "Failed", "Error")

    def failed_tasks(self) -> list[Task]:
        return [t for t in self.tasks if t.status == "SyncFailed" or t.state in ("Failed", "Error")]


@dataclass
class SyncRequest:
    """What an Application asks of a sync: its desired objects and the settings that shape
    the operation."""

    app: str
    project: dict[str, Any] | None
    server: str
    namespace: str  # the destination namespace
    desired: list[dict[str, Any]]
    owned: list[dict[str, Any]]  # live objects this Application manages now (for pruning)
    prune: bool
    options: list[str]  # spec.syncPolicy.syncOptions
    managed_namespace_metadata: dict[str, Any] | None


class SyncRunner:
    """Runs operations against the simulated cluster; `health` judges live objects; `owner`
    and `applied` record, per live object, the Application that applied it and what."""

    def __init__(
        self,
        cluster: Cluster,
        health: HealthOf,
        owner: dict[Key, str],
        applied: dict[Key, str],
    ) -> None:
        self.cluster = cluster
        self.health = health
        self.owner = owner
        self.applied = applied

    # --- building the tasks (getSyncTasks) ------------------------------------------------

    def start(self, request: SyncRequest, revision: str) -> Operation:
        operation = Operation(request.app, revision, request.prune)
        desired_keys = set()
        for obj in request.desired:
            obj = self._with_namespace(obj, request.namespace)
            key = key_of(obj)
            phases = hook_phases(obj)
            live = self.cluster.get(key)
            if phases:
                for phase in phases:
                    operation.tasks.append(Task(phase, key, obj, None, hook=True))
                continue
            desired_keys.add(key)
            operation.tasks.append(Task("Sync", key, obj, live))
        for live in request.owned:
            key = key_of(live)
            if key not in desired_keys and not hook_phases(live):
                operation.tasks.append(Task("Sync", key, None, live))
        if "CreateNamespace=true" in request.options and request.namespace:
            self._namespace_task(operation, request)
        _reverse_prune_waves(operation.tasks)
        operation.tasks.sort(key=Task.order)
        self._validate(operation, request)
        return operation

    def _with_namespace(self, obj: dict[str, Any], namespace: str) -> dict[str, Any]:
        if namespace and self.cluster.is_namespaced(obj) and not key_of(obj).namespace:
            obj = {**obj, "metadata": {**(obj.get("metadata") or {}), "namespace": namespace}}
        return obj

    def _namespace_task(self, operation: Operation, request: SyncRequest) -> None:
        if any(
            t.key == Key("", "Namespace", "", request.namespace) and t.target
            for t in operation.tasks
        ):
            return
        metadata = request.managed_namespace_metadata or {}
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": request.namespace,
                "labels": dict(metadata.get("labels") or {}),
                "annotations": dict(metadata.get("annotations") or {}),
            },
        }
        key = key_of(namespace)
        operation.tasks.append(
            Task("PreSync", key, namespace, self.cluster.get(key), managed=False)
        )

    def _validate(self, operation: Operation, request: SyncRequest) -> None:
        crds_here = {
            (
                str((t.obj.get("spec") or {}).get("group")),
                str(((t.obj.get("spec") or {}).get("names") or {}).get("kind")),
            )
            for t in operation.tasks
            if t.key.kind == "CustomResourceDefinition" and t.target is not None
        }
        problems = []
        for task in operation.tasks:
            if task.target is None:
                continue
            obj = task.target
            if not self.cluster.serves(obj):
                if task.key.group_kind in crds_here or has_option(
                    obj, "SkipDryRunOnMissingResource=true"
                ):
                    task.skip_dry_run = True
                else:
                    task.status = "SyncFailed"
                    task.message = (
                        f"the server could not find the requested resource: "
                        f"{task.key.kind}.{task.key.group} has no CustomResourceDefinition "
                        f"in the cluster"
                    )
                    problems.append(f"{task.key}: {task.message}")
                    continue
            problem = self._permission(request, task)
            if problem:
                task.status, task.message = "SyncFailed", problem
                problems.append(f"{task.key}: {problem}")
        if problems:
            operation.phase = "Failed"
            operation.message = "one or more synchronization tasks are not valid: " + "; ".join(
                sorted(set(problems))
            )

    def _permission(self, request: SyncRequest, task: Task) -> str:
        project = request.project
        if project is None:
            return "the Application's AppProject does not exist"
        name = str((project.get("metadata") or {}).get("name"))
        namespaced = self.cluster.is_namespaced(task.obj)
        if not kind_permitted(project, task.key.group, task.key.kind, task.key.name, namespaced):
            return f"resource {task.key.group}:{task.key.kind} is not permitted in project {name}"
        if namespaced and not destination_permitted(project, request.server, task.key.namespace):
            return f"namespace {task.key.namespace} is not permitted in project '{name}'"
        return ""

    # --- one step (Sync) ------------------------------------------------------------------

    def step(self, operation: Operation) -> bool:
        """Advance the operation as far as the cluster allows; True when anything changed."""
        if operation.done:
            return False
        before = (
            operation.phase,
            operation.message,
            [(t.status, t.state, t.message) for t in operation.tasks],
        )
        self._step(operation)
        after = (
            operation.phase,
            operation.message,
            [(t.status, t.state, t.message) for t in operation.tasks],
        )
        return before != after

    def _step(self, operation: Operation) -> None:
        tasks = operation.tasks
        for task in tasks:
            if task.target is not None:
                task.live = self.cluster.get(task.key)
        for task in tasks:
            if task.running and task.live is not None and not task.is_prune:
                self._update_running(task)
        multi_step = len({(t.phase, t.wave) for t in tasks if t.phase != "SyncFail"}) > 1
        running = [t for t in tasks if (multi_step or t.hook) and t.running]
        if running:
            for task in running:
                if task.live is None and task.target is not None:
                    task.status, task.state = "SyncFailed", "Error"
                    task.message = f"Resource {task.key} is missing, it might have been deleted"
            operation.message = _waiting(running)
            return
        sync_fail = [t for t in tasks if t.phase == "SyncFail"]
        regular = [t for t in tasks if t.phase != "SyncFail"]
        if any(t.completed and not t.successful for t in regular) or any(
            t.status == "SyncFailed" for t in regular
        ):
            self._fail(
                operation, sync_fail, "one or more synchronization tasks completed unsuccessfully"
            )
            return
        pending = [t for t in regular if t.pending and t.status == ""]
        if not pending:
            operation.phase, operation.message = "Succeeded", "successfully synced (no more tasks)"
            return
        first = pending[0]
        current = [t for t in pending if (t.phase, t.wave) == (first.phase, first.wave)]
        remaining = [t for t in pending if (t.phase, t.wave) != (first.phase, first.wave)]
        if not self._run(operation, current):
            self._fail(operation, sync_fail, "one or more objects failed to apply")
            return
        if not remaining and not any(t.hook for t in current):
            operation.phase, operation.message = "Succeeded", "successfully synced (all tasks run)"
        else:
            operation.message = _waiting(current)

    def _update_running(self, task: Task) -> None:
        health = self.health(task.live or {})
        if task.hook:
            # getOperationPhase: Degraded/Unknown fail, Progressing/Suspended keep running,
            # anything else (Healthy, Missing, the empty status, no health) succeeds
            if health is not None and health.status in ("Degraded", "Unknown"):
                task.state, task.message = "Failed", health.message
            elif health is None or health.status not in ("Progressing", "Suspended"):
                task.state, task.message = "Succeeded", health.message if health else ""
            return
        if health is None or health.status == "Healthy":
            task.state = "Succeeded"
            task.message = health.message if health else task.message
        elif health.status == "Degraded":
            task.state, task.message = "Failed", health.message

    def _run(self, operation: Operation, tasks: list[Task]) -> bool:
        ok = True
        for task in [t for t in tasks if t.is_prune]:
            if not operation.prune:
                task.status, task.state, task.message = (
                    "PruneSkipped",
                    "Succeeded",
                    "ignored (requires pruning)",
                )
            elif has_option(task.live, "Prune=false"):
                task.status, task.state, task.message = (
                    "PruneSkipped",
                    "Succeeded",
                    "ignored (no prune)",
                )
            else:
                self.cluster.delete(task.key)
                self.owner.pop(task.key, None)
                self.applied.pop(task.key, None)
                task.status, task.state, task.message = "Pruned", "Succeeded", "pruned"
        creates = sorted([t for t in tasks if not t.is_prune], key=Task.order)
        for task in creates:
            try:
                live = self.cluster.create_or_update(task.target or {})
            except Refused as refused:
                task.status, task.state, task.message = "SyncFailed", "Failed", str(refused)
                ok = False
                continue
            if task.managed:
                self.owner[task.key] = operation.app
                self.applied[task.key] = content_hash(task.target or {})
            task.live = live
            task.status, task.state = "Synced", "Running"
            done = "created" if task.hook else "configured"
            task.message = f"{task.key.kind.lower()}/{task.key.name} {done}"
        return ok

    def _fail(self, operation: Operation, sync_fail: list[Task], message: str) -> None:
        for task in sync_fail:
            if task.pending:
                try:
                    self.cluster.create_or_update(task.target or {})
                    task.status, task.state = "Synced", "Running"
                except Refused as refused:
                    task.status, task.state, task.message = "SyncFailed", "Failed", str(refused)
        operation.phase = "Failed"
        failed = [f"{t.key}: {t.message}" for t in operation.failed_tasks()]
        operation.message = message + (": " + "; ".join(failed) if failed else "")


def _waiting(tasks: list[Task]) -> str:
    hooks = [t for t in tasks if t.hook]
    first = hooks[0] if hooks else tasks[0]
    reason = "completion of hook" if hooks else "healthy state of"
    more = len(tasks) - 1
    text = f"waiting for {reason} {first.key.group}/{first.key.kind}/{first.key.name}"
    return (
        f"{text} and {more} more {'hooks' if not [t for t in tasks if not t.hook] else 'resources'}"
        if more
        else text
    )


def _reverse_prune_waves(tasks: list[Task]) -> None:
    """Prune tasks run in the reverse order of their waves (getSyncTasks: symmetric swap)."""
    waves = sorted({t.wave for t in tasks if t.is_prune})
    mapping = dict(zip(waves, reversed(waves), strict=True))
    for task in tasks:
        if task.is_prune:
            task.wave_override = mapping[task.wave]

"""Argo CD's controllers as argo-cd v3.5.1 runs them, for the simulation:

- the ApplicationSet controller creates (and keeps) the Applications its generators produce and
  reports ResourcesUpToDate (applicationset/controllers/applicationset_controller.go); Argo CD's
  ApplicationSet health.lua reads that condition;
- the application controller (controller/appcontroller.go, controller/state.go,
  controller/health.go) compares each Application with its desired objects (Synced /
  OutOfSync), aggregates its health from its resources (the worst wins; a missing resource
  does not count, nor a child Application's Missing/Unknown; no live resource at all is
  Missing), starts an automated sync when the Application is OutOfSync (`autoSync`), retries a
  failed operation up to `syncPolicy.retry.limit` (default 5) and then gives up on that
  revision: "Skipping auto-sync: failed previous sync attempt" (alreadyAttemptedSync). A manual
  sync is an operation a person requests (`argocd app sync`, the UI, or the Application's
  `operation` field), with the prune flag the request carries (false unless asked: argocd CLI
  `--prune` defaults to false, cmd/argocd/commands/app.go; the UI's Prune box starts
  unticked).
The state of each Application is written back into its live object (`status.sync.status`,
`status.health`, `status.operationState`), where a parent's health check reads it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from gitops.simulation.argocd.projects import source_permitted
from gitops.simulation.argocd.sync import (
    Operation,
    SyncRequest,
    SyncRunner,
    Task,
    content_hash,
    hook_phases,
)
from gitops.simulation.cluster import Cluster, Refused
from gitops.simulation.health import Health, HealthStatus, ManagedResource, application_health
from gitops.simulation.keys import Key, key_of
from gitops.tree.findings import name_of
from gitops.tree.repo_sources import app_sources

ARGOCD_NAMESPACE = "argocd"
DEFAULT_RETRY_LIMIT = 5
UNLIMITED_RETRIES = 50
IN_CLUSTER = "https://kubernetes.default.svc"

# app -> its desired objects, or a message why they cannot be produced (ComparisonError)
DesiredOf = Callable[[dict[str, Any]], "list[dict[str, Any]] | str"]
# ApplicationSet -> the Applications it generates, or an error
GeneratedOf = Callable[[dict[str, Any]], "list[dict[str, Any]] | str"]
HealthOf = Callable[[dict[str, Any]], Health | None]


@dataclass
class AppState:
    """What the application controller knows of one Application."""

    name: str
    sync: str = "Unknown"
    health: Health = field(default_factory=lambda: Health("Missing"))
    operation: Operation | None = None
    last: Operation | None = None  # the last finished operation (status.operationState)
    retries: int = 0
    condition: str = ""  # ComparisonError / InvalidSpecError / SyncError text
    resources: dict[Key, Health | None] = field(default_factory=dict)  # last assessed
    pending_manual: tuple[bool] | None = None  # a requested sync (prune flag)
    attempted_revision: str = ""
    in_sync: dict[Key, bool] = field(default_factory=dict)  # managed resource -> Synced


class LogicalClock:
    """Timestamps for status.operationState (startedAt, finishedAt). The simulation has no
    real time (it runs each controller to rest), so these only order events: one second per
    operation event after a fixed epoch, in RFC 3339 as Argo CD writes them."""

    EPOCH = datetime(2026, 1, 1, tzinfo=UTC)

    def __init__(self) -> None:
        self.ticks = 0

    def now(self) -> str:
        self.ticks += 1
        return (self.EPOCH + timedelta(seconds=self.ticks)).strftime("%Y-%m-%dT%H:%M:%SZ")


class ArgoCD:
    def __init__(
        self,
        cluster: Cluster,
        desired_of: DesiredOf,
        generated_of: GeneratedOf,
        health_of: HealthOf,
        revision: str = "main",
    ) -> None:
        self.cluster = cluster
        self.desired_of = desired_of
        self.generated_of = generated_of
        self.health_of = health_of
        self.revision = revision
        self.owner: dict[Key, str] = {}  # live object -> the Application that applied it
        self.applied: dict[Key, str] = {}  # live object -> hash of what was applied
        self.runner = SyncRunner(cluster, health_of, self.owner, self.applied)
        self.apps: dict[str, AppState] = {}
        self.appset_errors: dict[str, str] = {}
        self.clock = LogicalClock()

    # --- what the world asks ------------------------------------------------------------

    def request_sync(self, name: str, prune: bool) -> str:
        """A person's sync (argocd app sync NAME [--prune], or the UI)."""
        if Key("argoproj.io", "Application", ARGOCD_NAMESPACE, name) not in self.cluster.objects:
            return f'application "{name}" not found'
        state = self.apps.setdefault(name, AppState(name))
        if state.operation is not None and not state.operation.done:
            return "another operation is already in progress"
        state.pending_manual = (prune,)
        return ""

    def application(self, name: str) -> dict[str, Any] | None:
        return self.cluster.get(Key("argoproj.io", "Application", ARGOCD_NAMESPACE, name))

    # --- one pass of both controllers ---------------------------------------------------

    def reconcile(self) -> bool:
        changed = self._applicationsets()
        for app in sorted(
            self.cluster.of_kind("argoproj.io", "Application", ARGOCD_NAMESPACE), key=name_of
        ):
            changed |= self._application(app)
        return changed

    def retry_failed(self) -> bool:
        """Retry every failed operation whose retries are not spent (the backoff has passed)."""
        changed = False
        for state in self.apps.values():
            last = state.operation
            if last is None or last.phase != "Failed" or state.retries >= self._retry_limit(state):
                continue
            app = self.application(state.name)
            if app is None:
                continue
            state.retries += 1
            state.operation = self._start(app, state, last.prune)
            changed = True
        return changed

    def _retry_limit(self, state: AppState) -> int:
        app = self.application(state.name) or {}
        retry = ((app.get("spec") or {}).get("syncPolicy") or {}).get("retry")
        if retry is None:
            # an automated sync retries 5 times by default (appcontroller.go autoSync);
            # a manual sync without a retry strategy does not
            return DEFAULT_RETRY_LIMIT if _automated(app) else 0
        limit = int(retry.get("limit", DEFAULT_RETRY_LIMIT))
        # a negative limit retries for ever (appcontroller.go); a model has to stop somewhere,
        # and past this many the outcome no longer changes
        return limit if limit >= 0 else UNLIMITED_RETRIES

    def _applicationsets(self) -> bool:
        changed = False
        for appset in list(self.cluster.of_kind("argoproj.io", "ApplicationSet")):
            generated = self.generated_of(appset)
            status: dict[str, Any]
            if isinstance(generated, str):
                status = {
                    "conditions": [
                        {
                            "type": "ErrorOccurred",
                            "status": "True",
                            "reason": "ApplicationGenerationFromParamsError",
                            "message": generated,
                        }
                    ]
                }
            else:
                for app in generated:
                    key = key_of(app)
                    if self.applied.get(key) != content_hash(app):
                        try:
                            self.cluster.create_or_update(app)
                        except Refused as refused:
                            generated = str(refused)
                            break
                        self.applied[key] = content_hash(app)
                        self.owner[key] = f"applicationset/{name_of(appset)}"
                        changed = True
                status = {
                    "conditions": [
                        {
                            "type": "ErrorOccurred",
                            "status": "False",
                            "reason": "ApplicationSetUpToDate",
                            "message": "Successfully generated parameters for all Applications",
                        },
                        {
                            "type": "ResourcesUpToDate",
                            "status": "True",
                            "reason": "ApplicationSetUpToDate",
                            "message": "ApplicationSet up to date",
                        },
                    ]
                }
            if appset.get("status") != status:
                appset["status"] = status
                changed = True
        return changed

    def _application(self, app: dict[str, Any]) -> bool:
        name = name_of(app)
        state = self.apps.setdefault(name, AppState(name))
        before = json.dumps(app.get("status"), sort_keys=True, default=str)
        desired = self.desired_of(app)
        project = self._project(app)
        if isinstance(desired, str):
            state.condition, state.sync = f"ComparisonError: {desired}", "Unknown"
            desired = []
        elif project is None:
            state.condition = (
                f"InvalidSpecError: Application referencing project "
                f"{(app.get('spec') or {}).get('project')} which does not exist"
            )
            state.sync = "Unknown"
        elif refused := self._source_refused(app, project):
            state.condition, state.sync = f"InvalidSpecError: {refused}", "Unknown"
        else:
            state.condition = ""
            state.sync = self._compare(app, desired)
        changed = False
        if state.operation is not None and not state.operation.done:
            changed |= self.runner.step(state.operation)
            if state.operation.done:
                state.operation.finished_at = state.operation.finished_at or self.clock.now()
                state.last = state.operation
                state.attempted_revision = state.operation.revision
                state.sync = (
                    self._compare(app, desired) if not isinstance(desired, str) else state.sync
                )
        elif project is not None and not state.condition:
            changed |= self._maybe_start(app, state)
        state.health = self._health(app, desired if isinstance(desired, list) else [])
        app["status"] = self._status(state)
        return changed or json.dumps(app["status"], sort_keys=True, default=str) != before

    def _maybe_start(self, app: dict[str, Any], state: AppState) -> bool:
        if state.pending_manual is not None:
            (prune,) = state.pending_manual
            state.pending_manual = None
            state.retries = 0
            state.operation = self._start(app, state, prune)
            return True
        if not _automated(app) or state.sync != "OutOfSync":
            return False
        if state.attempted_revision == self.revision and state.last is not None:
            if state.last.phase != "Succeeded":
                state.condition = (
                    f"SyncError: Failed last sync attempt to {self.revision}: {state.last.message}"
                )
                return False
            if (
                not ((app.get("spec") or {}).get("syncPolicy") or {})
                .get("automated", {})
                .get("selfHeal")
            ):
                return False
        prune = bool(
            (((app.get("spec") or {}).get("syncPolicy") or {}).get("automated") or {}).get("prune")
        )
        state.retries = 0
        state.operation = self._start(app, state, prune)
        return True

    def _start(self, app: dict[str, Any], state: AppState, prune: bool) -> Operation:
        spec = app.get("spec") or {}
        policy = spec.get("syncPolicy") or {}
        destination = spec.get("destination") or {}
        desired = self.desired_of(app)
        request = SyncRequest(
            app=state.name,
            project=self._project(app),
            server=str(destination.get("server") or IN_CLUSTER),
            namespace=str(destination.get("namespace") or ""),
            desired=desired if isinstance(desired, list) else [],
            owned=[
                self.cluster.objects[k]
                for k, owner in self.owner.items()
                if owner == state.name and k in self.cluster.objects
            ],
            prune=prune,
            options=list(policy.get("syncOptions") or []),
            managed_namespace_metadata=policy.get("managedNamespaceMetadata"),
        )
        operation = self.runner.start(request, self.revision)
        operation.started_at = self.clock.now()
        if operation.done:
            # Failed at validation: finished as it started, and, like any finished
            # operation, the attempt automated sync does not repeat for this revision.
            operation.finished_at = self.clock.now()
            state.last = operation
            state.attempted_revision = operation.revision
        return operation

    def _source_refused(self, app: dict[str, Any], project: dict[str, Any]) -> str:
        """argo.ValidatePermissions: each source's repoURL must be permitted by the project
        (util/argo/argo.go: "application repo %s is not permitted in project '%s'")."""
        for source in app_sources(app):
            url = str(source.get("repoURL", ""))
            if not source_permitted(project, url):
                name = (project.get("metadata") or {}).get("name")
                return f"application repo {url} is not permitted in project '{name}'"
        return ""

    def _project(self, app: dict[str, Any]) -> dict[str, Any] | None:
        name = str((app.get("spec") or {}).get("project") or "default")
        return self.cluster.get(Key("argoproj.io", "AppProject", ARGOCD_NAMESPACE, name))

    def _managed(
        self, app: dict[str, Any], desired: list[dict[str, Any]]
    ) -> list[tuple[Key, dict[str, Any]]]:
        """The Application's resources (hooks left out), namespaced objects without a
        namespace put into its destination's, as Argo CD does."""
        namespace = str(((app.get("spec") or {}).get("destination") or {}).get("namespace") or "")
        out = []
        for obj in desired:
            if hook_phases(obj):
                continue
            if namespace and self.cluster.is_namespaced(obj) and not key_of(obj).namespace:
                obj = {**obj, "metadata": {**(obj.get("metadata") or {}), "namespace": namespace}}
            out.append((key_of(obj), obj))
        return out

    def _compare(self, app: dict[str, Any], desired: list[dict[str, Any]]) -> str:
        keys = set()
        for key, obj in self._managed(app, desired):
            keys.add(key)
            if key not in self.cluster.objects or self.applied.get(key) != content_hash(obj):
                return "OutOfSync"
        extra = [
            k
            for k, owner in self.owner.items()
            if owner == name_of(app)
            and k not in keys
            and k in self.cluster.objects
            and not hook_phases(self.cluster.objects[k])
        ]
        return "OutOfSync" if extra else "Synced"

    def _health(self, app: dict[str, Any], desired: list[dict[str, Any]]) -> Health:
        """controller/health.go setApplicationHealth over the desired objects (hooks left out),
        with the worst resource named in the message for the explanation."""
        state = self.apps[name_of(app)]
        managed = [
            (key, ManagedResource(key.group, key.kind, obj, self.cluster.get(key)))
            for key, obj in self._managed(app, desired)
        ]
        result = application_health([m for _, m in managed], self.health_of, app)
        state.resources = {
            key: health for (key, _), health in zip(managed, result.resources, strict=True)
        }
        state.in_sync = {
            key: key in self.cluster.objects and self.applied.get(key) == content_hash(obj)
            for key, obj in self._managed(app, desired)
        }
        worst = next(
            (
                (key, health)
                for key, health in sorted(state.resources.items(), key=lambda kh: str(kh[0]))
                if health is not None
                and health.status == result.status
                and result.status != HealthStatus.HEALTHY
            ),
            None,
        )
        if worst is None:
            return Health(result.status, result.error or "")
        key, health = worst
        return Health(result.status, f"{key}: {health.message}" if health.message else str(key))

    def _status(self, state: AppState) -> dict[str, Any]:
        operation = state.operation
        status: dict[str, Any] = {
            "sync": {"status": state.sync, "revision": self.revision},
            "health": {"status": state.health.status, "message": state.health.message},
        }
        # status.resources and operationState.syncResult as Argo CD v3.5.1 writes them
        # (pkg/apis/application/v1alpha1/types.go ResourceStatus, SyncOperationResult,
        # ResourceResult): what notification templates read.
        status["resources"] = [
            _resource_status(key, state.in_sync.get(key, False), health)
            for key, health in sorted(state.resources.items(), key=lambda kh: str(kh[0]))
        ]
        if operation is not None:
            status["operationState"] = {
                "phase": operation.phase,
                "message": operation.message,
                "retryCount": state.retries,
                "operation": {"sync": {"prune": operation.prune, "revision": operation.revision}},
                "startedAt": operation.started_at,
                "syncResult": {
                    "revision": operation.revision,
                    "resources": [
                        _resource_result(task) for task in operation.tasks if task.status
                    ],
                },
            }
            if operation.finished_at:
                status["operationState"]["finishedAt"] = operation.finished_at
        if state.condition:
            kind, _, message = state.condition.partition(": ")
            status["conditions"] = [{"type": kind, "message": message}]
        return status


def _resource_status(key: Key, in_sync: bool, health: Health | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "group": key.group,
        "kind": key.kind,
        "namespace": key.namespace,
        "name": key.name,
        "status": "Synced" if in_sync else "OutOfSync",
    }
    if health is not None:
        out["health"] = {"status": health.status, "message": health.message}
    return out


def _resource_result(task: Task) -> dict[str, Any]:
    out: dict[str, Any] = {
        "group": task.key.group,
        "kind": task.key.kind,
        "namespace": task.key.namespace,
        "name": task.key.name,
        "status": task.status,
        "message": task.message,
        "syncPhase": task.phase,
    }
    if task.hook:
        out["hookPhase"] = task.state
    return out


def _automated(app: dict[str, Any]) -> bool:
    policy = (app.get("spec") or {}).get("syncPolicy") or {}
    automated = policy.get("automated")
    if automated is None:
        return False
    return automated.get("enabled", True) is not False

"""The simulation: one cluster, from what the bootstrap made to where Argo CD's sync stops.

`Simulation` holds the simulated API server (cluster.py), Argo CD (argocd/), the controllers
the tree relies on (workloads.py, external_secrets.py, load_balancers.py, charts.py) and the
world outside the manifests (world.py). The bootstrap stand-ins drive it with what a script
does (create a namespace or Secret, install Argo CD, apply the root Application, seed a model,
request a sync) and ask it what `kubectl get application` shows; `settle()` runs every
controller until nothing changes any more, then lets time pass: deadlines expire
(progressDeadlineSeconds, a Job's backoff) and failed operations are retried, and it runs to
rest again. What remains is where the first sync stops, for ever: a model of "eventually".
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops.simulation import charts, external_secrets, load_balancers, workloads
from gitops.simulation.argocd.controller import ARGOCD_NAMESPACE, ArgoCD
from gitops.simulation.cluster import Cluster, Refused
from gitops.simulation.health import (
    Health,
    MissingHealthScript,
    assess,
    overrides_from_argocd_cm,
)
from gitops.simulation.health.modelled_scripts import MODELLED
from gitops.simulation.health.unstructured import config_map_key
from gitops.simulation.keys import Key, key_of
from gitops.simulation.world import World
from gitops.tree.app_tree import App, ClusterTree
from gitops.tree.crds import CrdSet
from gitops.tree.findings import name_of, obj_ref
from gitops.tree.repo_sources import app_sources

ARGOCD_KINDS = {("argoproj.io", k) for k in ("Application", "ApplicationSet", "AppProject")}
MAX_ROUNDS = 200


@dataclass(frozen=True)
class AppView:
    """What `kubectl get application NAME` would show."""

    name: str
    sync: str
    health: str
    message: str
    operation: str  # phase of the last operation ("" when none ran)
    operation_message: str


class Simulation:
    """One cluster. `health_scripts`: Argo CD's built-in Lua health checks at the pinned
    version (the `argocd-health` set of upstream-files.yaml)."""

    def __init__(self, tree: ClusterTree, crds: CrdSet, world: World, health_scripts: Path) -> None:
        self.tree = tree
        self.world = world
        self.health_scripts = health_scripts
        self.cluster = Cluster(crds)
        self.cluster.webhooks = lambda obj, operation: charts.webhook_refusal(
            self.cluster, self.capabilities, obj, operation
        )
        self.workloads = workloads.Workloads()
        self.capabilities: set[str] = set()
        self.ingress_problems: dict[Key, str] = {}
        self.secret_events: dict[Key, str] = {}  # ExternalSecret -> its last Warning event
        self.operators = charts.Operators()
        self._apps = {a.ref: a for a in tree.apps}
        self.argocd: ArgoCD | None = None
        for name, labels in world.namespaces.items():
            self.create_namespace(name, labels)
        for ref, data in world.secrets.items():
            namespace, _, name = ref.partition("/")
            self.create_secret(namespace, name, data)
        for account in sorted(world.cloud.service_accounts):
            namespace, _, name = account.partition("/")
            self._put(
                {
                    "apiVersion": "v1",
                    "kind": "ServiceAccount",
                    "metadata": {"name": name, "namespace": namespace},
                }
            )
        if world.argocd_installed:
            self.install_argocd()

    # --- what a bootstrap does ----------------------------------------------------------

    def create_namespace(self, name: str, labels: dict[str, str] | None = None) -> None:
        if not self.cluster.namespace_exists(name):
            self.cluster.create_or_update(
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": name, "labels": dict(labels or {})},
                }
            )

    def create_secret(self, namespace: str, name: str, data: dict[str, str]) -> str:
        try:
            self.cluster.create_or_update(
                {
                    "apiVersion": "v1",
                    "kind": "Secret",
                    "metadata": {"name": name, "namespace": namespace},
                    "stringData": dict(data),
                }
            )
        except Refused as refused:
            return str(refused)
        self.world.secrets[f"{namespace}/{name}"] = dict(data)
        return ""

    def install_argocd(self) -> None:
        """The upstream install.yaml: its namespace, CRDs and controllers (argoproj/argo-cd
        v3.5.1 manifests/install.yaml)."""
        self.world.argocd_installed = True
        self.create_namespace(ARGOCD_NAMESPACE)
        self.cluster.install_crds(ARGOCD_KINDS)
        if self.argocd is None:
            self.argocd = ArgoCD(self.cluster, self._desired, self._generated, self.health)

    def apply(self, objects: list[dict[str, Any]]) -> list[str]:
        """`kubectl apply` of plain objects (the root Application and its project)."""
        errors = []
        for obj in objects:
            try:
                self.cluster.create_or_update(obj)
            except Refused as refused:
                errors.append(f"{obj_ref(obj)}: {refused}")
        return errors

    def request_sync(self, name: str, prune: bool) -> str:
        if self.argocd is None:
            return "Argo CD is not installed"
        return self.argocd.request_sync(name, prune)

    # --- time passes --------------------------------------------------------------------

    def settle(self) -> None:
        """Run to rest; then let deadlines expire and retries happen, and run to rest again."""
        for _ in range(MAX_ROUNDS):
            self._to_rest()
            expired = set(workloads.not_done(self.cluster, self.workloads)) - self.workloads.expired
            if expired:
                self.workloads.expired |= expired
                continue
            if self.argocd is not None and self.argocd.retry_failed():
                continue
            return

    def _to_rest(self) -> None:
        """Controllers act in seconds, Argo CD polls: the controllers run to rest before each
        pass of Argo CD's, so Argo CD never judges a state they were about to change."""
        for _ in range(MAX_ROUNDS):
            before = self._fingerprint()
            self._controllers_to_rest()
            if self.argocd is not None:
                self.argocd.reconcile()
            if self._fingerprint() == before:
                return

    def _controllers_to_rest(self) -> None:
        for _ in range(MAX_ROUNDS):
            before = self._fingerprint(apps=False)
            workloads.reconcile(self.cluster, self.world, self.workloads, self.capabilities)
            self.capabilities = charts.capabilities(self.cluster, self.workloads)
            charts.job_effects(self.cluster, self.workloads)
            self.operators.reconcile(self.cluster, self.workloads, self.capabilities)
            external_secrets.reconcile(
                self.cluster, self.world, self.capabilities, self.secret_events
            )
            load_balancers.reconcile(
                self.cluster, self.world, self.capabilities, self.ingress_problems
            )
            if self._fingerprint(apps=False) == before:
                return

    def _fingerprint(self, apps: bool = True) -> str:
        states = {}
        if apps and self.argocd is not None:
            states = {
                n: (
                    s.sync,
                    s.health.status,
                    s.operation.phase if s.operation else "",
                    s.operation.message if s.operation else "",
                    s.retries,
                )
                for n, s in self.argocd.apps.items()
            }
        objects = sorted((str(k), o) for k, o in self.cluster.objects.items())
        return json.dumps([objects, states, sorted(self.capabilities)], sort_keys=True, default=str)

    # --- what Argo CD reads -------------------------------------------------------------

    def health(self, obj: dict[str, Any]) -> Health | None:
        """Argo CD's verdict, with the argocd-cm the bootstrap installed."""
        overrides = overrides_from_argocd_cm(self.world.argocd_cm)
        try:
            return assess(obj, self.health_scripts, overrides)
        except MissingHealthScript:
            modelled = MODELLED.get(config_map_key(key_of(obj).group, key_of(obj).kind))
            if modelled is None:
                raise
            return modelled(obj)

    def _desired(self, app: dict[str, Any]) -> list[dict[str, Any]] | str:
        tree_app = self._apps.get(obj_ref(app))
        if tree_app is None:
            return f"no Application {name_of(app)} in the tree"
        sources = app_sources(tree_app.obj)
        if any("chart" in s for s in sources):
            return charts.objects(tree_app, self.world)
        return copy.deepcopy(tree_app.objects)

    def _generated(self, appset: dict[str, Any]) -> list[dict[str, Any]] | str:
        ref = obj_ref(appset)
        return [copy.deepcopy(a.obj) for a in self.tree.apps if a.generated_by == ref]

    def _put(self, obj: dict[str, Any]) -> None:
        self.cluster.objects[key_of(obj)] = obj

    # --- what it shows ------------------------------------------------------------------

    def application(self, name: str) -> AppView | None:
        if self.argocd is None:
            return None
        app = self.argocd.application(name)
        if app is None:
            return None
        status = app.get("status") or {}
        operation = status.get("operationState") or {}
        return AppView(
            name,
            str((status.get("sync") or {}).get("status", "")),
            str((status.get("health") or {}).get("status", "")),
            str((status.get("health") or {}).get("message", "")),
            str(operation.get("phase", "")),
            str(operation.get("message", "")),
        )

    def applications(self) -> list[AppView]:
        if self.argocd is None:
            return []
        names = sorted(
            name_of(a) for a in self.cluster.of_kind("argoproj.io", "Application", ARGOCD_NAMESPACE)
        )
        return [view for n in names if (view := self.application(n)) is not None]

    def replace_app(self, app: App) -> None:
        """A later commit changed what `app` deploys (gitops/simulation/revisions.py)."""
        self._apps[app.ref] = app

    def tree_app(self, name: str) -> App | None:
        return self._apps.get(f"Application {ARGOCD_NAMESPACE}/{name}")

"""The checks of `python -m gitops validate`: a registry, and the Context they all read.

A check is one module (or package) of this one that registers itself:

    @register("my-check", "what a pass proves, on one line of the summary")
    def check(ctx: Context) -> Iterable[Finding]: ...

`validate` imports every module here (`load_all`), builds one Context per run (everything
rendered and derived once) and runs what is registered, so adding a check is one new module
and touches nothing else. Options of `register`:

- order: where the check's line goes in the summary (ascending; checks without one come
  last, by name);
- background: the check mostly waits on other processes, so it runs in a thread beside
  the others instead of after them;
- prepare: called with the Settings before anything is rendered; what it returns is in
  `ctx.prepared[name]` (checkov starts its interpreter there, so its imports overlap the
  rendering);
- phases: parts of building the Context (`render`, `crds`, `trees`) whose time the check's
  summary line includes, because they are the work it reports on;
- generic: the check holds for any Argo CD + Kustomize tree (not only this platform's).

Checks import the tree and the settings, never each other (see [tool.importlinter] in
pyproject.toml).
"""

from __future__ import annotations

import importlib
import pkgutil
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gitops.settings import REPO_URL, Settings
from gitops.tree.app_tree import ClusterTree, TreeBuilder
from gitops.tree.crds import CrdSet, load_crds
from gitops.tree.findings import Finding
from gitops.tree.kustomizations import Rendered, discover, render_all
from gitops.tree.namespacing import is_namespaced
from gitops.tree.tenants import clusters, loose_tenants, tenant_namespaces
from gitops.tree.upstream import folder

DEFAULT_ORDER = 1000
# The phases of Context.build, each timed on its own.
PHASES = ("render", "crds", "trees")


class Context:
    """What one validation run has rendered and derived, computed once and shared by every
    check (background checks read it from their threads: nothing here changes after build,
    except `stats` and `cache`, where each check uses its own keys)."""

    def __init__(
        self,
        root: Path,
        rendered: dict[Path, Rendered],
        trees: list[ClusterTree],
        tenants: dict[str, frozenset[str]],
        crds: CrdSet,
        allow_examples: bool | None = None,
        *,
        settings: Settings | None = None,
        prepared: dict[str, Any] | None = None,
        seconds: dict[str, float] | None = None,
    ) -> None:
        self.root = root
        self.rendered = rendered  # every kustomization, the ones that fail to build included
        self.trees = trees
        self.tenants = tenants  # cluster -> tenant namespaces
        self.crds = crds
        self.settings = settings or Settings.from_env(root)
        # Example values (account ids, example.com hosts) are accepted only when this is set
        # (CI validates the tree as shipped; a real cluster's tree must not carry them).
        self.allow_examples = (
            self.settings.allow_examples if allow_examples is None else allow_examples
        )
        self.prepared = prepared or {}  # check name -> what its prepare hook returned
        self.seconds = seconds or {}  # phase -> seconds it took to build
        self.stats: dict[str, Any] = {}  # figures for the summary line
        self.cache: dict[str, Any] = {}  # anything a check computes once per run
        self.built = [r for r in rendered.values() if not r.error]
        self.all_tenants: frozenset[str] = frozenset().union(*tenants.values())
        # Every rendered output a per-object check looks at: each kustomization that builds,
        # then each Application of each cluster as Argo CD would deploy it.
        self.outputs: list[tuple[str, list[dict[str, Any]]]] = [
            (r.rel, r.objects) for r in self.built
        ] + [(app.where, app.objects) for tree in trees for app in tree.apps]

    @classmethod
    def build(
        cls,
        settings: Settings,
        allow_examples: bool | None = None,
        prepared: dict[str, Any] | None = None,
    ) -> Context:
        """Load the pinned CRDs, render every kustomization and follow each cluster's
        Application tree, timing each phase. Without the pinned CRDs nothing can be checked:
        UpstreamFilesError (gitops/tree/upstream.py) says how to get them."""
        root = settings.repo_root
        seconds: dict[str, float] = dict.fromkeys(PHASES, 0.0)
        with _Clock(seconds, "crds"):
            crds = load_crds(folder("crds", settings))
        with _Clock(seconds, "render"):
            rendered = render_all(discover(root), root)
        trees: list[ClusterTree] = []
        tenants: dict[str, frozenset[str]] = {}
        if (root / "clusters").is_dir():
            builder = TreeBuilder(root, REPO_URL, rendered, lambda obj: is_namespaced(obj, crds))
            for cluster in clusters(root):
                tenants[cluster] = tenant_namespaces(root, cluster)
                with _Clock(seconds, "trees"):
                    trees.append(builder.build(cluster))
        for cluster, names in loose_tenants(root).items():
            tenants.setdefault(cluster, names)
        ctx = cls(
            root,
            rendered,
            trees,
            tenants,
            crds,
            allow_examples,
            settings=settings,
            prepared=prepared,
            seconds=seconds,
        )
        ctx.stats["kustomizations"] = len(rendered)
        ctx.stats["objects"] = sum(len(r.objects) for r in ctx.built)
        ctx.stats["applications"] = {t.cluster: len(t.apps) for t in trees}
        return ctx

    def tree(self, cluster: str) -> ClusterTree | None:
        return next((t for t in self.trees if t.cluster == cluster), None)

    def is_namespaced(self, obj: dict[str, Any]) -> bool:
        return is_namespaced(obj, self.crds)


class _Clock:
    def __init__(self, seconds: dict[str, float], phase: str) -> None:
        self.seconds, self.phase = seconds, phase

    def __enter__(self) -> None:
        self.start = time.perf_counter()

    def __exit__(self, *_exc: object) -> None:
        self.seconds[self.phase] += time.perf_counter() - self.start


CheckFunction = Callable[[Context], Iterable[Finding]]


@dataclass(frozen=True)
class Check:
    name: str
    proves: str  # the summary's line for a passing check
    run: CheckFunction
    order: int = DEFAULT_ORDER
    background: bool = False
    prepare: Callable[[Settings], Any] | None = None
    phases: tuple[str, ...] = ()
    generic: bool = False


REGISTRY: dict[str, Check] = {}


def register(
    name: str,
    proves: str,
    *,
    order: int = DEFAULT_ORDER,
    background: bool = False,
    prepare: Callable[[Settings], Any] | None = None,
    phases: tuple[str, ...] = (),
    generic: bool = False,
) -> Callable[[CheckFunction], CheckFunction]:
    unknown = set(phases) - set(PHASES)
    if unknown:
        raise ValueError(f"check {name!r}: unknown phases {sorted(unknown)}; expected {PHASES}")

    def add(function: CheckFunction) -> CheckFunction:
        if name in REGISTRY:
            raise ValueError(f"check {name!r} registered twice")
        REGISTRY[name] = Check(name, proves, function, order, background, prepare, phases, generic)
        return function

    return add


def load_all() -> dict[str, Check]:
    """Import every module and subpackage of this package once, so each registers its check;
    return the checks in summary order (by `order`, then by name, whatever the import order)."""
    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return {c.name: c for c in sorted(REGISTRY.values(), key=lambda c: (c.order, c.name))}

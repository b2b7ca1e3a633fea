"""`sync-waves`: the order in which the root Application syncs the platform, defined in
one place (WAVE_ORDER)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

from gitops.checks import Context, register
from gitops.tree.app_tree import App, ClusterTree
from gitops.tree.findings import Finding, annotations_of, namespace_of, obj_ref

CHECK = "sync-waves"
WAVE_ANNOTATION = "argocd.argoproj.io/sync-wave"
# Each layer syncs in a strictly later wave than the one before it.
WAVE_ORDER = ("projects", "storage", "registry", "monitoring", "tenants")
# Layers outside that chain, each strictly after the layers it names. Waves are barriers
# (argo-cd v3.5.1 gitops-engine/pkg/sync/sync_context.go: a wave is applied only once every
# resource of the earlier waves is Healthy), so a component that nothing needs goes after
# everything: the rollout judge needs the registry and the monitoring CRDs and rules, and
# syncs after the tenants, where its health holds nothing back.
# Argo CD's own settings (argocd-cm, argocd-notifications-cm; the bootstrap applied them
# before the first sync) go after storage: on EKS their notifications webhook comes through
# the ClusterSecretStore of the storage layer.
SIDE_LAYERS = {
    "rollouts": ("registry", "monitoring", "tenants"),
    "argocd-settings": ("storage",),
}
# Application name or destination namespace -> layer, for Applications of platform pieces
# (EKS has no MinIO: its `storage` Application holds the S3 side).
NAME_LAYERS = {
    "minio": "storage",
    "storage": "storage",
    "mlflow": "registry",
    "registry": "registry",
    "monitoring": "monitoring",
    "kube-prometheus-stack": "monitoring",
    "rollout-judge": "rollouts",
    "argocd-settings": "argocd-settings",
}
NAMESPACE_LAYERS = {
    "minio": "storage",
    "mlflow": "registry",
    "monitoring": "monitoring",
    "rollout-judge": "rollouts",
}


def layer(obj: dict[str, Any], deployed: list[dict[str, Any]], tenants: frozenset[str]) -> str:
    """The layer of one object the root app syncs ("" when it belongs to none)."""
    kind = obj.get("kind")
    if kind == "AppProject":
        return "projects"
    dest = str(((obj.get("spec") or {}).get("destination") or {}).get("namespace") or "")
    if kind == "ApplicationSet":
        template = ((obj.get("spec") or {}).get("template") or {}).get("spec") or {}
        dest = str((template.get("destination") or {}).get("namespace") or "")
        return "tenants" if dest in tenants or "{{" in dest else ""
    name = str((obj.get("metadata") or {}).get("name") or "")
    if name in NAME_LAYERS:
        return NAME_LAYERS[name]
    if dest in NAMESPACE_LAYERS:
        return NAMESPACE_LAYERS[dest]
    if dest in tenants:
        return "tenants"
    kinds = {o.get("kind") for o in deployed}
    if kinds and kinds <= {"AppProject"}:
        return "projects"
    if kinds & {"Application", "ApplicationSet"} and any(
        namespace_of(o) in tenants
        or str(((o.get("spec") or {}).get("destination") or {}).get("namespace")) in tenants
        for o in deployed
    ):
        return "tenants"
    return ""


@register(
    CHECK,
    f"the root app syncs {' < '.join(WAVE_ORDER)}; rollouts last, after the tenants",
    order=70,
    generic=True,
)
def check(ctx: Context) -> Iterator[Finding]:
    for tree in ctx.trees:
        yield from check_tree(tree, ctx.tenants.get(tree.cluster, frozenset()))


def check_tree(tree: ClusterTree, tenants: frozenset[str]) -> list[Finding]:
    roots = [a for a in tree.apps if a.parent.startswith("clusters/")]
    deployed_by = {a.ref: a for a in tree.apps}
    findings: list[Finding] = []
    waves: dict[str, list[tuple[int, str]]] = {name: [] for name in (*WAVE_ORDER, *SIDE_LAYERS)}
    for root in roots:
        for obj in root.objects:
            if obj.get("kind") not in ("Application", "ApplicationSet", "AppProject"):
                continue
            child: App | None = deployed_by.get(obj_ref(obj))
            name = layer(obj, child.objects if child else [], tenants)
            if not name:
                continue
            raw = annotations_of(obj).get(WAVE_ANNOTATION)
            if raw is None and obj.get("kind") != "AppProject":
                findings.append(
                    Finding(
                        CHECK,
                        root.where,
                        obj_ref(obj),
                        f"no {WAVE_ANNOTATION} annotation",
                        f"a wave that places {name} in the order {' < '.join(WAVE_ORDER)}",
                    )
                )
                continue
            try:
                waves[name].append((int(str(raw or "0")), obj_ref(obj)))
            except ValueError:
                findings.append(
                    Finding(
                        CHECK,
                        root.where,
                        obj_ref(obj),
                        f"{WAVE_ANNOTATION} {raw!r} is not an integer",
                        "an integer wave",
                    )
                )
    present = [name for name in WAVE_ORDER if waves[name]]
    for earlier, later in itertools.pairwise(present):
        findings += _not_after(tree, waves, earlier, later, " < ".join(WAVE_ORDER))
    for side, after in SIDE_LAYERS.items():
        for earlier in after:
            if waves[side] and waves[earlier]:
                findings += _not_after(
                    tree, waves, earlier, side, f"{side} after {' and '.join(after)}"
                )
    # A side layer is optional (a tree without a rollout judge is still a platform).
    missing = [name for name in WAVE_ORDER if name != "projects" and not waves[name]]
    if roots and missing:
        findings.append(
            Finding(
                CHECK,
                f"{tree.cluster}: root Application",
                "",
                f"no Application for layer(s) {missing}",
                f"one Application (or ApplicationSet) per layer of {WAVE_ORDER}",
            )
        )
    return findings


def _not_after(
    tree: ClusterTree,
    waves: dict[str, list[tuple[int, str]]],
    earlier: str,
    later: str,
    expected: str,
) -> list[Finding]:
    """A finding when the first Application of layer `later` does not sync after the last of
    layer `earlier`; waves: layer -> (wave, object) of its Applications."""
    latest, first = max(waves[earlier]), min(waves[later])
    if latest[0] < first[0]:
        return []
    problem = f"{later} sync wave {first[0]} is not after {earlier} wave {latest[0]} ({latest[1]})"
    return [Finding(CHECK, f"{tree.cluster}: root Application", first[1], problem, expected)]

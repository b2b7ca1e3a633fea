"""Which objects are Argo CD or Helm hooks, as Argo CD decides before judging health.

Models gitops-engine/pkg/sync/hook/hook.go (HasHookFinalizer, IsHook, Skip, Types),
hook/helm/hook.go and hook/helm/type.go (Helm's hook annotation), sync/ignore/ignore.go and
sync/resource/annotations.go (GetAnnotationCSVs) at argoproj/argo-cd v3.5.1."""

from __future__ import annotations

from gitops.simulation.health.unstructured import JsonObject, annotations, finalizers

HOOK_ANNOTATION = "argocd.argoproj.io/hook"
HOOK_FINALIZER = "argocd.argoproj.io/hook-finalizer"
HELM_HOOK_ANNOTATION = "helm.sh/hook"
# sync/common/types.go NewHookType: the hook types Argo CD knows.
_ARGO_HOOK_TYPES = ("PreSync", "Sync", "PostSync", "SyncFail", "Skip")
# hook/helm/type.go: the Helm hooks Argo CD maps to its own (pre-* -> PreSync, post-* -> PostSync).
_HELM_HOOK_TYPES = {
    "pre-install": "PreSync",
    "pre-upgrade": "PreSync",
    "post-upgrade": "PostSync",
    "post-install": "PostSync",
}


def has_hook_finalizer(obj: JsonObject) -> bool:
    return HOOK_FINALIZER in finalizers(obj)


def hook_types(obj: JsonObject) -> list[str]:
    """hook.Types: the known Argo CD hook types in the annotation; only without any, the Helm
    hooks it maps."""
    types = [t for t in _csv(obj, HOOK_ANNOTATION) if t in _ARGO_HOOK_TYPES]
    if not types:
        types = [
            _HELM_HOOK_TYPES[t] for t in _csv(obj, HELM_HOOK_ANNOTATION) if t in _HELM_HOOK_TYPES
        ]
    return types


def is_skipped(obj: JsonObject) -> bool:
    """hook.Skip: the only hook type is Skip."""
    types = hook_types(obj)
    return "Skip" in types and len(types) == 1


def is_hook(obj: JsonObject) -> bool:
    """hook.IsHook: any Argo CD hook annotation but a lone Skip; else any Helm hook annotation
    other than crd-install (helm/hook.go)."""
    found = annotations(obj)
    if HOOK_ANNOTATION in found:
        return not is_skipped(obj)
    return HELM_HOOK_ANNOTATION in found and found[HELM_HOOK_ANNOTATION] != "crd-install"


def is_ignored(obj: JsonObject) -> bool:
    """ignore.Ignore: a hook whose annotation names no type Argo CD knows."""
    return is_hook(obj) and not hook_types(obj)


def _csv(obj: JsonObject, key: str) -> list[str]:
    """GetAnnotationCSVs: the comma-separated values, trimmed, empty ones dropped, de-duplicated."""
    values: list[str] = []
    for item in annotations(obj).get(key, "").split(","):
        value = item.strip()
        if value and value not in values:
            values.append(value)
    return values

"""An Application's health from its resources' health, as Argo CD v3.5.1 aggregates it
(controller/health.go setApplicationHealth, with controller/appcontroller.go
isSelfReferencedApp): the worst status of the resources that count, Missing when none of them
exists yet."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from gitops.simulation.health.hooks import is_hook, is_ignored, is_skipped
from gitops.simulation.health.status import Health, HealthStatus, is_worse
from gitops.simulation.health.unstructured import (
    JsonObject,
    annotations,
    go_quote,
    group_version_kind,
    kind_of,
    name,
    namespace,
    uid,
)

IGNORE_HEALTH_ANNOTATION = "argocd.argoproj.io/ignore-healthcheck"
_APPLICATION = ("argoproj.io", "Application")


@dataclass(frozen=True)
class ManagedResource:
    """One resource an Application manages (the controller's managedResource): its group and
    kind, what git wants (target) and what the cluster has (live, None before it exists)."""

    group: str
    kind: str
    target: JsonObject | None
    live: JsonObject | None


@dataclass(frozen=True)
class ApplicationHealth:
    """The aggregate status, each resource's health as Argo CD records it (None where it
    records none: a hook, a skipped or ignored resource, a kind without health), and the error
    Argo CD reports when a resource's check failed."""

    status: HealthStatus
    resources: tuple[Health | None, ...]
    error: str | None = None


def application_health(
    resources: Iterable[ManagedResource],
    assess: Callable[[JsonObject], Health | None],
    app: JsonObject | None = None,
) -> ApplicationHealth:
    """setApplicationHealth. Skipped: resources git marks Skip, live hooks and hook-like
    resources Argo CD ignores, resources annotated ignore-healthcheck "true", the Application
    itself when it manages itself, kinds without health. A resource not yet live is Missing but
    does not count; a child Application that is Missing or Unknown does not count either. Only
    the first error is reported: Argo CD counts errors only while none is saved, so its "see
    application-controller logs for N other errors" never appears."""
    status = HealthStatus.HEALTHY
    recorded: list[Health | None] = []
    error: str | None = None
    any_resource = any_live = False
    for res in resources:
        health = None
        if not _skipped(res):
            any_resource = True
            any_live = any_live or res.live is not None
            health = _health(res, assess, app)
        recorded.append(health)
        if health is None:
            continue
        if res.live is not None and health.error is not None and error is None:
            error = (
                f"failed to get resource health for {go_quote(kind_of(res.live))} with "
                f"name {go_quote(name(res.live))} in namespace {go_quote(namespace(res.live))}: "
                f"{health.error}"
            )
        if res.live is None and health.status == HealthStatus.MISSING:
            continue
        if (res.group, res.kind) == _APPLICATION and health.status in (
            HealthStatus.MISSING,
            HealthStatus.UNKNOWN,
        ):
            continue
        if is_worse(status, health.status):
            status = health.status
    if any_resource and not any_live and is_worse(status, HealthStatus.MISSING):
        status = HealthStatus.MISSING
    return ApplicationHealth(status, tuple(recorded), error)


def _skipped(res: ManagedResource) -> bool:
    """Not counted as a resource at all: a target marked Skip, a live hook or ignored hook."""
    if res.target is not None and is_skipped(res.target):
        return True
    return res.live is not None and (is_hook(res.live) or is_ignored(res.live))


def _health(
    res: ManagedResource, assess: Callable[[JsonObject], Health | None], app: JsonObject | None
) -> Health | None:
    if res.live is None:
        return Health(HealthStatus.MISSING)
    if annotations(res.live).get(IGNORE_HEALTH_ANNOTATION) == "true":
        return None
    if app is not None and _is_self(app, res.live):
        return None
    return assess(res.live)


def _is_self(app: JsonObject, live: JsonObject) -> bool:
    """isSelfReferencedApp: same uid, name and namespace, and an argoproj.io Application."""
    group, _version, kind = group_version_kind(live)
    return (
        (group, kind) == _APPLICATION
        and uid(live) == uid(app)
        and name(live) == name(app)
        and namespace(live) == namespace(app)
    )

"""`python -m training seed --cluster C`: the first version of every model the tenants of a
cluster declare (overlays/C/tenants/<tenant>/models.yaml) whose alias is not set yet, trained
and promoted to that alias.

A tenant's pods become ready only once every model they serve resolves, so a freshly
bootstrapped cluster needs one version per declared model before its tenant Applications can
be Healthy. Seeding trains only what training's catalog (training/tenants.yaml) knows how to
train: a declared model outside it (one a team trains with its own code) is reported and
skipped, its team registers its versions. Seeding never touches an alias that is already set
(later versions go through `promote` and its gate), and a model pinned to a version is
reported, not trained: a pin names a version that must already exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from inference.contracts.tenant_models import ModelEntry
from training.errors import UsageError
from training.lifecycle import promote, registry
from training.lifecycle.catalog import TenantModel, by_model_name, load_catalog
from training.lifecycle.overlays import cluster_tenants
from training.lifecycle.train import train
from training.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient


@dataclass(frozen=True)
class Seeded:
    tenant: str
    model: str
    served: str  # the alias (@staging) or pinned version (/3) the declaration serves
    version: str | None  # what it resolves to now
    action: str  # "trained and promoted", "already set", "pinned version missing", ...


PINNED_MISSING = "pinned version missing"
NOT_IN_CATALOG = "skipped: not in the catalog; register its first version yourself"


def seed(client: MlflowClient, settings: Settings, cluster: str, by: str | None) -> list[Seeded]:
    overlays = cluster_tenants(cluster, settings.overlays_root)
    if not overlays:
        raise UsageError(f"--cluster {cluster!r}: no tenant overlays in overlays/{cluster}/tenants")
    catalog = by_model_name(load_catalog(settings.tenants_file))
    results = []
    for overlay in overlays:
        for entry in overlay.declaration().models:
            results.append(_seed_one(client, settings, cluster, by, overlay.tenant, entry, catalog))
    return results


def _seed_one(
    client: MlflowClient,
    settings: Settings,
    cluster: str,
    by: str | None,
    tenant: str,
    entry: ModelEntry,
    catalog: dict[str, TenantModel],
) -> Seeded:
    if entry.version is not None:
        exists = any(v.version == entry.version for v in registry.versions(client, entry.name))
        action = "pinned version exists" if exists else PINNED_MISSING
        return Seeded(tenant, entry.name, f"/{entry.version}", None, action)
    assert entry.alias is not None
    current = registry.alias_version_if_any(client, entry.name, entry.alias)
    if current is not None:
        return Seeded(tenant, entry.name, f"@{entry.alias}", current, "already set")
    trainable = catalog.get(entry.name)
    if trainable is None:
        return Seeded(tenant, entry.name, f"@{entry.alias}", None, NOT_IN_CATALOG)
    trained = train(trainable, settings, by=by)
    promote.promote(
        client,
        settings,
        entry.name,
        trained.version,
        entry.alias,
        reason=f"first version of {tenant} on {cluster}",
        by=by,
    )
    return Seeded(tenant, entry.name, f"@{entry.alias}", trained.version, "trained and promoted")

"""`python -m training seed --cluster C`: the first model version of every tenant of a cluster
whose served alias is not set yet, trained and promoted to that alias.

A tenant's pods become ready only once its model resolves, so a freshly bootstrapped cluster
needs one version per tenant before its tenant Applications can be Healthy. Seeding never
touches an alias that is already set (later versions go through `promote` and its gate), and
a tenant pinned to a version (models:/<name>/<n>) is reported, not trained: a pin names a
version that must already exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from training.errors import UsageError
from training.lifecycle import promote, registry
from training.lifecycle.catalog import by_model_name, load_catalog
from training.lifecycle.overlays import cluster_tenants
from training.lifecycle.train import train
from training.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient


@dataclass(frozen=True)
class Seeded:
    tenant: str
    model: str
    served: str  # the alias or pinned version the overlay serves
    version: str | None  # what it resolves to now
    action: str  # "trained and promoted", "already set", "pinned version missing", ...


def seed(client: MlflowClient, settings: Settings, cluster: str, by: str | None) -> list[Seeded]:
    overlays = cluster_tenants(cluster, settings.overlays_root)
    if not overlays:
        raise UsageError(f"--cluster {cluster!r}: no tenant overlays in overlays/{cluster}/tenants")
    catalog = by_model_name(load_catalog(settings.tenants_file))
    results = []
    for overlay in overlays:
        uri = overlay.model_uri()
        if uri.version is not None:
            exists = any(v.version == uri.version for v in registry.versions(client, uri.name))
            action = "pinned version exists" if exists else "pinned version missing"
            results.append(Seeded(overlay.tenant, uri.name, f"/{uri.version}", None, action))
            continue
        assert uri.alias is not None
        current = _alias_version(client, uri.name, uri.alias)
        if current is not None:
            results.append(
                Seeded(overlay.tenant, uri.name, f"@{uri.alias}", current, "already set")
            )
            continue
        entry = catalog.get(uri.name)
        if entry is None:
            raise UsageError(
                f"{overlay.model_env}: model {uri.name} is not in {settings.tenants_file.name} "
                f"(known: {', '.join(sorted(catalog)) or 'none'})"
            )
        trained = train(entry, settings, by=by)
        promote.promote(
            client,
            settings,
            uri.name,
            trained.version,
            uri.alias,
            reason=f"first version of {overlay.tenant} on {cluster}",
            by=by,
        )
        results.append(
            Seeded(
                overlay.tenant, uri.name, f"@{uri.alias}", trained.version, "trained and promoted"
            )
        )
    return results


def _alias_version(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version the alias points at; None when the alias or the whole model is missing."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_registered_model(name).aliases.get(alias)
    except MlflowException as error:
        if getattr(error, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise

"""Every model of every tenant with its aliases, versions and metrics, and what each cluster's
overlays declare of it (overlays/<cluster>/tenants/<tenant>/models.yaml)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from training.lifecycle import evaluate, registry
from training.lifecycle.catalog import TenantModel, by_model_name
from training.lifecycle.overlays import cluster_tenants

if TYPE_CHECKING:
    from mlflow import MlflowClient


@dataclass(frozen=True)
class StatusRow:
    tenant: str
    model: str
    pointer: str  # alias name, "latest", or "not registered"
    version: str
    metrics: dict[str, float]
    git_commit: str
    created: str
    # The version's ONNX equivalence gate (passed, failed, unsupported); "" before it existed.
    onnx: str = ""
    # What the clusters declare: "kind @staging, eks @production"; "" when none does.
    declared: str = ""


@dataclass(frozen=True)
class Declared:
    """A model some tenant overlay declares: the tenant, and per cluster what it follows."""

    tenant: str
    clusters: dict[str, str] = field(default_factory=dict)  # cluster -> "@alias" or "/version"

    def shown(self) -> str:
        return ", ".join(f"{c} {p}" for c, p in sorted(self.clusters.items()))


def declared_models(root: Path) -> dict[str, Declared]:
    """Model name -> who declares it and what each cluster serves of it."""
    found: dict[str, Declared] = {}
    overlays = root / "overlays"
    for cluster in (
        sorted(p.name for p in overlays.iterdir() if p.is_dir()) if overlays.is_dir() else []
    ):
        for overlay in cluster_tenants(cluster, root):
            for entry in overlay.declaration().models:
                pointer = f"@{entry.alias}" if entry.alias else f"/{entry.version}"
                found.setdefault(entry.name, Declared(overlay.tenant)).clusters[cluster] = pointer
    return found


def _created(timestamp_ms: int | None) -> str:
    if not timestamp_ms:
        return ""
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def collect(
    client: MlflowClient,
    catalog: dict[str, TenantModel],
    declared: dict[str, Declared] | None = None,
) -> list[StatusRow]:
    known = by_model_name(catalog)
    declared = declared or {}
    tenants = {entry.tenant for entry in catalog.values()} | {d.tenant for d in declared.values()}
    prefixes = tuple(f"{tenant}-" for tenant in sorted(tenants))
    # Tenant models only: the catalog's and the declared ones, plus older ones of a tenant.
    registered = {
        m.name: m for m in registry.registered_models(client) if m.name.startswith(prefixes)
    }
    rows: list[StatusRow] = []
    for name in sorted(known.keys() | declared.keys() | registered.keys()):
        tenant = known[name].tenant if name in known else ""
        tenant = declared[name].tenant if name in declared else tenant
        shown = declared[name].shown() if name in declared else ""
        if name not in registered:
            rows.append(StatusRow(tenant, name, "not registered", "", {}, "", "", "", shown))
            continue
        all_versions = {v.version: v for v in registry.versions(client, name)}
        pointers = sorted(registered[name].aliases.items())
        latest = max(all_versions, key=int, default=None)
        if latest is not None and latest not in {v for _, v in pointers}:
            pointers.append(("latest", latest))
        for pointer, number in pointers:
            version = all_versions.get(number)
            if version is None:
                continue
            rows.append(
                StatusRow(
                    tenant,
                    name,
                    pointer,
                    number,
                    evaluate.run_metrics(client, version),
                    (version.tags.get("git_commit") or "")[:10],
                    _created(version.creation_timestamp),
                    version.tags.get("onnx_gate", ""),
                    shown,
                )
            )
    return rows

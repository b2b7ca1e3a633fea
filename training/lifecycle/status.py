"""Every tenant model with its aliases, versions and metrics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from training.lifecycle import evaluate, registry
from training.lifecycle.catalog import TenantModel, by_model_name

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


def _created(timestamp_ms: int | None) -> str:
    if not timestamp_ms:
        return ""
    return datetime.fromtimestamp(timestamp_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def collect(client: MlflowClient, catalog: dict[str, TenantModel]) -> list[StatusRow]:
    known = by_model_name(catalog)
    prefixes = tuple(f"{entry.tenant}-" for entry in catalog.values())
    # Tenant models only: the catalog's, plus older ones of a tenant (e.g. another dataset).
    registered = {
        m.name: m for m in registry.registered_models(client) if m.name.startswith(prefixes)
    }
    rows: list[StatusRow] = []
    for name in sorted(known.keys() | registered.keys()):
        tenant = known[name].tenant if name in known else ""
        if name not in registered:
            rows.append(StatusRow(tenant, name, "not registered", "", {}, "", ""))
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
                )
            )
    return rows

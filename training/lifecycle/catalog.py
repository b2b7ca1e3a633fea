"""training/tenants.yaml: which dataset and estimator each tenant's model uses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from training.errors import UsageError, one_of
from training.lifecycle.datasets import LOADERS
from training.lifecycle.estimators import BUILDERS


@dataclass(frozen=True)
class TenantModel:
    tenant: str
    dataset: str
    estimator: str

    @property
    def model_name(self) -> str:
        return f"{self.tenant}-{self.dataset}"


def load_catalog(path: Path) -> dict[str, TenantModel]:
    """tenant -> TenantModel; every entry is checked so a typo fails here, not mid-training."""
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"{path}: cannot read tenants file: {error}") from None
    tenants = document.get("tenants")
    if not isinstance(tenants, dict):
        raise UsageError(
            f"{path}: expected a mapping `tenants: {{<tenant>: {{dataset, estimator}}}}`"
        )
    catalog: dict[str, TenantModel] = {}
    for tenant, entry in tenants.items():
        if not isinstance(entry, dict) or not {"dataset", "estimator"} <= entry.keys():
            raise UsageError(f"{path}: tenants.{tenant}: expected keys `dataset` and `estimator`")
        if entry["dataset"] not in LOADERS:
            problem = one_of("dataset", entry["dataset"], list(LOADERS))
            raise UsageError(f"{path}: tenants.{tenant}.dataset: {problem}")
        if entry["estimator"] not in BUILDERS:
            raise UsageError(
                f"{path}: tenants.{tenant}.estimator: "
                f"{one_of('estimator', entry['estimator'], list(BUILDERS))}"
            )
        catalog[str(tenant)] = TenantModel(str(tenant), entry["dataset"], entry["estimator"])
    return catalog


def tenant_model(catalog: dict[str, TenantModel], tenant: str) -> TenantModel:
    if tenant not in catalog:
        raise one_of("tenant", tenant, list(catalog))
    return catalog[tenant]


def by_model_name(catalog: dict[str, TenantModel]) -> dict[str, TenantModel]:
    return {entry.model_name: entry for entry in catalog.values()}

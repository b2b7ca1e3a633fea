"""Which metric names the dashboards and alerts need, and whether a scrape has them."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

# Names the inference service itself must export: its own metrics and the
# prometheus_client process/platform collectors.
# The models the contract test serves and scrapes (tests/monitoring/conftest.py): one
# service serving two models of one tenant, the first with a drift reference and a candidate
# in shadow, as the tenant's models.yaml declares them.
TENANT = "tenant-a"
MODEL_NAME = "tenant-a-monitoring-iris"
SECOND_MODEL = "tenant-a-monitoring-forest"
ALIAS = "staging"

SERVICE_PREFIXES = ("inference_", "process_", "python_")
PLATFORM_ALLOWLIST = Path(__file__).resolve().parent / "platform_metrics.txt"


def platform_allowlist(path: Path = PLATFORM_ALLOWLIST) -> set[str]:
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        name = line.split("#", 1)[0].strip()
        if name:
            names.add(name)
    return names


def is_service_metric(name: str) -> bool:
    return name.startswith(SERVICE_PREFIXES)


# The rollout judge's own metrics: checked against a real judge's scrape
# (tests/training/rollout/test_judge_integration.py), not allowlisted.
JUDGE_PREFIXES = ("rollout_judge_",)


def is_judge_metric(name: str) -> bool:
    return name.startswith(JUDGE_PREFIXES)


def exported_series_names(exposition: str) -> set[str]:
    """Names of the series a scrape of `exposition` yields: a histogram counts as its
    _bucket/_sum/_count series, which is what queries select."""
    return {
        sample.name
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def missing_service_metrics(used: set[str], exposition: str) -> list[str]:
    """Service metric names in `used` that a scrape of `exposition` would not yield."""
    exported = exported_series_names(exposition)
    return sorted(name for name in used if is_service_metric(name) and name not in exported)

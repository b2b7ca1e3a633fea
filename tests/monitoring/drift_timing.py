"""How long a shift of a given size takes to raise the drift alerts, derived from the rules.

The rules' parameters are read from base/monitoring/prometheusrule-drift.yaml (the window of
the increase(), the tiers' factor and floor on the chance level, the importance share each
tier needs, and `for:`), so the figures follow the file. With steady traffic, x minutes after a
step change the window holds a fraction x/W of shifted rows, so the observed shares are
(1 - x/W) * reference + x/W * shifted; the alert's condition holds from the first evaluation
whose PSI crosses the threshold, and it fires `for:` later. In a cluster add up to one scrape
and one evaluation interval.

    python -m tests.monitoring.drift_timing     # the table in docs/drift.md
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from training.lifecycle.reference_stats import psi

from .alert_rules import MONITORING_BASE, load_prometheus_rule

DRIFT_RULE = MONITORING_BASE / "prometheusrule-drift.yaml"
_DURATION = re.compile(r"^(\d+)([smh])$")
_THRESHOLD = re.compile(
    r"clamp_min\(\s*(?:(?P<factor>[0-9.]+)\s*\*\s*)?max by \([^)]*\) \(inference_drift_chance_psi\)"
    r",\s*(?P<floor>[0-9.]+)\)"
)
_SHARE = re.compile(
    r"inference_drift_drifted_importance:(?P<tier>warn|page)1h >= (?P<share>[0-9.]+)"
)
_WINDOW = re.compile(r"increase\(inference_drift_bin_rows_total\[(?P<window>\w+)\]\)")


def minutes(duration: str) -> float:
    match = _DURATION.match(duration)
    if match is None:
        raise ValueError(f"unsupported duration {duration!r}")
    return int(match[1]) * {"s": 1 / 60, "m": 1, "h": 60}[match[2]]


@dataclass(frozen=True)
class Tier:
    severity: str
    factor: float  # on the chance level
    floor: float  # the smallest PSI threshold
    share: float  # of the importance that must drift
    for_minutes: float

    def threshold(self, chance_psi: float) -> float:
        return max(self.factor * chance_psi, self.floor)


@dataclass(frozen=True)
class DriftRules:
    window_minutes: float
    tiers: dict[str, Tier]  # warn, page


def read_rules() -> DriftRules:
    rules = [
        rule
        for group in load_prometheus_rule(DRIFT_RULE)["spec"]["groups"]
        for rule in group["rules"]
    ]
    records = {rule["record"]: rule["expr"] for rule in rules if "record" in rule}
    window = _WINDOW.search(
        records["tenant_model_version_feature_bin:inference_drift_bin_rows:increase1h"]
    )
    assert window is not None
    tiers = {}
    for rule in rules:
        if rule.get("alert") != "InferenceFeatureDrift":
            continue
        share = _SHARE.search(rule["expr"])
        assert share is not None, rule["expr"]
        tier = share["tier"]
        found = _THRESHOLD.search(
            records[f"tenant_model_version_feature:inference_drift_psi_threshold:{tier}"]
        )
        assert found is not None
        tiers[tier] = Tier(
            rule["labels"]["severity"],
            float(found["factor"] or 1),
            float(found["floor"]),
            float(share["share"]),
            minutes(rule["for"]),
        )
    return DriftRules(minutes(window["window"]), tiers)


def minutes_to_cross(
    reference: np.ndarray, shifted: np.ndarray, threshold: float, window_minutes: float
) -> int | None:
    """The first whole minute after a step change at which the window's PSI exceeds the
    threshold (evaluations once a minute); None when even a full window does not."""
    for x in range(1, int(window_minutes) + 1):
        fraction = x / window_minutes
        observed = (1 - fraction) * reference + fraction * shifted
        if float(psi(observed, reference)) > threshold:
            return x
    return None


def minutes_to_fire(
    features: list[dict[str, Any]], shifted: dict[str, np.ndarray], tier: Tier, window: float
) -> int | None:
    """Minutes from a step change (`shifted` shares per feature; others unchanged) until the
    tier fires: once the drifted features' importance reaches the tier's share, plus `for:`."""
    crossed = []
    for feature in features:
        if feature["name"] not in shifted:
            continue
        reference = np.asarray(feature["shares"])
        at = minutes_to_cross(
            reference, shifted[feature["name"]], tier.threshold(feature["chance_psi"]), window
        )
        if at is not None:
            crossed.append((at, feature["importance"]))
    total = 0.0
    for at, importance in sorted(crossed):
        total += importance
        if total >= tier.share:
            return at + int(tier.for_minutes)
    return None


def shifted_shares(document: dict[str, Any], frame: Any, shift_sd: float) -> dict[str, np.ndarray]:
    """Each feature's bin shares after adding shift_sd standard deviations to its training
    values, binned as the service bins them."""
    from training.lifecycle.reference_stats import FeatureBins, shares

    found = {}
    for feature in document["features"]:
        column = frame[feature["name"]]
        binning = FeatureBins(feature["name"], "numeric", edges=tuple(feature["edges"]))
        moved = column + shift_sd * column.std()
        found[feature["name"]] = shares(binning.assign(moved.tolist()), binning.bins)
    return found


def table() -> str:  # pragma: no cover - documentation helper
    from training.lifecycle import datasets, estimators
    from training.lifecycle.catalog import load_catalog
    from training.lifecycle.train import drift_reference
    from training.settings import Settings

    settings = Settings.from_env()
    rules = read_rules()
    lines = [
        "| tenant | shift (training SDs) | features shifted | PSI of the most important "
        "| warn fires after | page fires after |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for entry in load_catalog(settings.tenants_file).values():
        data = datasets.split(entry.dataset, settings.split_seed, settings.test_size)
        pipeline = estimators.build(entry.estimator, settings.split_seed).fit(
            data.x_train, data.y_train
        )
        document = drift_reference(pipeline, data, settings)
        features = document["features"]
        top = max(features, key=lambda f: f["importance"])
        for shift in (0.25, 0.5, 1.0, 2.0):
            moved = shifted_shares(document, data.x_train, shift)
            for which, chosen in (("most important", {top["name"]}), ("all", set(moved))):
                subset = {k: v for k, v in moved.items() if k in chosen}
                top_psi = float(psi(moved[top["name"]], np.asarray(top["shares"])))
                cells = []
                for tier in ("warn", "page"):
                    after = minutes_to_fire(
                        features, subset, rules.tiers[tier], rules.window_minutes
                    )
                    cells.append("never" if after is None else f"{after} min")
                lines.append(
                    f"| {entry.tenant} ({entry.dataset}) | {shift:g} | {which} | {top_psi:.2f} | "
                    + " | ".join(cells)
                    + " |"
                )
    return "\n".join(lines)


if __name__ == "__main__":  # pragma: no cover
    print(table())

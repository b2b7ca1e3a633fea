"""Drift counting in the serving path: for every request, rows per bin of each monitored feature
and rows per predicted class, exported as Prometheus counters beside the reference they are
compared with.

A version trained by `python -m training train` carries a drift reference
(training/lifecycle/reference_stats.py writes it into the model folder, MLmodel's
`metadata.drift_reference` names the file): the bins of each feature, the share of training
rows per bin, the feature's importance, and the drift score expected by chance at the window
size the alerts use. The loader attaches it to the ServedModel, so it swaps with the version.
The recording rules of base/monitoring/prometheusrule-drift.yaml turn the counters' increase
over a window, summed across replicas, into PSI and Jensen-Shannon distance against the
reference shares exported here; nothing is computed per request but bin indices and sums.

Exported series (the names are a contract, like metrics.py's; tests/monitoring checks them),
all labelled with the served `model` and `version`:

| name | type | extra labels |
| --- | --- | --- |
| inference_drift_rows_total | counter | |
| inference_drift_bin_rows_total | counter | feature, bin |
| inference_drift_prediction_rows_total | counter | class |
| inference_drift_reference_share | gauge | feature, bin, range (the bin's edges or value) |
| inference_drift_reference_prediction_share | gauge | class |
| inference_drift_feature_importance | gauge | feature |
| inference_drift_chance_psi, inference_drift_chance_js_distance | gauge | feature |
| inference_drift_chance_prediction_psi, inference_drift_chance_prediction_js_distance | gauge | |
| inference_drift_window_rows | gauge | |

`bin` is the bin's index ("0", "1", ...) or "missing", so label values stay bounded: at most
DRIFT_MAX_FEATURES x (DRIFT_MAX_BINS + 1) bin series per version. Every bin starts at zero
when the version is loaded, so increase() sees a bin's first rows and an empty bin still
counts in the PSI. A version without a reference exports none of these, and /model/info says
why.

The reference and the counts are the version's own (models/version_drift.py): this module
builds the counts on first use and exports them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from inference.models.model import ServedModel
from inference.models.version_drift import (
    MISSING_BIN,
    NO_REFERENCE,
    DriftCounts,
    ReferenceError,
    parse_reference,
)

log = logging.getLogger("inference.drift")


@dataclass
class _Families:
    """One scrape's metric families, filled version by version."""

    rows: CounterMetricFamily
    bin_rows: CounterMetricFamily
    prediction_rows: CounterMetricFamily
    reference_share: GaugeMetricFamily
    reference_prediction_share: GaugeMetricFamily
    importance: GaugeMetricFamily
    chance_psi: GaugeMetricFamily
    chance_js: GaugeMetricFamily
    chance_prediction_psi: GaugeMetricFamily
    chance_prediction_js: GaugeMetricFamily
    window_rows: GaugeMetricFamily
    all: list[Metric] = field(default_factory=list)

    @classmethod
    def empty(cls) -> _Families:
        v = ["model", "version"]
        f = [*v, "feature"]
        families = cls(
            rows=CounterMetricFamily(
                "inference_drift_rows", "Rows counted for drift monitoring.", labels=v
            ),
            bin_rows=CounterMetricFamily(
                "inference_drift_bin_rows",
                "Rows whose feature value fell in the bin (bin: index or missing).",
                labels=[*f, "bin"],
            ),
            prediction_rows=CounterMetricFamily(
                "inference_drift_prediction_rows",
                "Rows predicted as the class, for prediction drift.",
                labels=[*v, "class"],
            ),
            reference_share=GaugeMetricFamily(
                "inference_drift_reference_share",
                "Share of training rows in the bin; range shows its edges or value.",
                labels=[*f, "bin", "range"],
            ),
            reference_prediction_share=GaugeMetricFamily(
                "inference_drift_reference_prediction_share",
                "Share of training rows the version predicts as the class.",
                labels=[*v, "class"],
            ),
            importance=GaugeMetricFamily(
                "inference_drift_feature_importance",
                "Permutation importance of the feature, normalised over monitored features.",
                labels=f,
            ),
            chance_psi=GaugeMetricFamily(
                "inference_drift_chance_psi",
                "99th percentile of the feature's PSI by chance at inference_drift_window_rows.",
                labels=f,
            ),
            chance_js=GaugeMetricFamily(
                "inference_drift_chance_js_distance",
                "99th percentile of the feature's JS distance by chance at the window rows.",
                labels=f,
            ),
            chance_prediction_psi=GaugeMetricFamily(
                "inference_drift_chance_prediction_psi",
                "99th percentile of the predicted-class PSI by chance at the window rows.",
                labels=v,
            ),
            chance_prediction_js=GaugeMetricFamily(
                "inference_drift_chance_prediction_js_distance",
                "99th percentile of the predicted-class JS distance by chance at the window rows.",
                labels=v,
            ),
            window_rows=GaugeMetricFamily(
                "inference_drift_window_rows",
                "Fewest rows a drift alert window needs; the chance levels hold at this size.",
                labels=v,
            ),
        )
        families.all = [
            families.rows,
            families.bin_rows,
            families.prediction_rows,
            families.reference_share,
            families.reference_prediction_share,
            families.importance,
            families.chance_psi,
            families.chance_js,
            families.chance_prediction_psi,
            families.chance_prediction_js,
            families.window_rows,
        ]
        return families

    def add(self, model: ServedModel, counts: DriftCounts) -> None:
        version = [model.name, model.version]
        reference = counts.reference
        self.rows.add_metric(version, counts.rows)
        self.window_rows.add_metric(version, reference.window_rows)
        bins = iter(counts.bin_counts())
        for feature in reference.features:
            named = [*version, feature.name]
            self.importance.add_metric(named, feature.importance)
            self.chance_psi.add_metric(named, feature.chance_psi)
            self.chance_js.add_metric(named, feature.chance_js_distance)
            for index, (share, shown) in enumerate(
                zip(feature.shares, feature.ranges, strict=True)
            ):
                label = MISSING_BIN if index == feature.missing else str(index)
                self.bin_rows.add_metric([*named, label], next(bins))
                self.reference_share.add_metric([*named, label, shown], share)
        prediction = reference.prediction
        if prediction is not None:
            self.chance_prediction_psi.add_metric(version, prediction.chance_psi)
            self.chance_prediction_js.add_metric(version, prediction.chance_js_distance)
            for name, share, count in zip(
                prediction.classes, prediction.shares, counts.class_counts, strict=True
            ):
                self.prediction_rows.add_metric([*version, name], count)
                self.reference_prediction_share.add_metric([*version, name], share)


class DriftMonitor:
    """Counts rows of the served versions and exports them (a prometheus_client collector)."""

    def __init__(
        self,
        enabled: bool,
        max_features: int,
        max_bins: int,
        served: Callable[[], Iterable[ServedModel | None]],
    ) -> None:
        self.enabled = enabled
        self.max_features = max_features
        self.max_bins = max_bins
        self._served = served

    def observe(self, model: ServedModel, rows: list[list[Any]], labels: list[Any]) -> None:
        """Count one answered request; never fails it."""
        drift = model.drift
        if drift is None or not self.enabled:
            return
        counts = drift.counts
        if counts is None:
            counts = self.counts_for(model)
            if counts is None:
                return
        try:
            counts.observe(rows, labels)
        except Exception as exc:  # a counting bug must never fail a prediction
            drift.counts = None
            drift.note = f"drift counting stopped: {type(exc).__name__}: {exc}"
            log.exception("drift counting of %s v%s stopped", model.name, model.version)

    def counts_for(self, model: ServedModel) -> DriftCounts | None:
        """The version's counts, built on first use; None when it is not monitored."""
        drift = model.drift
        if drift is None or not self.enabled:
            return None
        if not drift.prepared:
            drift.prepared = True
            if drift.document is not None:
                try:
                    reference = parse_reference(
                        drift.document, model.schema, self.max_features, self.max_bins
                    )
                    drift.counts = DriftCounts(reference, model.schema)
                except ReferenceError as exc:
                    drift.note = f"its drift reference is not usable: {exc}"
                    log.warning("%s v%s: %s", model.name, model.version, drift.note)
        return drift.counts

    def info(self, model: ServedModel) -> dict[str, Any]:
        """The drift part of /model/info."""
        if not self.enabled:
            return {"monitored": False, "reason": "drift monitoring is off (DRIFT_ENABLED=false)"}
        counts = self.counts_for(model)
        if counts is None:
            note = model.drift.note if model.drift is not None else NO_REFERENCE
            return {"monitored": False, "reason": note or NO_REFERENCE}
        reference = counts.reference
        return {
            "monitored": True,
            "window_rows": reference.window_rows,
            "rows_counted": counts.rows,
            "features": [
                {
                    "name": f.name,
                    "kind": f.kind,
                    "bins": f.bins,
                    "importance": round(f.importance, 4),
                    "chance_psi": round(f.chance_psi, 4),
                }
                for f in reference.features
            ],
            "not_monitored": list(reference.skipped),
            "predicted_classes": list(reference.prediction.classes)
            if reference.prediction
            else None,
        }

    # -- prometheus_client collector ------------------------------------------------------------

    def describe(self) -> list[Metric]:
        """The families, without samples: the registry checks names against other metrics."""
        return _Families.empty().all

    def collect(self) -> Iterator[Metric]:
        families = _Families.empty()
        for model in self._served():
            if model is None:
                continue
            counts = self.counts_for(model)
            if counts is not None:
                families.add(model, counts)
        # A family without samples would still print HELP and TYPE; leave it out.
        yield from (family for family in families.all if family.samples)

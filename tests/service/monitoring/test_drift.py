"""Drift counting in the service: the reference it accepts, the two counting paths, what it
exports, and that it never fails a request."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from inference.models.model import Prediction, ServedModel
from inference.models.schema import InputSchema
from inference.models.version_drift import (
    NO_REFERENCE,
    DriftCounts,
    ReferenceError,
    VersionDrift,
    parse_reference,
    read_version_drift,
)
from inference.monitoring.drift import DriftMonitor

SCHEMA = InputSchema.from_signature_inputs(
    [
        {"name": "x", "type": "double", "required": False},
        {"name": "y", "type": "double"},
        {"name": "colour", "type": "string", "required": False},
    ]
)


def _document() -> dict[str, Any]:
    numeric = {
        "kind": "numeric",
        "edges": [0.0, 1.0, 2.5],
        "ranges": ["(-inf, 0]", "(0, 1]", "(1, 2.5]", "(2.5, +inf)", "missing"],
        "shares": [0.1, 0.2, 0.3, 0.4, 0.0],
        "missing_rate": 0.0,
        "chance_psi": 0.2,
        "chance_js_distance": 0.1,
    }
    return {
        "format": 1,
        "window_rows": 300,
        "features": [
            {**copy.deepcopy(numeric), "name": "x", "importance": 0.5},
            {**copy.deepcopy(numeric), "name": "y", "importance": 0.3},
            {
                "name": "colour",
                "kind": "categorical",
                "values": ["red", "blue"],
                "ranges": ["= red", "= blue", "other", "missing"],
                "shares": [0.5, 0.3, 0.1, 0.1],
                "missing_rate": 0.1,
                "importance": 0.2,
                "chance_psi": 0.2,
                "chance_js_distance": 0.1,
            },
        ],
        "prediction": {
            "classes": ["0", "1"],
            "shares": [0.5, 0.5],
            "chance_psi": 0.1,
            "chance_js_distance": 0.1,
        },
    }


@dataclass
class _Model(ServedModel):
    def predict(self, rows: list[list[Any]]) -> Prediction:
        return Prediction([0] * len(rows), None)

    def _check(self) -> None:
        pass


def _model(version: str = "1", document: Any = None, note: str = "") -> _Model:
    model = _Model("tenant-a-m", version, "staging", SCHEMA, [[1.0, 1.0, "red"]])
    model.drift = VersionDrift(document=document, note=note)
    return model


def _scrape(monitor: DriftMonitor) -> dict[str, list[Any]]:
    registry = CollectorRegistry()
    registry.register(monitor)
    samples: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append(sample)
    return samples


def _monitor(*models: ServedModel, enabled: bool = True) -> DriftMonitor:
    return DriftMonitor(enabled, 32, 20, lambda: models)


# --- the reference document --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(format=2), "format: expected 1, got 2"),
        (lambda d: d.update(window_rows=0), "window_rows: expected a positive integer"),
        (lambda d: d.update(features={}), "features: expected a list"),
        (lambda d: d["features"][0].update(kind="mystery"), r"features\[0\].kind: expected one of"),
        (
            lambda d: d["features"][0].update(edges=[2.0, 1.0]),
            r"features\[0\].edges: expected strictly",
        ),
        (
            lambda d: d["features"][1]["shares"].pop(),
            r"features\[1\].shares: expected 5 shares, got 4",
        ),
        (lambda d: d["features"][1]["shares"].__setitem__(0, "a"), r"features\[1\].shares\[0\]"),
        (
            lambda d: d["features"][2].update(importance=-1),
            r"features\[2\].importance: expected a number >= 0",
        ),
        (
            lambda d: d["features"][2].update(ranges=["a"]),
            r"features\[2\].ranges: expected 4 strings",
        ),
        (lambda d: d["prediction"].update(shares=[1.0]), "prediction.shares: expected 2 shares"),
        (lambda d: d["features"][0].update(chance_psi=math.inf), r"chance_psi: expected a finite"),
    ],
)
def test_a_malformed_reference_is_refused_naming_the_field(change, message: str) -> None:
    document = _document()
    change(document)

    with pytest.raises(ReferenceError, match=message):
        parse_reference(document, SCHEMA, 32, 20)


def test_the_caps_keep_the_most_important_features_within_the_bins_allowed() -> None:
    document = _document()
    document["features"].append({**document["features"][0], "name": "gone"})

    few = parse_reference(document, SCHEMA, 2, 20)
    narrow = parse_reference(document, SCHEMA, 32, 3)

    assert [f.name for f in few.features] == ["x", "y"]
    assert "colour: beyond DRIFT_MAX_FEATURES=2 (less important)" in few.skipped
    assert "gone: not an input of this version" in few.skipped
    assert [f.name for f in narrow.features] == ["colour"]
    assert "x: 4 bins, more than DRIFT_MAX_BINS=3" in narrow.skipped


def test_a_version_without_a_reference_file_says_so(tmp_path) -> None:
    assert read_version_drift(tmp_path, None).note == NO_REFERENCE
    missing = read_version_drift(tmp_path, "drift_reference.json")
    assert missing.document is None
    assert "cannot read the drift reference drift_reference.json" in missing.note
    (tmp_path / "drift_reference.json").write_text('{"format": 1}')
    assert read_version_drift(tmp_path, "drift_reference.json").document == {"format": 1}


# --- counting ----------------------------------------------------------------------------------


def test_small_and_large_requests_count_alike_including_edges_and_missing_values() -> None:
    reference = parse_reference(_document(), SCHEMA, 32, 20)
    rng = np.random.default_rng(5)
    specials = [0.0, 1.0, 2.5, -math.inf, math.inf, math.nan, None, 1e300, -3]
    rows = [
        [
            rng.choice(specials) if rng.random() < 0.3 else float(rng.normal(1, 2)),
            float(rng.normal(1, 2)),
            rng.choice(["red", "blue", "green", None]),
        ]
        for _ in range(500)
    ]
    one_by_one = DriftCounts(reference, SCHEMA)
    for row in rows:
        one_by_one.observe([row], [0])
    in_bulk = DriftCounts(reference, SCHEMA)
    in_bulk.observe(rows, [0] * len(rows))

    assert one_by_one.bin_counts() == in_bulk.bin_counts()
    assert one_by_one.rows == in_bulk.rows == 500
    # Bin i holds edges[i-1] < v <= edges[i]: exactly as training's searchsorted(side="left").
    exact = DriftCounts(reference, SCHEMA)
    exact.observe([[0.0, 1.0, "red"], [2.5, 2.6, None], [None, -9.0, "green"]], [0, 1, 1])
    x, y, colour = (exact.bin_counts()[i * 5 : i * 5 + 5] for i in range(3))
    assert x == [1, 0, 1, 0, 1]
    assert y == [1, 1, 0, 1, 0]
    assert colour[:4] == [1, 0, 1, 1]
    assert exact.class_counts == [1, 2]


# --- what the service exports ------------------------------------------------------------------


def test_every_bin_is_exported_from_the_start_with_the_reference_beside_it() -> None:
    model = _model(document=_document())
    samples = _scrape(_monitor(model))

    bins = samples["inference_drift_bin_rows_total"]
    assert len(bins) == 5 + 5 + 4
    assert {s.value for s in bins} == {0}
    assert {s.labels["bin"] for s in bins} == {"0", "1", "2", "3", "missing"}
    assert all(s.labels["model"] == "tenant-a-m" and s.labels["version"] == "1" for s in bins)
    shares = {
        (s.labels["feature"], s.labels["bin"]): (s.labels["range"], s.value)
        for s in samples["inference_drift_reference_share"]
    }
    assert shares[("x", "2")] == ("(1, 2.5]", 0.3)
    assert shares[("colour", "2")] == ("other", 0.1)
    assert samples["inference_drift_window_rows"][0].value == 300
    assert {s.labels["class"] for s in samples["inference_drift_prediction_rows_total"]} == {
        "0",
        "1",
    }


def test_counts_follow_the_served_version_and_a_version_without_reference_exports_nothing() -> None:
    served: list[ServedModel] = [_model("1", document=_document())]
    monitor = DriftMonitor(True, 32, 20, lambda: served)
    monitor.observe(served[0], [[0.5, 0.5, "red"]] * 3, [1, 1, 0])
    samples = _scrape(monitor)
    assert samples["inference_drift_rows_total"][0].value == 3
    assert {
        (s.labels["feature"], s.labels["bin"]): s.value
        for s in samples["inference_drift_bin_rows_total"]
    }[("x", "1")] == 3

    served[0] = _model("2", document=_document())  # the swap
    samples = _scrape(monitor)
    assert [s.labels["version"] for s in samples["inference_drift_rows_total"]] == ["2"]
    assert samples["inference_drift_rows_total"][0].value == 0

    served[0] = _model("3", note=NO_REFERENCE)
    monitor.observe(served[0], [[0.5, 0.5, "red"]], [1])
    assert _scrape(monitor) == {}
    assert monitor.info(served[0]) == {"monitored": False, "reason": NO_REFERENCE}


def test_a_reference_the_service_cannot_use_is_reported_not_raised() -> None:
    broken = _document()
    broken["features"][0]["kind"] = "mystery"
    model = _model(document=broken)
    monitor = _monitor(model)

    monitor.observe(model, [[0.5, 0.5, "red"]], [0])

    assert _scrape(monitor) == {}
    info = monitor.info(model)
    assert info["monitored"] is False
    assert "features[0].kind: expected one of" in info["reason"]


def test_switched_off_it_counts_and_exports_nothing() -> None:
    model = _model(document=_document())
    monitor = _monitor(model, enabled=False)

    monitor.observe(model, [[0.5, 0.5, "red"]], [0])

    assert _scrape(monitor) == {}
    assert monitor.info(model)["reason"] == "drift monitoring is off (DRIFT_ENABLED=false)"


def test_a_counting_failure_never_fails_the_request_and_is_reported() -> None:
    model = _model(document=_document())
    monitor = _monitor(model)
    # A value numpy cannot take as a float (the schema would have refused it; a fault here
    # stands for any bug in counting).
    rows = [[0.5, 0.5, "red"]] * 20 + [["not a number", 0.5, "red"]]

    monitor.observe(model, rows, [0] * len(rows))

    info = monitor.info(model)
    assert info["monitored"] is False
    assert info["reason"].startswith("drift counting stopped: ValueError")
    monitor.observe(model, rows[:1], [0])  # and it stays quiet afterwards
    assert _scrape(monitor) == {}


def test_info_describes_what_is_monitored() -> None:
    document = copy.deepcopy(_document())
    model = _model(document=document)
    monitor = DriftMonitor(True, 2, 20, lambda: [model])
    monitor.observe(model, [[0.5, 0.5, "red"]], [0])

    info = monitor.info(model)

    assert info["monitored"] is True
    assert info["window_rows"] == 300
    assert info["rows_counted"] == 1
    assert [f["name"] for f in info["features"]] == ["x", "y"]
    assert info["not_monitored"] == ["colour: beyond DRIFT_MAX_FEATURES=2 (less important)"]
    assert info["predicted_classes"] == ["0", "1"]

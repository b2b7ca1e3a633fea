"""The drift reference recorded with every version: reproducible, readable by the service, and
with chance levels that mean what they say."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from inference.models.schema import InputSchema
from inference.models.version_drift import DriftCounts, parse_reference
from training.errors import UsageError
from training.lifecycle import datasets, estimators, reference_stats
from training.lifecycle.catalog import load_catalog
from training.lifecycle.train import drift_reference
from training.settings import DriftSettings, Settings


@pytest.fixture(scope="module")
def iris() -> tuple[object, datasets.Split]:
    data = datasets.split("iris", 42, 0.25)
    pipeline = estimators.build("logistic_regression", 42).fit(data.x_train, data.y_train)
    return pipeline, data


def _schema(frame: pd.DataFrame) -> InputSchema:
    types = {"float64": "double", "int64": "long", "bool": "boolean"}
    return InputSchema.from_signature_inputs(
        [{"name": c, "type": types.get(str(frame[c].dtype), "string")} for c in frame.columns]
    )


def test_the_same_data_and_seed_give_the_same_document(iris) -> None:
    pipeline, data = iris
    settings = Settings.from_env()

    first = reference_stats.to_json(drift_reference(pipeline, data, settings))
    again = reference_stats.to_json(drift_reference(pipeline, data, settings))

    assert first == again


def test_the_seed_drives_the_bootstrap_and_nothing_else(iris) -> None:
    pipeline, data = iris
    settings = Settings.from_env()
    other = replace(settings, split_seed=settings.split_seed + 1)
    importance = reference_stats.importances(pipeline, data.x_test, data.y_test, 1)
    predicted = pipeline.predict(data.x_train)
    classes = list(pipeline.classes_)

    one = reference_stats.build(data.x_train, predicted, classes, importance, settings.drift, 1)
    two = reference_stats.build(data.x_train, predicted, classes, importance, other.drift, 2)

    # Bins and shares come from the data alone; only the bootstrapped chance levels move.
    assert [f["edges"] for f in one["features"]] == [f["edges"] for f in two["features"]]
    assert [f["shares"] for f in one["features"]] == [f["shares"] for f in two["features"]]
    assert [f["chance_psi"] for f in one["features"]] != [f["chance_psi"] for f in two["features"]]


def test_every_tenant_of_the_catalog_gets_a_reference_the_service_reads() -> None:
    settings = Settings.from_env()
    catalog = load_catalog(settings.tenants_file)
    assert catalog
    for entry in catalog.values():
        data = datasets.split(entry.dataset, settings.split_seed, settings.test_size)
        pipeline = estimators.build(entry.estimator, settings.split_seed)
        pipeline.fit(data.x_train, data.y_train)

        document = json.loads(reference_stats.to_json(drift_reference(pipeline, data, settings)))
        reference = parse_reference(document, _schema(data.x_train), 32, 20)

        assert [f.name for f in reference.features] == list(data.x_train.columns), entry.tenant
        assert reference.skipped == ()
        assert reference.prediction is not None
        assert abs(sum(f.importance for f in reference.features) - 1) < 1e-9
        assert all(0 < f.chance_psi < 2 for f in reference.features)


def test_the_service_counts_training_rows_into_the_recorded_shares() -> None:
    # Numeric, categorical, boolean, text and missing values, counted by the service exactly
    # as training binned them: the contract between the two sides.
    rng = np.random.default_rng(3)
    rows = 400
    frame = pd.DataFrame(
        {
            "amount": np.round(rng.lognormal(3, 1, rows), 1),
            "count": rng.integers(0, 5, rows),
            "colour": rng.choice(
                ["red", "green", "blue", "a rare one"], rows, p=[0.5, 0.3, 0.19, 0.01]
            ),
            "flag": rng.random(rows) < 0.3,
            "review": [f"text number {i}" for i in rng.integers(0, 10_000, rows)],
        }
    )
    frame.loc[rng.random(rows) < 0.1, "amount"] = np.nan
    frame.loc[rng.random(rows) < 0.05, "colour"] = None
    settings = DriftSettings(bins=4)
    document = reference_stats.build(
        frame, ["x"] * rows, ["x", "y"], dict.fromkeys(frame.columns, 1.0), settings, 0
    )
    kinds = {f["name"]: f["kind"] for f in document["features"]}
    assert kinds == {
        "amount": "numeric",
        "count": "numeric",
        "colour": "categorical",
        "flag": "categorical",
        "review": "hashed",
    }
    assert document["features"][0]["missing_rate"] == pytest.approx(frame["amount"].isna().mean())
    schema = _schema(frame)
    schema = InputSchema(tuple(replace(c, required=False) for c in schema.columns), allow_nan=True)
    reference = parse_reference(json.loads(reference_stats.to_json(document)), schema, 32, 20)
    values = frame.astype(object).where(frame.notna(), None).values.tolist()

    for batch in (1, 7, 100):  # both of the service's counting paths
        counts = DriftCounts(reference, schema)
        for start in range(0, rows, batch):
            chunk = values[start : start + batch]
            counts.observe(chunk, ["x"] * len(chunk))
        found, start = counts.bin_counts(), 0
        for feature in reference.features:
            shares = np.array(found[start : start + feature.bins]) / rows
            start += feature.bins
            assert shares.tolist() == pytest.approx(list(feature.shares), abs=1e-12), feature.name
        assert counts.class_counts == [rows, 0]


def test_only_the_most_important_features_are_kept_and_weighted() -> None:
    frame = pd.DataFrame({name: np.arange(50.0) for name in "abcde"})
    importance = {"a": 0.0, "b": 3.0, "c": 1.0, "d": 0.5, "e": 2.0}

    document = reference_stats.build(
        frame, [0] * 50, [0], importance, DriftSettings(max_features=3), 0
    )

    assert [f["name"] for f in document["features"]] == ["b", "c", "e"]
    assert [f["importance"] for f in document["features"]] == pytest.approx([0.5, 1 / 6, 1 / 3])
    assert document["not_monitored"] == ["a", "d"]


def test_a_model_that_relies_on_nothing_weighs_every_feature_alike() -> None:
    frame = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0)})

    document = reference_stats.build(frame, [0] * 20, [0], {}, DriftSettings(), 0)

    assert [f["importance"] for f in document["features"]] == [0.5, 0.5]


def test_psi_and_js_distance() -> None:
    same = np.array([0.2, 0.3, 0.5])
    assert reference_stats.psi(same, same) == 0
    assert reference_stats.js_distance(same, same) == 0
    # Disjoint distributions: JS distance (base 2) near its maximum of 1, PSI large but finite.
    apart = reference_stats.js_distance(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    assert 0.99 < apart <= 1
    assert 10 < reference_stats.psi(np.array([1.0, 0.0]), np.array([0.0, 1.0])) < 20


def test_the_chance_level_holds_for_fresh_data_from_the_training_distribution() -> None:
    # Many trainings on samples of one known distribution; fresh windows of window_rows rows
    # from that distribution exceed the recorded chance level about 1% of the time. A chance
    # level from the window's noise alone (the training sample taken as the truth) would be
    # exceeded far more often: the training sample is noisy too.
    rng = np.random.default_rng(11)
    settings = DriftSettings(bins=10, window_rows=300, bootstrap_samples=1000)
    exceed = naive_exceed = total = 0
    for _ in range(30):
        train = pd.DataFrame({"x": rng.normal(size=150)})
        document = reference_stats.build(train, [0] * 150, [0], {"x": 1.0}, settings, 0)
        feature = document["features"][0]
        binning = reference_stats.FeatureBins("x", "numeric", edges=tuple(feature["edges"]))
        reference = np.array(feature["shares"])
        windows = rng.normal(size=(200, settings.window_rows))
        observed = np.array(
            [reference_stats.shares(binning.assign(w), binning.bins) for w in windows]
        )
        scores = reference_stats.psi(observed, reference)
        naive = np.quantile(
            reference_stats.psi(
                rng.multinomial(300, reference / reference.sum(), size=1000) / 300, reference
            ),
            0.99,
        )
        exceed += int((scores > feature["chance_psi"]).sum())
        naive_exceed += int((scores > naive).sum())
        total += len(scores)

    assert exceed / total < 0.03
    assert naive_exceed / total > 0.1


def test_drift_settings_out_of_range_are_usage_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRAINING_DRIFT_BINS", "1")
    with pytest.raises(UsageError, match="TRAINING_DRIFT_BINS=1: expected 2 <= value <= 64"):
        Settings.from_env()
    monkeypatch.setenv("TRAINING_DRIFT_BINS", "ten")
    with pytest.raises(UsageError, match="TRAINING_DRIFT_BINS='ten': expected an integer"):
        Settings.from_env()

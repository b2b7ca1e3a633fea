"""inference.swap.Reloader without a registry server: what gets served, what is refused, and
that a refused or failed version never replaces the served one."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from inference.models.load_policy import IntegrityError
from inference.models.model import ModelCheckError, Prediction, ServedModel
from inference.models.schema import InputSchema
from inference.monitoring.metrics import Metrics
from inference.serving import swap
from inference.settings import Settings


class Fake(ServedModel):
    runtime = "fake"

    def predict(self, rows: list[list[Any]]) -> Prediction:
        return Prediction([0 for _ in rows], None)

    def _check(self) -> None:
        return None


def _model(version: str, columns: tuple[str, ...] = ("x",)) -> Fake:
    schema = InputSchema.from_signature_inputs([{"name": c, "type": "double"} for c in columns])
    return Fake("iris", version, "staging", schema, [[1.0] * len(columns)])


class FakeRegistry:
    """Resolves the alias to whatever `points_at` holds; raises when it holds an exception."""

    def __init__(self) -> None:
        self.points_at: str | Exception = "1"

    def resolve(self, _ref: object) -> tuple[str, str | None]:
        if isinstance(self.points_at, Exception):
            raise self.points_at
        return self.points_at, f"run-{self.points_at}"


@dataclass
class Rig:
    reloader: swap.Reloader
    registry: FakeRegistry
    versions: dict[str, ServedModel | Exception]
    loads: list[str]
    holder: swap.ModelHolder
    metrics: Metrics

    def refresh(self) -> bool:
        return asyncio.run(self.reloader.refresh())


@pytest.fixture
def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Rig:
    settings = Settings.from_env(
        {
            "MODEL_URI": "models:/iris@staging",
            "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
            "MODEL_CACHE_DIR": str(tmp_path),
            "RELOAD_INTERVAL_SECONDS": "1",
        }
    )
    registry = FakeRegistry()
    versions: dict[str, ServedModel | Exception] = {"1": _model("1")}
    loads: list[str] = []

    def load_version(_registry: object, _name: str, version: str, *_rest: object) -> ServedModel:
        loads.append(version)
        found = versions[version]
        if isinstance(found, Exception):
            raise found
        return found

    monkeypatch.setattr(swap, "load_version", load_version)
    monkeypatch.setattr(swap, "prune_cache", lambda *args, **kwargs: None)
    metrics = Metrics()
    holder = swap.ModelHolder()
    reloader = swap.Reloader(
        settings,
        settings.models[0],
        metrics.for_model("iris"),
        holder,
        lambda _uri: registry,  # type: ignore[arg-type,return-value]
    )
    return Rig(reloader, registry, versions, loads, holder, metrics)


def _reloads(metrics: Metrics, result: str) -> float:
    return metrics.registry.get_sample_value(
        "inference_model_reloads_total", {"model": "iris", "result": result}
    )


def test_first_load_then_a_new_version_is_swapped_in(rig: Rig) -> None:
    assert rig.refresh() is True
    assert rig.holder.current.version == "1"
    assert rig.refresh() is False  # same version: nothing loaded again
    assert rig.loads == ["1"]
    rig.registry.points_at, rig.versions["2"] = "2", _model("2")
    assert rig.refresh() is True
    assert rig.holder.current.version == "2"
    assert rig.reloader._cached_versions() == {"1", "2"}  # the replaced one stays for a rollback
    info = rig.metrics.registry.get_sample_value(
        "inference_model_info",
        {"model": "iris", "version": "2", "alias": "staging", "runtime": "fake"},
    )
    assert info == 1
    assert _reloads(rig.metrics, "success") == 2


def test_a_version_that_fails_to_load_never_replaces_the_served_one(rig: Rig) -> None:
    rig.refresh()
    rig.registry.points_at, rig.versions["2"] = "2", ModelCheckError("self-check failed")
    assert rig.refresh() is False
    assert rig.holder.current.version == "1"
    assert "self-check failed" in rig.holder.last_error
    assert _reloads(rig.metrics, "failure") == 1


def test_a_version_whose_files_differ_is_counted_and_never_served(rig: Rig) -> None:
    rig.refresh()
    refused = IntegrityError(
        "iris v2: downloaded file model.pkl: recorded sha256 a, found b", "mismatch"
    )
    rig.registry.points_at, rig.versions["2"] = "2", refused
    assert rig.refresh() is False
    assert rig.holder.current.version == "1"
    assert "downloaded file model.pkl" in rig.holder.last_error

    def failures(reason: str) -> float:
        return rig.metrics.registry.get_sample_value(
            "inference_model_integrity_failures_total", {"model": "iris", "reason": reason}
        )

    assert (failures("mismatch"), failures("unrecorded"), failures("malformed")) == (1, 0, 0)
    assert _reloads(rig.metrics, "failure") == 1


def test_a_signature_change_is_refused(rig: Rig) -> None:
    rig.refresh()
    rig.registry.points_at, rig.versions["2"] = "2", _model("2", ("x", "y"))
    assert rig.refresh() is False
    assert rig.holder.current.version == "1"
    assert "changes the signature (+y)" in rig.holder.last_error


def test_registry_failures_back_off_and_recover(rig: Rig) -> None:
    rig.refresh()
    rig.registry.points_at = ConnectionError("registry down")
    delays = []
    for _ in range(4):
        rig.refresh()
        delays.append(rig.reloader._next_delay())
    # Jittered (0.8-1.2x) doubling from 1 s: each delay at least the previous one's lower bound.
    assert delays[0] <= 1.2
    assert delays[3] >= 0.8 * 8
    assert rig.holder.current.version == "1"  # still serving through the outage
    rig.registry.points_at = "1"
    rig.refresh()
    assert 0.8 <= rig.reloader._next_delay() <= 1.2


def test_a_pinned_version_is_not_polled(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "MODEL_URI": "models:/iris/3",
            "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
            "MODEL_CACHE_DIR": str(tmp_path),
        }
    )
    reloader = swap.Reloader(
        settings, settings.models[0], Metrics().for_model("iris"), swap.ModelHolder()
    )
    assert reloader.polls is False


MIB = 1024 * 1024


def test_a_version_above_its_resource_class_is_refused_and_the_served_one_stays(
    rig: Rig,
) -> None:
    rig.versions["1"].memory_bytes = 3 * MIB
    rig.refresh()
    assert rig.metrics.registry.get_sample_value(
        "inference_model_memory_bytes", {"model": "iris"}
    ) == (3 * MIB)
    oversized = _model("2")
    oversized.memory_bytes = 17 * MIB  # the default class, small, is 16 MiB
    rig.registry.points_at, rig.versions["2"] = "2", oversized
    assert rig.refresh() is False
    assert rig.holder.current.version == "1"
    assert "v2 needs 17.0 MiB, above its resource class small (16 MiB)" in rig.holder.last_error
    assert rig.holder.refused is not None
    assert (rig.holder.refused.version, rig.holder.refused.measured_bytes) == ("2", 17 * MIB)
    assert rig.holder.refused.class_bytes == 16 * MIB
    assert _reloads(rig.metrics, "refused") == 1
    assert _reloads(rig.metrics, "failure") == 0
    # The measured cost is still the served version's.
    assert rig.metrics.registry.get_sample_value(
        "inference_model_memory_bytes", {"model": "iris"}
    ) == (3 * MIB)


def test_a_version_within_its_class_or_unmeasured_is_served(rig: Rig) -> None:
    rig.refresh()
    fits = _model("2")
    fits.memory_bytes = 16 * MIB  # exactly the class: fits
    rig.registry.points_at, rig.versions["2"] = "2", fits
    assert rig.refresh() is True
    unmeasured = _model("3")  # memory_bytes None: nothing to compare, served
    rig.registry.points_at, rig.versions["3"] = "3", unmeasured
    assert rig.refresh() is True
    assert _reloads(rig.metrics, "refused") == 0


def test_another_model_of_the_service_is_never_touched(rig: Rig) -> None:
    """One model's swaps and failures keep to its own series: inference_model_info of another
    model stays as it was."""
    rig.metrics.served("other", "7", "staging", "onnx")
    rig.refresh()
    rig.registry.points_at, rig.versions["2"] = "2", ModelCheckError("broken")
    rig.refresh()
    rig.registry.points_at, rig.versions["3"] = "3", _model("3")
    rig.refresh()
    info = rig.metrics.registry.get_sample_value
    other = {"model": "other", "version": "7", "alias": "staging", "runtime": "onnx"}
    assert info("inference_model_info", other) == 1
    assert (
        info("inference_model_info", {**other, "model": "iris", "version": "3", "runtime": "fake"})
        == 1
    )
    assert (
        info("inference_model_info", {**other, "model": "iris", "version": "1", "runtime": "fake"})
        is None
    )
    assert info("inference_model_reloads_total", {"model": "other", "result": "failure"}) is None

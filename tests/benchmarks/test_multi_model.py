"""The multi-model section of the benchmark: its settings, the models it registers, MLServer's
repository folder, the per-model metrics it reads, its targets and its report section.

No timing assertions: the numbers below are made up and only exercise the arithmetic; a
planted value on the wrong side of each goal must give "missed"."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from tests.benchmarks import fleet_models
from tests.benchmarks.load_result import LoadResult
from tests.benchmarks.mlserver_fleet import write_repository
from tests.benchmarks.mlserver_peer import IMPLEMENTATION
from tests.benchmarks.multi_model_report import section
from tests.benchmarks.multi_model_results import (
    FLEET_ALL,
    FLEET_ONE,
    FleetServer,
    MultiModelRun,
    SwapFacts,
    rss_per_added_model,
)
from tests.benchmarks.report import render
from tests.benchmarks.results import BenchRun, Point
from tests.benchmarks.service_stats import difference, parse_counters
from tests.benchmarks.settings import BenchSettingsError, load_bench_settings
from tests.benchmarks.targets import evaluate, multi_model_targets
from training.local_platform.registry_server import RegistryServer

MIB = 2**20
FIRST = "bench-fleet-00"


def load(rps: float, errors: int = 0) -> LoadResult:
    return LoadResult(int(rps * 2), 2.0, 4.0, 20.0, errors, 0)


def fleet_run(
    *,
    rss_with_all: int = 107 * MIB,
    start_with_all: float = 2.5,
    ratios: tuple[float, ...] = (1.03, 0.98, 1.05),
    swap_errors: int = 0,
    answered: str = "2",
) -> BenchRun:
    """A run whose multi-model section measured these; every default meets its goal."""
    run = BenchRun("make bench", "2026-01-01 00:00 UTC", {"CPU": "2 cores"}, "1.00 / 1.00 / 1.00")
    facts = MultiModelRun(20, registration_seconds=30.0, runtimes={"onnx": 20})
    facts.ours = [
        FleetServer(FLEET_ONE, 1, 1.1, 97 * MIB, 0.9, 1.0, 0.7, 0.1),
        FleetServer(
            FLEET_ALL, 20, start_with_all, rss_with_all, 1.0, start_with_all - 0.2, 3.0, 1.5
        ),
    ]
    facts.mlserver = [
        FleetServer("MLServer multi-model, 1 model", 1, 4.5, 210 * MIB),
        FleetServer("MLServer multi-model, every model", 20, 6.0, 212 * MIB),
    ]
    facts.mlserver_setup = "mlserver-sklearn on model.pkl; parallel_workers=0"
    facts.measured_model_bytes = {FIRST: MIB // 4, "bench-fleet-01": MIB // 2}
    facts.throughput_model = FIRST
    for number, ratio in enumerate(ratios):
        # req/s swings between pairs as on a busy machine; CPU per request moves by `ratio`.
        swing = 1.3 if number % 2 else 0.7
        run.points.append(Point(FLEET_ONE, FIRST, 1, 16, load(2000), 0.8))
        run.points.append(Point(FLEET_ALL, FIRST, 1, 16, load(2000 * swing), 0.8 * swing * ratio))
    facts.swap = SwapFacts(
        FIRST, "bench-fleet-01", "1", "2", 0.8, answered, load(1000, swap_errors), load(1000), 8
    )
    run.multi_model = facts
    return run


def verdicts(run: BenchRun) -> dict[str, str]:
    return {t.name.split(": ", 1)[1]: t.verdict for t in multi_model_targets(run)}


def test_sections_select_what_runs() -> None:
    both = load_bench_settings({})
    assert both.models
    assert both.multi_model
    assert both.fleet_size == 20
    alone = load_bench_settings({"BENCH_SECTIONS": "multi_model", "BENCH_FLEET_SIZE": "3"})
    assert (alone.models, alone.multi_model, alone.fleet_size) == ((), True, 3)
    without = load_bench_settings({"BENCH_SECTIONS": "models"})
    assert without.models
    assert not without.multi_model
    with pytest.raises(BenchSettingsError, match="BENCH_SECTIONS: unknown"):
        load_bench_settings({"BENCH_SECTIONS": "fleet"})
    with pytest.raises(BenchSettingsError, match="BENCH_FLEET_SIZE must be >= 2"):
        load_bench_settings({"BENCH_FLEET_SIZE": "1"})


def test_service_stats_sum_every_models_series() -> None:
    """Each histogram has one series per `model` label; a service with several models exposes
    them all. Reading only one series (the last) would miss the first model's calls."""

    def series(model: str, calls: int, seconds: float) -> str:
        return (
            f'inference_model_prediction_duration_seconds_count{{model="{model}"}} {calls}\n'
            f'inference_model_prediction_duration_seconds_sum{{model="{model}"}} {seconds}\n'
        )

    before = parse_counters(series("a", 10, 0.1) + series("b", 5, 0.05))
    after = parse_counters(series("a", 30, 0.3) + series("b", 5, 0.05))
    stats = difference(before, after)
    assert stats.model_calls == 20
    assert stats.model_ms_per_call() == pytest.approx(10.0)
    # One model, labelled: its own figures, as before the label existed.
    alone = difference(parse_counters(series("a", 10, 0.1)), parse_counters(series("a", 14, 0.5)))
    assert (alone.model_calls, alone.model_ms_per_call()) == (4, pytest.approx(100.0))


def test_fleet_models_are_distinct_and_their_bodies_fit() -> None:
    names = [fleet_models.model_name(i) for i in range(20)]
    assert len(set(names)) == 20
    assert names[0] == FIRST
    for index in (0, 19):
        features, target = fleet_models.fleet_frame(index)
        assert features.shape == (fleet_models.TRAINING_ROWS, 4 + index)
        assert sorted(set(target)) == [0, 1, 2]
        tensor = json.loads(fleet_models.v2_body(index))["inputs"][0]
        assert tensor["shape"] == [1, 4 + index]
        assert tensor["data"] == pytest.approx(features.iloc[0].tolist())
    assert not fleet_models.fleet_frame(0)[0].iloc[:, :4].equals(fleet_models.fleet_frame(1)[0])


def test_mlserver_repository_holds_a_settings_file_per_model(tmp_path: Path) -> None:
    models = [(f"m{i}", str(i + 1), tmp_path / f"m{i}.pkl") for i in range(3)]
    write_repository(tmp_path / "repo", models, (8080, 8081, 8082))

    found = sorted((tmp_path / "repo" / "models").glob("*/model-settings.json"))
    assert [p.parent.name for p in found] == ["m0", "m1", "m2"]
    second = json.loads(found[1].read_text())
    assert second["name"] == "m1"
    assert second["parameters"] == {"uri": str(tmp_path / "m1.pkl"), "version": "2"}
    assert second["implementation"] == IMPLEMENTATION
    settings = json.loads((tmp_path / "repo" / "settings.json").read_text())
    assert (settings["http_port"], settings["parallel_workers"], settings["debug"]) == (
        8080,
        0,
        False,
    )


def test_rss_per_added_model() -> None:
    one, many = FleetServer("a", 1, 1.0, 100 * MIB), FleetServer("b", 20, 2.0, 119 * MIB)
    assert rss_per_added_model(one, many) == pytest.approx(MIB)
    assert rss_per_added_model(one, None) is None
    assert rss_per_added_model(one, dataclasses.replace(many, rss_bytes=0)) is None


def test_the_sections_targets_are_met_by_a_good_run() -> None:
    assert set(verdicts(fleet_run()).values()) == {"met"}


@pytest.mark.parametrize(
    ("planted", "target"),
    [
        ({"rss_with_all": 97 * MIB + 19 * 6 * MIB}, "RSS per additional model"),
        ({"start_with_all": 3.4}, "start -> ready"),
        ({"ratios": (1.15, 1.2, 1.05)}, "throughput on one model (1 row, 16 connections, v2)"),
        ({"ratios": (0.85, 0.88, 0.95)}, "throughput on one model (1 row, 16 connections, v2)"),
        ({"swap_errors": 1}, "one model swapped under load"),
        ({"answered": "1"}, "one model swapped under load"),
    ],
)
def test_a_planted_figure_misses_its_target(planted: dict[str, object], target: str) -> None:
    found = verdicts(fleet_run(**planted))  # type: ignore[arg-type]
    assert found.pop(target) == "**missed**"
    assert set(found.values()) == {"met"}


def test_a_missed_figure_says_what_limits_it() -> None:
    run = fleet_run(start_with_all=4.0, rss_with_all=97 * MIB + 19 * 6 * MIB)
    limits = {t.name: t.limit for t in multi_model_targets(run) if t.limit}
    start = limits["20 models in one service: start -> ready"]
    assert "first version was loaded 1.0 s" in start
    assert "the last 3.8 s after" in start
    assert "this service used 3.0 CPU-s and the MLflow server, on the same cores, 1.5" in start
    assert "(2.3 and 1.4 CPU-s more than with 1 model, for 2.9 s more" in start
    memory = limits["20 models in one service: RSS per additional model"]
    assert "median 0.4 MiB" in memory


def test_no_swap_seen_is_missed_and_no_section_gives_no_targets() -> None:
    run = fleet_run()
    assert run.multi_model is not None
    assert run.multi_model.swap is not None
    run.multi_model.swap = dataclasses.replace(run.multi_model.swap, swap_seconds=None)
    assert verdicts(run)["one model swapped under load"] == "**missed**"
    run.multi_model = None
    assert multi_model_targets(run) == []


def test_report_section_shows_both_servers_pairs_and_swap() -> None:
    run = fleet_run()
    text = section(run)
    every = (
        "| this service, models.yaml with every model | 20 | 2.50 | 1.00 / 2.30 | 3.0 / 1.5 | "
        "107 | 0.53 |"
    )
    assert every in text
    assert "| MLServer multi-model, every model | 20 | 6.00 | - | - | 212 | 0.11 |" in text
    assert "held 212 MiB (2.0x this service's 107 MiB)" in text
    assert "| median | - | - | 0.70 | - | ratio 1.03 | 0 |" in text
    assert "| bench-fleet-00 | swapped (v1 -> v2) | 8 | 2,000 | 0 |" in text
    assert "20 by onnx" in text
    whole = render(run, (), evaluate(run, ()))
    assert "## Many models in one service, beside MLServer" in whole
    assert "20 models in one service: RSS per additional model" in whole
    run.multi_model = None
    assert section(run).startswith("Not run: left out by BENCH_SECTIONS")


@pytest.mark.integration
def test_fleet_models_pass_the_onnx_gate_and_follow_the_alias(registry: RegistryServer) -> None:
    """Two models of the section registered against a real MLflow, as the bench registers
    them: each with its ONNX copy, drift reference, and on the alias models.yaml names."""
    from inference.models.registry import Registry

    fleet = fleet_models.register_fleet(registry.url, 2, "bench")

    assert [m.name for m in fleet] == [FIRST, "bench-fleet-01"]
    served = Registry(registry.url)
    for model in fleet:
        assert model.registered.onnx.startswith("ONNX gate passed"), model.registered.onnx
        assert model.registered.drift_reference is not None
        assert served.aliases(model.name) == {"bench": model.registered.version}

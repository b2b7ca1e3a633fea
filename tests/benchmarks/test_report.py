"""The report and the target verdicts of the benchmark, from a made-up run.

No timing assertions: the numbers below only exercise the arithmetic and the tables."""

from __future__ import annotations

import dataclasses

from tests.benchmarks.image_targets import SLIM, slim_image_targets
from tests.benchmarks.load_result import LoadResult
from tests.benchmarks.report import floor_table, render
from tests.benchmarks.results import (
    HTTP_FLOOR,
    MLFLOW_SERVE,
    OURS,
    OURS_DRIFT,
    OURS_NO_DRIFT,
    OURS_NO_SHADOW,
    OURS_SHADOW,
    OURS_SKLEARN,
    OURS_V2,
    BenchRun,
    ContainerFacts,
    Point,
    ServerFacts,
)
from tests.benchmarks.service_stats import ServiceStats
from tests.benchmarks.shadow_cost import shadow_cost
from tests.benchmarks.startup_profile import MLFLOW_CLIENT, ONNXRUNTIME, SKLEARN, WEB
from tests.benchmarks.targets import evaluate, where_time_goes

MODELS = ("logistic_regression", "random_forest")
MIB = 2**20
W0 = "MLServer, parallel_workers=0"
W2 = "MLServer, parallel_workers=2"
BATCHING = "MLServer, adaptive batching 16 / 10 ms"


def load(rps: float, p99: float, errors: int = 0, p50: float | None = None) -> LoadResult:
    return LoadResult(int(rps * 10), 10.0, p99 / 4 if p50 is None else p50, p99, errors, 0)


def sample_run() -> BenchRun:
    run = BenchRun("make bench", "2026-01-01 00:00 UTC", {"CPU": "2 cores"}, "1.00 / 1.00 / 1.00")
    lr, rf = MODELS
    run.points = [
        Point(MLFLOW_SERVE, lr, 1, 16, load(100, 180), 4.0),
        Point(OURS, lr, 1, 16, load(5000, 10), 4.0),
        Point(OURS_V2, lr, 1, 16, load(6000, 8), 4.0),
        Point(W0, lr, 1, 16, load(300, 90), 4.0),
        Point(W2, lr, 1, 16, load(400, 80), 4.0),
        Point(BATCHING, lr, 1, 16, load(1000, 60), 4.0),
        Point(MLFLOW_SERVE, rf, 1, 16, load(50, 650), 4.0),
        Point(OURS_V2, rf, 1, 16, load(2000, 20), 4.0),
        Point(W0, rf, 1, 16, load(50, 900), 4.0),
        Point(BATCHING, rf, 1, 16, load(250, 230), 4.0),
        Point(W2, rf, 1, 16, None),  # skipped: time budget
        Point(OURS_V2, rf, 1, 1, load(900, 3.0, p50=2.5), 4.0),
        Point(W0, rf, 1, 1, load(40, 30, p50=21.0), 4.0),
        Point(OURS_SKLEARN, rf, 1, 64, None),
    ]
    run.servers = [
        ServerFacts(MLFLOW_SERVE, lr, 12.0, 500 * MIB, 260 * MIB),
        ServerFacts(OURS, lr, 1.2, 90 * MIB, 90 * MIB),
        ServerFacts(W0, lr, 4.0, 210 * MIB, 210 * MIB),
        ServerFacts(BATCHING, lr, 7.0, 420 * MIB, 210 * MIB),
        ServerFacts(MLFLOW_SERVE, rf, 12.0, 500 * MIB, 260 * MIB),
        ServerFacts(OURS, rf, 2.0, 230 * MIB, 230 * MIB),
        ServerFacts(BATCHING, rf, 7.5, 430 * MIB, 215 * MIB),
    ]
    run.runtimes = {lr: "onnx", rf: ""}  # random_forest: no `runtime` key, so sklearn
    run.ours_v2_request = "POST /v2/models/<name>/infer (v2)"
    run.mlserver_configs = {W0: "parallel_workers=0", BATCHING: "parallel_workers=1; batching"}
    run.mlserver_download_seconds = {lr: 0.4, rf: 0.6}
    run.imports = {
        WEB: (0.5, 40.0),
        ONNXRUNTIME: (0.2, 30.0),
        SKLEARN: (2.0, 160.0),
        MLFLOW_CLIENT: (1.5, 35.0),
    }
    return run


def verdicts(run: BenchRun) -> dict[str, object]:
    return {t.name: t for t in evaluate(run, MODELS)}


def test_throughput_targets_compare_with_mlflow_and_mlservers_best() -> None:
    found = verdicts(sample_run())
    lr_mlflow = found[
        "logistic_regression: throughput vs mlflow models serve (1 row, 16 connections)"
    ]
    assert lr_mlflow.met is True  # 60x
    assert lr_mlflow.measured.startswith("60.0x (6,000 vs 100 req/s")
    assert "runtime onnx" in lr_mlflow.measured
    lr_mlserver = found[
        "logistic_regression: throughput vs MLServer's best configuration (1 row, 16 connections)"
    ]
    assert lr_mlserver.met is True  # 6x the batching configuration, the best of three
    assert lr_mlserver.measured.startswith("6.0x (6,000 vs 1,000 req/s")
    assert f"best MLServer: {BATCHING}" in lr_mlserver.measured
    rf_mlflow = found["random_forest: throughput vs mlflow models serve (1 row, 16 connections)"]
    assert rf_mlflow.met is False  # 40x
    assert "CPU-ms per request" in rf_mlflow.limit
    rf_mlserver = found[
        "random_forest: throughput vs MLServer's best configuration (1 row, 16 connections)"
    ]
    assert rf_mlserver.met is True  # 8x; the skipped parallel_workers=2 point is ignored
    assert "runtime sklearn" in rf_mlserver.measured


def test_latency_start_and_memory_targets() -> None:
    found = verdicts(sample_run())
    p50 = found["random_forest: p50 at 1 connection (1 row)"]
    assert p50.met is False  # 2.5 ms > 1.5 ms
    assert p50.measured.startswith("2.50 ms")
    assert found["logistic_regression: start -> ready"].met is True  # 1.2 s
    start = found["random_forest: start -> ready"]
    assert start.met is False
    assert "scikit-learn (with scipy and pandas, which it imports) 2.00 s" in start.limit
    assert "onnxruntime" not in start.limit  # served by scikit-learn
    lr_rss = found["logistic_regression: RSS after warm-up (ONNX-served)"]
    assert lr_rss.met is True  # 90 MiB, ONNX
    rf_rss = found["random_forest: RSS after warm-up (ONNX-served)"]
    assert rf_rss.met is None
    assert rf_rss.verdict == "n/a (served by sklearn)"
    assert rf_rss.measured == "230 MiB; runtime sklearn"


def test_targets_without_measurements_say_so() -> None:
    run = sample_run()
    run.points = [p for p in run.points if p.server != OURS_V2]
    run.servers = []
    assert {t.verdict for t in evaluate(run, ("random_forest",))} == {"not measured"}


def test_report_headline_has_every_server_and_ratio() -> None:
    run = sample_run()
    text = render(run, MODELS, evaluate(run, MODELS))
    headline = text.split("## Headline")[1].split("\n## ")[0]
    rows = {tuple(cell.strip() for cell in line.split("|")[1:-1]) for line in headline.splitlines()}
    lr = "logistic_regression"
    assert (
        lr,
        "this service (runtime onnx)",
        "v2",
        "6,000",
        "2.0",
        "8.0",
        "90",
        "1.2",
        "-",
    ) in rows
    mlflow = (lr, MLFLOW_SERVE, "dataframe_split", "100", "45.0", "180.0", "500", "12.0", "60.0x")
    assert mlflow in rows
    best = (lr, f"{BATCHING} (best)", "v2", "1,000", "15.0", "60.0", "420", "7.0", "6.0x")
    assert best in rows
    assert (lr, W2, "v2", "400", "20.0", "80.0", "-", "-", "15.0x") in rows
    assert "| random_forest | this service (runtime sklearn) | v2 | 2,000 |" in headline
    assert W2 not in headline.split("random_forest", 1)[1]  # skipped there
    single = text.split("## Random forest at 1 connection")[1].split("\n## ")[0]
    assert "| random_forest | this service (runtime sklearn) | v2 | 2.5 | 3.0 | 900 |" in single
    assert f"| random_forest | {W0} | v2 | 21.0 | 30.0 | 40 |" in single
    assert "(best)" not in single
    assert "**missed**" in text
    assert "n/a (served by sklearn)" in text
    assert "skipped (time budget)" in text


def test_report_names_the_request_mlserver_setup_and_container() -> None:
    run = sample_run()
    text = render(run, MODELS, [])
    assert "This service was sent: POST /v2/models/<name>/infer (v2)." in text
    assert f"| {BATCHING} | parallel_workers=1; batching |" in text
    assert "(logistic_regression 0.4 s, random_forest 0.6 s)" in text
    assert "Not measured (not reached in this run)." in text
    run.container_skipped = "Docker is not available: no Docker daemon answers"
    assert "Not measured (Docker is not available: no Docker daemon answers)." in render(
        run, MODELS, []
    )
    run.containers = [
        ContainerFacts("logistic_regression", 1.8, 80 * MIB, "inference:bench", 604_100_000),
        ContainerFacts("logistic_regression", 0.9, 50 * MIB, SLIM, 228_400_000),
    ]
    container = render(run, MODELS, []).split("## The service's container")[1]
    assert "| logistic_regression | inference:bench | 604.1 | onnx | 1.8 | 80 |" in container
    assert f"| logistic_regression | {SLIM} | 228.4 | onnx | 0.9 | 50 |" in container


def test_the_slim_image_goals_are_its_size_and_its_slowest_start() -> None:
    run = sample_run()
    assert {t.verdict for t in slim_image_targets(run)} == {"not measured"}
    run.containers = [
        ContainerFacts("logistic_regression", 2.2, 129 * MIB, "inference:bench", 604_100_000),
        ContainerFacts("logistic_regression", 0.9, 56 * MIB, SLIM, 250_000_000),
        ContainerFacts("random_forest", 1.2, 56 * MIB, SLIM, 250_000_000),
    ]
    size, ready = slim_image_targets(run)
    assert size.met is True
    assert size.measured == "250.0 MB (full image 604.1 MB)"
    assert ready.met is False
    assert ready.limit.startswith("random_forest: 1.20 s")
    run.containers = [dataclasses.replace(c, image_bytes=250_000_001) for c in run.containers]
    assert slim_image_targets(run)[0].met is False


def test_report_labels_the_predict_fallback() -> None:
    run = sample_run()
    run.ours_v2_request = "POST /predict with a list of rows: no v2 API yet"
    headline = render(run, MODELS, []).split("## Headline")[1].split("\n## ")[0]
    assert "| this service (runtime onnx) | /predict (no v2 API yet) | 6,000 |" in headline


def test_ratio_table_divides_this_service_by_each_peer() -> None:
    run = sample_run()
    text = render(run, MODELS, [])
    section = text.split("This service's figure divided by each peer's")[1].split("\n## ")[0]
    lr = "logistic_regression"
    assert f"| {lr} | {MLFLOW_SERVE} | 60x | 0.04x | 0.04x | 0.18x | 0.10x |" in section
    assert f"| {lr} | {BATCHING} | 6.00x | 0.13x | 0.13x | 0.21x | 0.17x |" in section
    assert f"| random_forest | {BATCHING} | 8.00x | 0.09x | 0.09x | 0.53x | 0.27x |" in section


def test_where_time_goes_tells_inline_calls_from_batches() -> None:
    inline = Point(OURS_V2, "random_forest", 1, 16, load(2000, 20), 10.0)
    inline.stats = ServiceStats(20000, 1.2, 0.0, 0.0, 0)
    text = where_time_goes(inline)
    assert text.startswith("0.50 CPU-ms per request in the server (100% of one core)")
    assert "0.06 ms each on the event loop" in text
    batched = Point(OURS_SKLEARN, "random_forest", 1, 16, load(500, 60), 8.0)
    batched.stats = ServiceStats(400, 8.0, 12.5, 3.0, 0)
    assert "20.00 ms each for 12.5 rows on average (model busy 80%" in where_time_goes(batched)


def test_drift_cost_is_the_countings_share_of_the_servers_cpu() -> None:
    run = sample_run()
    lr, rf = MODELS
    run.points += [
        # cpu_seconds 4.0 over rps * 10 requests: 0.0816, 0.08, 0.0825, 0.08 ms per request
        Point(OURS_DRIFT, lr, 1, 16, load(4900, 10), 4.0),
        Point(OURS_NO_DRIFT, lr, 1, 16, load(5000, 10), 4.0),
        Point(OURS_DRIFT, lr, 1, 16, load(4850, 10), 4.0),
        Point(OURS_NO_DRIFT, lr, 1, 16, load(5000, 10), 4.0),
        Point(OURS_DRIFT, lr, 100, 16, load(1000, 30), 4.0),
        Point(OURS_NO_DRIFT, lr, 100, 16, load(1250, 30), 4.0),
        Point(OURS_DRIFT, rf, 1, 16, load(2000, 10), 4.0),
        Point(OURS_NO_DRIFT, rf, 1, 16, load(2200, 10), 4.0),
        Point(OURS_NO_DRIFT, rf, 1, 16, None),  # skipped: time budget
    ]
    run.drift_counting_seconds = {lr: {1: 2e-6, 100: 40e-6}, rf: {1: 12e-6}}
    found = verdicts(run)

    lr_cost = found["logistic_regression: cost of drift counting (1 row, 16 connections)"]
    assert lr_cost.met is True  # 2 us of 80 us
    assert lr_cost.measured == (
        "2.5% (2.0 us of 80 us CPU per request); alternating pairs: +2.5% req/s cost, "
        "+2.6% server CPU per request (median of 2)"
    )
    rf_cost = found["random_forest: cost of drift counting (1 row, 16 connections)"]
    assert rf_cost.met is False  # 12 us of 182 us; the skipped off-point has no pair
    assert rf_cost.measured.startswith("6.6% (12.0 us of 182 us CPU per request)")
    assert "(median of 1)" in rf_cost.measured
    section = render(run, MODELS, []).split("## The cost of drift counting")[1].split("\n## ")[0]
    assert f"| {lr} | 1 | 16 | 2.0 | 80 | 2.5% | 2 | 4,875 | 5,000 | +2.5% | +2.6% |" in section
    assert f"| {lr} | 100 | 16 | 40.0 | 320 | 12.5% | 1 | 1,000 | 1,250 | +20.0% |" in section
    assert f"| {rf} | 1 | 16 | 12.0 | 182 | 6.6% | 1 | 2,000 | 2,200 | +9.1% | +10.0% |" in section


def test_drift_cost_without_the_countings_timing_is_not_measured() -> None:
    run = sample_run()
    run.points += [
        Point(OURS_DRIFT, MODELS[0], 1, 16, load(4900, 10), 4.0),
        Point(OURS_NO_DRIFT, MODELS[0], 1, 16, load(5000, 10), 4.0),
    ]
    found = verdicts(run)
    assert found["logistic_regression: cost of drift counting (1 row, 16 connections)"].met is None


def test_drift_cost_not_measured_says_so() -> None:
    run = sample_run()
    found = verdicts(run)
    assert found["random_forest: cost of drift counting (1 row, 16 connections)"].met is None
    assert "## The cost of drift counting" in render(run, MODELS, [])
    assert "Not measured in this run." in render(run, MODELS, [])


def shadowed(scored: int, skipped: int = 0, agree: int | None = None) -> ServiceStats:
    """What a shadow point's /metrics said: `scored` requests, all rows agreeing by default."""
    rows = scored if agree is None else agree
    return ServiceStats(scored, 0.5, 0.0, 0.0, 0, scored, 0, skipped, rows, scored - rows)


def shadow_section(run: BenchRun) -> str:
    return render(run, MODELS, []).split("## The cost of shadow mode")[1].split("\n## ")[0]


def test_shadow_cost_is_the_median_over_pairs_of_both_views() -> None:
    run = sample_run()
    lr, rf = MODELS
    run.points += [
        # CPU-ms per request: 0.3 shadow, 0.2 without a policy, in both pairs
        Point(OURS_SHADOW, lr, 1, 16, load(2000, 10), 6.0, shadowed(19990, 10, agree=19000)),
        Point(OURS_NO_SHADOW, lr, 1, 16, load(3000, 10), 6.0),
        Point(OURS_SHADOW, lr, 1, 16, load(1500, 10), 4.5, shadowed(14990, 10, agree=14990)),
        Point(OURS_NO_SHADOW, lr, 1, 16, load(2500, 10), 5.0),
        Point(OURS_SHADOW, rf, 1, 16, load(1000, 20), 5.0, shadowed(10000)),
        Point(OURS_NO_SHADOW, rf, 1, 16, load(2000, 20), 5.0),
        Point(OURS_SHADOW, rf, 1, 16, load(1000, 20), 5.0, shadowed(10000)),
        Point(OURS_NO_SHADOW, rf, 1, 16, None),  # skipped: time budget, so no second pair
    ]
    run.shadow_load = {lr: "3.10 / 2.30 / 2.40"}

    found = shadow_cost(run, lr, 1, 16)
    assert found is not None
    assert found.pairs == 2
    assert (found.shadow_rps, found.plain_rps) == (1750, 2750)
    assert round(found.rps_ratio, 4) == round((2000 / 3000 + 1500 / 2500) / 2, 4)
    assert round(found.cpu_ratio, 4) == 1.5
    assert (round(found.shadow_cpu_ms, 4), round(found.plain_cpu_ms, 4)) == (0.3, 0.2)
    assert (found.scored, found.skipped, found.failed) == (34980, 20, 0)
    assert found.scored_share == 34980 / 35000
    forest = shadow_cost(run, rf, 1, 16)
    assert forest is not None
    assert (forest.pairs, forest.scored) == (1, 10000)
    assert shadow_cost(run, lr, 100, 16) is None

    section = shadow_section(run)
    assert (
        f"| {lr} | 1 | 16 | 2 | 1,750 | 2,750 | 0.63 | 0.300 | 0.200 | 1.50 | "
        "99.9% (34,980 of 35,000; 20 skipped, 0 failed) | 97.2% | 3.10 / 2.30 / 2.40 |"
    ) in section
    assert (
        f"| {rf} | 1 | 16 | 1 | 1,000 | 2,000 | 0.50 | 0.500 | 0.250 | 2.00 | "
        "100.0% (10,000 of 10,000; 0 skipped, 0 failed) | 100.0% | - |"
    ) in section


def test_shadow_cost_without_the_services_counts_shows_no_share() -> None:
    run = sample_run()
    run.points += [
        Point(OURS_SHADOW, MODELS[0], 1, 16, load(2000, 10), 6.0),  # no /metrics difference
        Point(OURS_NO_SHADOW, MODELS[0], 1, 16, load(3000, 10), 6.0),
    ]
    found = shadow_cost(run, MODELS[0], 1, 16)
    assert found is not None
    assert (found.scored_share, found.agreement) == (None, None)
    assert f"| {MODELS[0]} | 1 | 16 | 1 | 2,000 | 3,000 | 0.67 |" in shadow_section(run)


def test_shadow_cost_not_measured_says_so() -> None:
    run = sample_run()
    assert shadow_cost(run, MODELS[0], 1, 16) is None
    assert shadow_section(run).strip().endswith("Not measured in this run.")
    # The shadow points are in no other table of this service's figures.
    run.points.append(Point(OURS_SHADOW, MODELS[0], 1, 16, load(2000, 10), 6.0))
    report = render(run, MODELS, [])
    assert report.count(OURS_SHADOW) == 0


def test_floor_table_splits_the_time_per_request_and_bounds_the_ratio() -> None:
    run = sample_run()
    lr = MODELS[0]
    # 6,000 req/s at 0.24 CPU-ms against a floor of 15,000 at 0.06, mlflow at 100.
    run.points[2].cpu_seconds = 0.24 * 60_000 / 1000
    run.points.append(Point(HTTP_FLOOR, lr, 1, 16, load(15000, 3), 0.06 * 150_000 / 1000))

    text = floor_table(run, MODELS)

    (row,) = [line for line in text.splitlines() if line.startswith(f"| {lr} ")]
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert cells == [lr, "6,000", "15,000", "0.40x", "0.240", "0.060", "0.180", "60.0x", "150.0x"]
    # The forest has no floor point: no row rather than a row of dashes.
    assert f"| {MODELS[1]} " not in text


def test_floor_table_not_measured_says_so() -> None:
    assert floor_table(sample_run(), MODELS) == "Not measured in this run."

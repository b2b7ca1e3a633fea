"""Every prediction path against the HTTP floor: the pairs measured, the targets and the table
from a made-up run, and the floor answering each path with its own bytes."""

from __future__ import annotations

import asyncio
from typing import Any

from tests.benchmarks.floor_routes import (
    MIN_SHARE_OF_FLOOR,
    PAIRS,
    ROUTES,
    floor_routes_table,
    floor_targets,
    rounds,
)
from tests.benchmarks.http_floor import make_app
from tests.benchmarks.load_result import LoadResult
from tests.benchmarks.results import BenchRun, Point

MODEL = "logistic_regression"


def load(rps: float, p99: float, errors: int = 0) -> LoadResult:
    return LoadResult(int(rps * 10), 10.0, p99 / 4, p99, errors, 0)


def run_with(
    shares: dict[str, float], errors: int = 0, cpu_shares: dict[str, float] | None = None
) -> BenchRun:
    """A run where each named path answered `share` of a floor of 20,000 req/s, at
    `cpu_shares` of the floor's per-core throughput (default: the same share)."""
    run = BenchRun("make bench", "2026-01-01 00:00 UTC", {}, "1.00 / 1.00 / 1.00")
    run.runtimes = {MODEL: "onnx"}
    for route in ROUTES:
        if route.template not in shares:
            continue
        ours = shares[route.template] * 20_000
        cpu_share = (cpu_shares or shares)[route.template]
        # CPU seconds over 10 s: the floor 0.040 ms a request, this service 0.040 / share.
        cpu = ours * 10 * 0.04e-3 / cpu_share
        run.points += [
            Point(route.ours, MODEL, 1, 16, load(ours, 4.0, errors), cpu),
            Point(route.floor, MODEL, 1, 16, load(20_000, 1.5), 20_000 * 10 * 0.04e-3),
        ]
    return run


def verdict(run: BenchRun, template: str) -> Any:
    (found,) = [t for t in floor_targets(run, MODEL) if f"POST {template} vs" in t.name]
    return found


def test_a_path_above_the_share_meets_its_target_and_one_below_misses_it() -> None:
    run = run_with({"/predict": MIN_SHARE_OF_FLOOR + 0.01, "/v2/models/{name}/infer": 0.30})
    met = verdict(run, "/predict")
    assert met.met is True
    assert met.measured.startswith(
        "0.36x req/s, 0.36x per core, medians of 1 pairs (7,200 vs 20,000 req/s; "
        "0.111 vs 0.040 CPU-ms/request; 0.80 and 0.80 of a core busy"
    )
    assert "p99 4.0 vs 1.5 ms" in met.measured
    missed = verdict(run, "/v2/models/{name}/infer")
    assert missed.met is False
    assert missed.verdict == "**missed**"
    assert missed.limit.startswith("req/s 0.30x, per core 0.30x; this service, slowest pair")
    assert "CPU-ms per request in the server" in missed.limit


def test_both_the_req_s_and_the_per_core_share_must_reach_the_goal() -> None:
    """A floor the load generator could not keep busy flatters the req/s share; a service
    starved of its core flatters nothing. Either below the goal misses it."""
    paths = {"/predict": 0.5, "/invocations": 0.3}
    run = run_with(paths, cpu_shares={"/predict": 0.3, "/invocations": 0.5})
    per_core = verdict(run, "/predict")
    assert per_core.met is False
    assert per_core.limit.startswith("per core 0.30x;")
    by_rps = verdict(run, "/invocations")
    assert by_rps.met is False
    assert by_rps.limit.startswith("req/s 0.30x;")


def test_the_share_is_the_median_of_the_pairs() -> None:
    """One pair hit by the machine's other load does not decide the verdict."""
    run = run_with({"/predict": 0.2})
    for share in (0.4, 0.5):  # two more pairs, each this service then the floor
        run.points += run_with({"/predict": share}).points
    found = verdict(run, "/predict")
    assert found.met is True
    assert found.measured.startswith("0.40x req/s, 0.40x per core, medians of 3 pairs (8,000 vs")


def test_failed_requests_miss_the_target_whatever_the_share() -> None:
    found = verdict(run_with({"/invocations": 0.5}, errors=3), "/invocations")
    assert found.met is False
    assert "3 failed requests" in found.limit


def test_every_path_has_a_target_and_an_unmeasured_one_says_so() -> None:
    results = floor_targets(run_with({"/predict": 0.4}), MODEL)
    assert len(results) == len(ROUTES) == 5
    assert {t.verdict for t in results if "/predict vs" not in t.name} == {"not measured"}


def test_the_table_has_a_row_per_measured_path() -> None:
    text = floor_routes_table(run_with({"/predict": 0.4, "/models/{name}/predict": 0.5}), [MODEL])
    rows = [line for line in text.splitlines() if line.startswith(f"| {MODEL} ")]
    assert len(rows) == 2
    cells = [cell.strip() for cell in rows[0].strip("|").split("|")]
    assert cells[:6] == [MODEL, "POST /predict", "1", "8,000", "20,000", "0.40x"]
    assert floor_routes_table(run_with({}), [MODEL]) == "Not measured in this run."


def test_each_round_measures_every_path_on_this_service_then_on_the_floor() -> None:
    measured: list[tuple[str, str, str]] = []

    class Core:
        def measure(self, server: Any, model: str, rows: int, c: int, **kw: Any) -> None:
            measured.append((server, kw["label"], kw["path"]))

    rounds(Core(), "ours", "floor", MODEL, "iris")  # type: ignore[arg-type]
    assert len(measured) == 2 * len(ROUTES) * PAIRS
    assert [(s, p) for s, _, p in measured[:2]] == [("ours", "/predict"), ("floor", "/predict")]
    assert [p for _, _, p in measured[: 2 * len(ROUTES) : 2]] == [
        "/predict",
        "/invocations",
        "/models/iris/predict",
        "/models/iris/invocations",
        "/v2/models/iris/infer",
    ]
    assert len({label for _, label, _ in measured}) == 10


def test_the_floor_answers_each_path_with_its_own_bytes() -> None:
    app = make_app(b'{"default":1}', {"/predict": b'{"predictions":[0]}'})

    def answer(path: str) -> list[Any]:
        sent: list[Any] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"{}", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        asyncio.run(app({"type": "http", "path": path}, receive, send))
        return sent

    start, body = answer("/predict")
    assert body["body"] == b'{"predictions":[0]}'
    assert (b"content-length", b"19") in start["headers"]
    assert answer("/v2/models/x/infer")[1]["body"] == b'{"default":1}'

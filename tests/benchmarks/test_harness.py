"""The benchmark harness itself: wrk output parsing, the report and the target verdicts.

No timing assertions: the numbers below are made up and only exercise the arithmetic."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from tests.benchmarks.load_result import LoadResult
from tests.benchmarks.process_tree import descendants, tree_cpu_seconds, tree_rss_bytes
from tests.benchmarks.report import render, table
from tests.benchmarks.results import MLFLOW_SERVE, OURS, BenchRun, Point, ServerFacts
from tests.benchmarks.service_stats import difference, parse_counters
from tests.benchmarks.settings import BenchSettingsError, load_bench_settings
from tests.benchmarks.startup_profile import MLFLOW_CLIENT, SKLEARN
from tests.benchmarks.targets import evaluate
from tests.benchmarks.wrk_load import WrkOutputError, lua_script, parse_wrk_output, run_wrk

RESULT_LINE = (
    "BENCH_RESULT requests=7122 duration_us=5011710 p50_us=9704 p99_us=273455 "
    "status=12 connect=1 read=2 write=0 timeout=3"
)
WRK_OUTPUT = f"""Running 5s test @ http://127.0.0.1:8080/invocations
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     5.20ms    2.36ms  40.97ms   91.96%
  7122 requests in 5.01s, 0.86MB read
  Non-2xx or 3xx responses: 12
Requests/sec:   1421.07
{RESULT_LINE}
"""


def test_parse_wrk_output_reads_the_result_line() -> None:
    result = parse_wrk_output(WRK_OUTPUT)
    assert result.requests == 7122
    assert result.duration_seconds == pytest.approx(5.01171)
    assert result.p50_ms == pytest.approx(9.704)
    assert result.p99_ms == pytest.approx(273.455)
    assert result.non_2xx == 12
    assert result.socket_errors == 6
    assert result.errors == 18
    assert result.requests_per_second == pytest.approx(7122 / 5.01171)


def test_parse_wrk_output_without_result_line_fails_clearly() -> None:
    with pytest.raises(WrkOutputError, match="no BENCH_RESULT line"):
        parse_wrk_output(WRK_OUTPUT.replace("BENCH_RESULT", "SOMETHING"))


def test_parse_wrk_output_with_missing_fields_names_them() -> None:
    with pytest.raises(WrkOutputError, match="p99_us"):
        parse_wrk_output("BENCH_RESULT requests=1 duration_us=10 p50_us=5 status=0\n")


def test_lua_script_inlines_the_body_safely() -> None:
    body = json.dumps({"dataframe_split": {"columns": ["a"], "data": [[1.0]]}}) + "]===]"
    script = lua_script(body)
    assert 'wrk.method = "POST"' in script
    assert "wrk.body = [====[" + body + "]====]" in script


def load(rps: float, p99: float, errors: int = 0) -> LoadResult:
    return LoadResult(int(rps * 10), 10.0, p99 / 4, p99, errors, 0)


def sample_run() -> BenchRun:
    run = BenchRun("make bench", "2026-01-01 00:00 UTC", {"CPU": "2 cores"}, "1.00 / 1.00 / 1.00")
    run.points = [
        Point(MLFLOW_SERVE, "logistic_regression", 1, 16, load(400, 180), 4.0),
        Point(OURS, "logistic_regression", 1, 16, load(2000, 20), 4.0),
        Point(MLFLOW_SERVE, "random_forest", 1, 16, load(40, 650), 4.0),
        Point(OURS, "random_forest", 1, 16, load(200, 150), 4.0),
        Point(OURS, "random_forest", 1, 64, None),
    ]
    run.servers = [
        ServerFacts(MLFLOW_SERVE, "logistic_regression", 12.0, 500 * 2**20, 260 * 2**20),
        ServerFacts(OURS, "logistic_regression", 3.0, 200 * 2**20, 200 * 2**20),
        ServerFacts(MLFLOW_SERVE, "random_forest", 12.0, 500 * 2**20, 260 * 2**20),
        ServerFacts(OURS, "random_forest", 6.0, 300 * 2**20, 300 * 2**20),
    ]
    return run


def test_targets_compare_against_mlflow_serve_of_the_same_run() -> None:
    verdicts = {t.name: t for t in evaluate(sample_run(), ("logistic_regression", "random_forest"))}
    lr = verdicts["logistic_regression: throughput (1 row, 16 connections)"]
    assert lr.met is True
    assert lr.measured.startswith("5.0x")
    rf = verdicts["random_forest: throughput (1 row, 16 connections)"]
    assert rf.met is False  # 5x, and p99 150 ms is over 100 ms
    assert "CPU-ms per request" in rf.limit
    assert verdicts["logistic_regression: RSS after warm-up"].met is True
    assert verdicts["random_forest: RSS after warm-up"].met is False
    assert verdicts["logistic_regression: start -> ready"].met is True
    assert verdicts["random_forest: start -> ready"].met is False


def test_targets_without_measurements_say_so() -> None:
    run = sample_run()
    run.points = [p for p in run.points if p.server != MLFLOW_SERVE]
    run.servers = []
    assert {t.met for t in evaluate(run, ("random_forest",))} == {None}


def test_report_has_headline_ratios_and_verdicts() -> None:
    run = sample_run()
    models = ("logistic_regression", "random_forest")
    text = render(run, models, evaluate(run, models))
    headline = text.split("## Headline")[1].split("##")[0]
    expected = "| logistic_regression | 400 | 180.0 | 2,000 | 20.0 | 5.0x | 200 / 500 | 3.0 / 12.0"
    assert expected in headline
    assert "| random_forest | 40 | 650.0 | 200 | 150.0 | 5.0x |" in headline
    assert "**missed**" in text
    assert "skipped" in text  # the 64-connection point that did not fit the budget


def test_table_escapes_pipes() -> None:
    assert table(["a"], [["x|y"]]).splitlines()[2] == "| x\\|y |"


def test_settings_name_the_bad_variable() -> None:
    with pytest.raises(BenchSettingsError, match="BENCH_DURATION"):
        load_bench_settings({"BENCH_DURATION": "ten"})
    with pytest.raises(BenchSettingsError, match="BENCH_MODELS"):
        load_bench_settings({"BENCH_MODELS": "svm"})
    assert load_bench_settings({"BENCH_SWEEP": "1,8"}).sweep_concurrency == (1, 8)


def test_service_stats_are_differences_of_two_scrapes() -> None:
    def exposition(calls: int, seconds: float, rows: int, rejected: int) -> str:
        return (
            f"inference_model_prediction_duration_seconds_count {calls}\n"
            f"inference_model_prediction_duration_seconds_sum {seconds}\n"
            f"inference_batch_rows_count {calls}\ninference_batch_rows_sum {rows}\n"
            f"inference_batch_queue_wait_seconds_count {rows}\n"
            f"inference_batch_queue_wait_seconds_sum {rows * 0.001}\n"
            f'inference_requests_rejected_total{{reason="queue_full"}} {rejected}\n'
        )

    stats = difference(
        parse_counters(exposition(10, 0.1, 10, 0)), parse_counters(exposition(30, 0.5, 170, 4))
    )
    assert stats.model_calls == 20
    assert stats.model_ms_per_call() == pytest.approx(20.0)
    assert stats.rows_per_call == pytest.approx(8.0)
    assert stats.queue_wait_ms == pytest.approx(1.0)
    assert stats.rejected == 4


def test_process_tree_sums_a_parent_and_its_children() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert child.pid in descendants(os.getpid())
        total, largest = tree_rss_bytes(os.getpid())
        assert total > largest > 0
        assert tree_cpu_seconds(os.getpid()) > 0
    finally:
        child.kill()
        child.wait()


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        status = 200 if self.headers["Content-Type"] == "application/json" else 415
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/invocations"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")
def test_wrk_script_posts_json_and_reports(local_server: str) -> None:
    result = run_wrk(local_server, '{"dataframe_split": {"data": [[1]]}}', 2, 1)
    assert result.requests > 0
    assert result.errors == 0  # a 415 would mean the Content-Type header was not sent


def test_missed_targets_cite_the_measured_import_costs() -> None:
    run = sample_run()
    run.imports = {"fastapi": (1.0, 40.0), SKLEARN: (4.0, 160.0), MLFLOW_CLIENT: (1.5, 35.0)}
    verdicts = {t.name: t for t in evaluate(run, ("random_forest",))}
    memory = verdicts["random_forest: RSS after warm-up"]
    assert f"{SKLEARN} 160.0 MiB" in memory.limit
    start = verdicts["random_forest: start -> ready"]
    assert "allows 4.0 s in all; importing scikit-learn alone takes 4.0 s" in start.limit

"""The benchmark harness itself: wrk output parsing, settings, the v2 request and answers,
MLServer's configuration files, the container's figures (report and targets: test_report.py).

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
from pathlib import Path
from typing import Any

import pytest

from tests.benchmarks.container import dockerfile_base, memory_bytes
from tests.benchmarks.mlserver_peer import (
    CONFIGS,
    IMPLEMENTATION,
    pickled_model,
    settings_documents,
)
from tests.benchmarks.process_tree import descendants, tree_cpu_seconds, tree_rss_bytes
from tests.benchmarks.report import table
from tests.benchmarks.service_stats import difference, parse_counters
from tests.benchmarks.settings import BenchSettingsError, load_bench_settings
from tests.benchmarks.v2_request import FALLBACK, labels, our_request, v2_body
from tests.benchmarks.wrk_load import WrkOutputError, lua_script, parse_wrk_output, run_wrk
from training.local_platform.registry_server import RegistryServer

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


def test_table_escapes_pipes() -> None:
    assert table(["a"], [["x|y"]]).splitlines()[2] == "| x\\|y |"


def test_settings_name_the_bad_variable() -> None:
    with pytest.raises(BenchSettingsError, match="BENCH_DURATION"):
        load_bench_settings({"BENCH_DURATION": "ten"})
    with pytest.raises(BenchSettingsError, match="BENCH_MODELS"):
        load_bench_settings({"BENCH_MODELS": "svm"})
    assert load_bench_settings({"BENCH_SWEEP": "1,8"}).sweep_concurrency == (1, 8)
    with pytest.raises(BenchSettingsError, match="BENCH_CONTAINER"):
        load_bench_settings({"BENCH_CONTAINER": "yes"})
    quiet = load_bench_settings({"BENCH_MLSERVER": "off", "BENCH_CONTAINER": "off"})
    assert quiet.mlserver is None
    assert quiet.container is False
    default = load_bench_settings({})
    assert default.mlserver is not None
    assert default.mlserver.parts[-3:] == ("mlserver", "bin", "mlserver")
    assert default.container is True
    assert default.shadow is True
    assert load_bench_settings({"BENCH_SHADOW": "off"}).shadow is False
    with pytest.raises(BenchSettingsError, match="BENCH_SHADOW must be on or off"):
        load_bench_settings({"BENCH_SHADOW": "no"})


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


def test_service_stats_read_the_shadow_counters_by_role() -> None:
    """Exposition from the service's own rollout metrics: the stable version's answers share
    a counter with the candidate's shadow calls and must not be counted as scored."""
    from types import SimpleNamespace

    from prometheus_client import CollectorRegistry, generate_latest

    from inference.models.model import Prediction
    from inference.monitoring.rollout_metrics import CANDIDATE, STABLE, RolloutMetrics

    registry = CollectorRegistry()
    metrics = RolloutMetrics(registry).for_model("m")
    # What RolloutMetrics reads of a loaded version: its version and classes.
    stable: Any = SimpleNamespace(version="1", classes=[0, 1])
    candidate: Any = SimpleNamespace(version="2", classes=[0, 1])
    metrics.began(stable, candidate, "shadow", 0)

    def scrape() -> dict[str, float]:
        return parse_counters(generate_latest(registry).decode())

    before = scrape()
    answer = Prediction([0, 1, 1], None)
    for _ in range(5):
        metrics.answered(STABLE, stable, answer, 0.001)
    for _ in range(3):
        metrics.answered(CANDIDATE, candidate, answer, 0.001)
        metrics.compared(candidate, 2, 1)
    metrics.failed(CANDIDATE, candidate)
    metrics.skipped(candidate)
    stats = difference(before, scrape())

    assert (stats.shadow_scored, stats.shadow_failed, stats.shadow_skipped) == (3, 1, 1)
    assert (stats.rows_agree, stats.rows_disagree) == (6, 3)
    assert stats.model_calls == 0


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


def test_v2_body_is_one_fp64_tensor_of_real_rows() -> None:
    body = json.loads(v2_body(2))
    (tensor,) = body["inputs"]
    assert tensor["name"] == "input-0"
    assert tensor["datatype"] == "FP64"
    assert tensor["shape"] == [2, 4]
    assert tensor["data"][:4] == [5.1, 3.5, 1.4, 0.2]  # iris' first row
    assert len(tensor["data"]) == 8


def test_labels_read_every_servers_answer() -> None:
    assert labels({"predictions": [0, 1]}) == [0, 1]
    v2 = {
        "model_name": "m",
        "outputs": [
            {"name": "predict_proba", "shape": [2, 2], "data": [0.9, 0.1, 0.2, 0.8]},
            {"name": "predict", "shape": [2, 1], "datatype": "INT64", "data": [[0], [1]]},
        ],
    }
    assert labels(v2) == [0, 1]
    assert labels({"outputs": [{"name": "label", "data": [2, 2]}]}) == [2, 2]
    with pytest.raises(ValueError, match="no predictions"):
        labels({"error": "bad"})


def test_mlserver_settings_for_each_configuration(tmp_path: Path) -> None:
    ports = (8080, 8081, 8082)
    model = tmp_path / "model.pkl"
    documents = {
        c.label: settings_documents(c, "bench-iris", "3", model, tmp_path, ports) for c in CONFIGS
    }
    assert len(documents) == 3
    for label, (settings, model_settings) in documents.items():
        assert label.startswith("MLServer")
        assert settings["debug"] is False
        assert (settings["http_port"], settings["grpc_port"], settings["metrics_port"]) == ports
        assert settings["metrics_dir"].startswith(str(tmp_path))
        assert model_settings["name"] == "bench-iris"
        assert model_settings["implementation"] == IMPLEMENTATION
        assert model_settings["parameters"] == {"uri": str(model), "version": "3"}
    workers = sorted(s["parallel_workers"] for s, _ in documents.values())
    assert workers == [0, 1, 2]
    batching = [m for _, m in documents.values() if m["max_batch_size"] > 1]
    assert [(m["max_batch_size"], m["max_batch_time"]) for m in batching] == [(16, 0.01)]
    assert [c.label for c in CONFIGS if c.single_connection] == [CONFIGS[0].label]
    assert "max_batch_time=0.01 s" in CONFIGS[2].describe()


def test_pickled_model_is_read_from_mlmodel(tmp_path: Path) -> None:
    (tmp_path / "MLmodel").write_text(
        "flavors:\n  sklearn:\n    pickled_model: model.pkl\n    serialization_format: "
        "cloudpickle\n  onnx:\n    data: model.onnx\n"
    )
    assert pickled_model(tmp_path) == tmp_path / "model.pkl"


def test_docker_figures_are_parsed(tmp_path: Path) -> None:
    assert memory_bytes("105.3MiB / 23.47GiB") == round(105.3 * 2**20)
    assert memory_bytes("1.5GiB / 2GiB") == round(1.5 * 2**30)
    assert memory_bytes("900KiB / 1GiB") == 900 * 1024
    assert memory_bytes("12MB / 1GB") == 12 * 10**6
    with pytest.raises(ValueError, match="docker stats"):
        memory_bytes("-- / --")
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("# x\nARG PYTHON_IMAGE=python:3.13.15-slim-trixie\nFROM x\n")
    assert dockerfile_base(dockerfile) == "python:3.13.15-slim-trixie"
    dockerfile.write_text("FROM python\n")
    with pytest.raises(ValueError, match="PYTHON_IMAGE"):
        dockerfile_base(dockerfile)


class _Probe(http.server.BaseHTTPRequestHandler):
    v2 = False

    def do_GET(self) -> None:
        self.send_response(200 if self.v2 and self.path == "/v2/health/ready" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *_: object) -> None:
        pass


@pytest.mark.parametrize("v2", [True, False])
def test_our_request_falls_back_to_predict_without_v2(v2: bool) -> None:
    handler = type("Handler", (_Probe,), {"v2": v2})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        request = our_request(f"http://127.0.0.1:{server.server_address[1]}", "bench-iris")
    finally:
        server.shutdown()
        server.server_close()
    if v2:
        assert request.path == "/v2/models/bench-iris/infer"
        assert json.loads(request.body(1))["inputs"][0]["shape"] == [1, 4]
    else:
        assert request == FALLBACK
        assert "no v2 API" in request.description
        assert json.loads(request.body(1)) == [[5.1, 3.5, 1.4, 0.2]]


def test_drift_counting_is_timed_on_the_versions_reference() -> None:
    from tests.benchmarks import bench_models, drift_counting
    from tests.support.models import iris_logistic, iris_reference

    estimator, features = iris_logistic()
    reference = iris_reference(estimator, features)
    rows = bench_models.iris_rows(20)  # the numpy path (more than SMALL_REQUEST_ROWS)

    seconds = drift_counting.counting_seconds(
        reference, bench_models.IRIS_COLUMNS, rows, estimator.predict(features).tolist()[:20]
    )

    assert 0 < seconds < 0.01
    with pytest.raises(ValueError, match="window_rows"):  # a malformed reference is not timed
        drift_counting.counting_seconds({"format": 1}, ["x"], rows, [0] * 20)


@pytest.mark.integration
def test_the_shadow_candidate_is_a_new_version_of_the_same_artifacts(
    registry: RegistryServer,
) -> None:
    from inference.models.registry import Registry
    from tests.benchmarks import bench_models
    from tests.support.models import iris_logistic, log_and_register

    name = "bench-shadow-candidate"
    version = log_and_register(registry.url, name, *iris_logistic(), experiment="benchmarks")
    stable = bench_models.Registered(name, version, "no ONNX copy")

    candidate = bench_models.register_candidate(registry.url, stable)

    assert (candidate.name, candidate.version) == (name, str(int(version) + 1))
    served = Registry(registry.url)  # what the service downloads for each version
    location = served.proxied_location(name, candidate.version)
    assert location is not None
    assert location == served.proxied_location(name, version)

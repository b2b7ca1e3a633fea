"""The report's multi-model section: this service with 1 and with every model of a models.yaml,
MLServer's multi-model serving of the same versions, the throughput pairs and the swap."""

from __future__ import annotations

from statistics import median

from tests.benchmarks.multi_model_results import (
    FLEET_ALL,
    FLEET_ONE,
    FleetServer,
    MultiModelRun,
    rss_per_added_model,
)
from tests.benchmarks.results import BenchRun
from tests.benchmarks.tables import MIB, ms, table
from tests.benchmarks.targets import TARGET_CONCURRENCY, TARGET_ROWS, fleet_throughput


def _servers_rows(servers: list[FleetServer], size: int) -> list[list[object]]:
    rows: list[list[object]] = []
    per_model = rss_per_added_model(
        next((s for s in servers if s.models == 1), None),
        next((s for s in servers if s.models == size), None),
    )
    for server in sorted(servers, key=lambda s: s.models):
        loaded = "-"
        if server.first_loaded_seconds is not None and server.last_loaded_seconds is not None:
            loaded = f"{server.first_loaded_seconds:.2f} / {server.last_loaded_seconds:.2f}"
        cpu = "-"
        if server.cpu_seconds is not None and server.registry_cpu_seconds is not None:
            cpu = f"{server.cpu_seconds:.1f} / {server.registry_cpu_seconds:.1f}"
        rows.append(
            [
                server.label,
                server.models,
                f"{server.start_to_ready_seconds:.2f}",
                loaded,
                cpu,
                f"{server.rss_bytes / MIB:.0f}" if server.rss_bytes else "-",
                f"{per_model / MIB:.2f}" if per_model is not None and server.models > 1 else "-",
            ]
        )
    return rows


def servers_table(facts: MultiModelRun) -> str:
    rows = _servers_rows(facts.ours, facts.size) + _servers_rows(facts.mlserver, facts.size)
    if not rows:
        return "Not measured in this run."
    return table(
        [
            "server",
            "models",
            "start -> ready s",
            "first / last version loaded, s after start",
            "CPU-s until ready: server / MLflow server",
            "RSS, process tree MiB",
            "RSS per additional model MiB",
        ],
        rows,
    )


def side_by_side(facts: MultiModelRun) -> str:
    """MLServer's figure over this service's, with every model and per additional model."""
    ours, theirs = facts.ours_with(facts.size), facts.mlserver_with(facts.size)
    if ours is None or theirs is None:
        return "MLServer not measured in this run."
    parts = [
        f"With {facts.size} models MLServer took {theirs.start_to_ready_seconds:.1f} s to ready "
        f"({theirs.start_to_ready_seconds / ours.start_to_ready_seconds:.1f}x this service's "
        f"{ours.start_to_ready_seconds:.1f} s) and held {theirs.rss_bytes / MIB:.0f} MiB "
        f"({theirs.rss_bytes / ours.rss_bytes:.1f}x this service's {ours.rss_bytes / MIB:.0f} MiB)"
    ]
    mine = rss_per_added_model(facts.ours_with(1), ours)
    peer = rss_per_added_model(facts.mlserver_with(1), theirs)
    if mine is not None and peer is not None:
        parts.append(f"per additional model {peer / MIB:.2f} MiB against {mine / MIB:.2f} MiB here")
    return "; ".join(parts) + f". MLServer: {facts.mlserver_setup}."


def throughput_table(run: BenchRun, facts: MultiModelRun) -> str:
    pairs = run.pairs(FLEET_ALL, FLEET_ONE, facts.throughput_model, TARGET_ROWS, TARGET_CONCURRENCY)
    found = fleet_throughput(run)
    if not pairs or found is None:
        return "Not measured in this run."
    rows: list[list[object]] = []
    for number, (every, one) in enumerate(pairs, start=1):
        assert every.result is not None
        assert one.result is not None
        rows.append(
            [
                number,
                f"{one.requests_per_second:,.0f}",
                f"{every.requests_per_second:,.0f}",
                f"{every.requests_per_second / one.requests_per_second:.2f}",
                f"{one.result.p99_ms:.1f} / {every.result.p99_ms:.1f}",
                f"{one.cpu_ms_per_request:.3f} / {every.cpu_ms_per_request:.3f}",
                one.result.errors + every.result.errors,
            ]
        )
    cpu = f"ratio {found.cpu_ratio:.2f}"
    rows.append(["median", "-", "-", f"{found.ratio:.2f}", "-", cpu, found.errors])
    return table(
        [
            "pair",
            "req/s, 1 model",
            f"req/s, {facts.size} models",
            f"ratio {facts.size} / 1",
            "p99 ms (1 / all)",
            "server CPU-ms/request (1 / all)",
            "errors",
        ],
        rows,
    )


def swap_table(facts: MultiModelRun) -> str:
    swap = facts.swap
    if swap is None:
        return "Not measured in this run."
    took = "not seen" if swap.swap_seconds is None else f"{swap.swap_seconds:.1f}"
    rows: list[list[object]] = []
    for role, name, load in (
        (f"swapped (v{swap.old_version} -> v{swap.new_version})", swap.model, swap.swapped_load),
        ("other", swap.other, swap.other_load),
    ):
        rows.append(
            [
                name,
                role,
                swap.connections,
                f"{load.requests:,}",
                load.errors,
                f"{load.requests_per_second:,.0f}",
                ms(load.p99_ms),
            ]
        )
    return (
        f"Alias moved to v{swap.new_version}; /models/{swap.model}/info named it {took} s later; "
        f"a v2 answer after the load named v{swap.answered_version or '?'}.\n\n"
        + table(
            ["model", "role", "connections", "requests", "errors", "req/s", "p99 ms"],
            rows,
        )
    )


def measured_memory(facts: MultiModelRun) -> str:
    sizes = sorted(facts.measured_model_bytes.values())
    if not sizes:
        return ""
    return (
        f"The service's own measure of each version's load (GET /models/<name>/info "
        f"`resources.measured_bytes`, the RSS growth across building it): median "
        f"{median(sizes) / MIB:.2f} MiB, smallest {sizes[0] / MIB:.2f}, largest "
        f"{sizes[-1] / MIB:.2f}."
    )


def section(run: BenchRun) -> str:
    facts = run.multi_model
    if facts is None:
        return "Not run: left out by BENCH_SECTIONS, or skipped (the notes above say why)."
    runtimes = ", ".join(f"{n} by {runtime}" for runtime, n in sorted(facts.runtimes.items()))
    parts = [
        f"{facts.size} distinct classifiers (StandardScaler + LogisticRegression on "
        f"{facts.size} synthetic data sets of 4 to {3 + facts.size} features, one seed each), "
        f"registered as training registers a version (ONNX copy behind the equivalence gate, "
        f"drift reference) in {facts.registration_seconds:.0f} s, each on the alias `bench`. "
        f"This service read a models.yaml of the first model, and one of all {facts.size} "
        f"(MODELS_FILE); with all of them it answered {runtimes or 'unknown'}. RSS is read "
        "after every model has answered 5 v2 requests and after the throughput pairs.",
        servers_table(facts),
        side_by_side(facts),
    ]
    memory = measured_memory(facts)
    if memory:
        parts.append(memory)
    parts += [
        f"Throughput on {facts.throughput_model}'s `POST /v2/models/<name>/infer` ("
        f"{TARGET_ROWS} row, {TARGET_CONCURRENCY} connections), the service with it alone and "
        f"the one with all {facts.size} models measured one right after the other in 2 s "
        "points, which goes first alternating. The service is CPU-bound here, so its req/s is "
        "the CPU it gets over the CPU a request costs; on a shared machine the first moves "
        "between points by more than the effect sought, so the target is judged on the "
        "second (the median ratio of server CPU per request), req/s beside it:",
        throughput_table(run, facts),
        "The swap: a third service with every model and RELOAD_INTERVAL_SECONDS=1; the load "
        "runs on two models at once, and after 1 s the first model's alias moves to a new "
        "version (registered from the same logged model). Errors are non-2xx answers and "
        "socket errors.",
        swap_table(facts),
    ]
    parts += [f"Note: {note}" for note in facts.notes]
    return "\n\n".join(parts)

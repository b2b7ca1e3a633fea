"""Every prediction path against the HTTP floor: this service and the floor (http_floor.py),
each sent the path's 1-row body at the target concurrency, one right after the other.

The floor answers each path with this service's own answer to that body, so both write the
same bytes; what separates them is what the service does per request (reading and validating
the body, the model call, metrics, drift counting, the answer). The target is a share of the
floor's req/s for every path and model, measured in the same run.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from statistics import median
from typing import TYPE_CHECKING

import httpx

from tests.benchmarks import one_core
from tests.benchmarks.bench_models import invocations_body
from tests.benchmarks.results import BenchRun, Point
from tests.benchmarks.tables import ms, table
from tests.benchmarks.targets import TARGET_CONCURRENCY, TARGET_ROWS, TargetResult, where_time_goes
from tests.benchmarks.v2_request import predict_body, v2_body

if TYPE_CHECKING:
    from tests.benchmarks.bench_core import BenchCore
    from tests.benchmarks.contenders import Running

# The goal and stretch: this service's req/s as a share of the floor's, per path.
MIN_SHARE_OF_FLOOR = 0.35
STRETCH_SHARE_OF_FLOOR = 0.42
# Rounds over every path, each a point of this service and one of the floor.
PAIRS = 3
POINT_SECONDS = 2.0


@dataclass(frozen=True)
class FloorRoute:
    """A prediction path ({name}: the registered model's name) and the body it is sent."""

    template: str
    body: Callable[[int], str]

    def path(self, name: str) -> str:
        return self.template.replace("{name}", name)

    @property
    def ours(self) -> str:
        return f"this service, POST {self.template} (floor pair)"

    @property
    def floor(self) -> str:
        return f"HTTP floor, POST {self.template}"


ROUTES = (
    FloorRoute("/predict", predict_body),
    FloorRoute("/invocations", invocations_body),
    FloorRoute("/models/{name}/predict", predict_body),
    FloorRoute("/models/{name}/invocations", invocations_body),
    FloorRoute("/v2/models/{name}/infer", v2_body),
)


def floor_answers(url: str, name: str) -> dict[str, str]:
    """This service's answer to every path's 1-row body, by path: what the floor sends back."""
    answers = {}
    for route in ROUTES:
        path = route.path(name)
        answer = httpx.post(
            f"{url}{path}",
            content=route.body(TARGET_ROWS),
            headers={"Content-Type": "application/json"},
            timeout=30,
        )
        answer.raise_for_status()
        answers[path] = answer.text
    return answers


def measure_pairs(core: BenchCore, ours: Running, floor: Running, model: str, name: str) -> None:
    """PAIRS rounds of every path: this service, then the floor, at the target point, in
    POINT_SECONDS points, each server on one core and the load on the others (one_core.py).
    A shared machine's background load moves req/s more than the difference between two
    points seconds apart, so the share is the median over pairs."""
    cores = one_core.layout()
    if cores is None:
        core.run.notes.append("floor pairs: fewer than 2 cores, so servers and load shared them")
        rounds(core, ours, floor, model, name)
        return
    note = f"floor pairs: {cores.describe()}"
    if note not in core.run.notes:
        core.run.notes.append(note)
    with one_core.pinned([ours.child.process.pid, floor.child.process.pid], cores):
        rounds(core, ours, floor, model, name)


def rounds(core: BenchCore, ours: Running, floor: Running, model: str, name: str) -> None:
    for _ in range(PAIRS):
        for route in ROUTES:
            path, body = route.path(name), route.body(TARGET_ROWS)
            for server, label in ((ours, route.ours), (floor, route.floor)):
                core.measure(
                    server,
                    model,
                    TARGET_ROWS,
                    TARGET_CONCURRENCY,
                    label=label,
                    path=path,
                    body=body,
                    duration=POINT_SECONDS,
                )


@dataclass(frozen=True)
class FloorShare:
    """One path's pairs: this service's point and the floor's right after it."""

    route: FloorRoute
    pairs: list[tuple[Point, Point]]

    @property
    def share(self) -> float:
        """Median over pairs of this service's req/s over the floor's."""
        return median(a.requests_per_second / b.requests_per_second for a, b in self.pairs)

    @property
    def cpu_share(self) -> float:
        """Median over pairs of the floor's CPU per request over this service's: the same
        share in CPU time, which moves less with the machine's other load."""
        return median(
            b.cpu_ms_per_request / a.cpu_ms_per_request
            for a, b in self.pairs
            if a.cpu_ms_per_request
        )

    def _median(self, value: Callable[[Point], float], floor: bool) -> float:
        return median(value(pair[1] if floor else pair[0]) for pair in self.pairs)

    def rps(self, floor: bool = False) -> float:
        return self._median(lambda p: p.requests_per_second, floor)

    def cpu_ms(self, floor: bool = False) -> float:
        return self._median(lambda p: p.cpu_ms_per_request, floor)

    def core_use(self, floor: bool = False) -> float:
        """How busy the server kept its core: below 1, the load generator set the pace."""
        return self._median(lambda p: p.requests_per_second * p.cpu_ms_per_request / 1000, floor)

    def p99_ms(self, floor: bool = False) -> float:
        return self._median(lambda p: p.result.p99_ms if p.result else 0.0, floor)

    @property
    def errors(self) -> int:
        return sum(a.result.errors for a, _ in self.pairs if a.result)


def floor_shares(run: BenchRun, model: str) -> list[FloorShare]:
    found = []
    for route in ROUTES:
        pairs = run.pairs(route.ours, route.floor, model, TARGET_ROWS, TARGET_CONCURRENCY)
        if pairs:
            found.append(FloorShare(route, pairs))
    return found


def floor_targets(run: BenchRun, model: str) -> list[TargetResult]:
    """One target per path: its req/s and its per-core throughput (the inverse of server CPU
    per request) each at least MIN_SHARE_OF_FLOOR of the floor's. The second is what one core
    answers whoever limits the load; the first also needs the load generator to keep up."""
    measured = {found.route: found for found in floor_shares(run, model)}
    results = []
    for route in ROUTES:
        name = (
            f"{model}: POST {route.template} vs the HTTP floor "
            f"({TARGET_ROWS} row, {TARGET_CONCURRENCY} connections)"
        )
        goal = (
            f">= {MIN_SHARE_OF_FLOOR:g}x the floor's req/s and per-core throughput "
            f"(stretch {STRETCH_SHARE_OF_FLOOR:g}x)"
        )
        found = measured.get(route)
        if found is None:
            results.append(TargetResult(name, goal, "not measured", None))
            continue
        measured_text = (
            f"{found.share:.2f}x req/s, {found.cpu_share:.2f}x per core, medians of "
            f"{len(found.pairs)} pairs ({found.rps():,.0f} vs {found.rps(floor=True):,.0f} req/s; "
            f"{found.cpu_ms():.3f} vs {found.cpu_ms(floor=True):.3f} CPU-ms/request; "
            f"{found.core_use():.2f} and {found.core_use(floor=True):.2f} of a core busy; "
            f"p99 {ms(found.p99_ms())} vs {ms(found.p99_ms(floor=True))} ms); "
            f"runtime {run.runtime(model)}"
        )
        short = [
            f"{what} {share:.2f}x"
            for what, share in (("req/s", found.share), ("per core", found.cpu_share))
            if share < MIN_SHARE_OF_FLOOR
        ]
        met = not short and found.errors == 0
        limit = ""
        if not met:
            slowest = min(found.pairs, key=lambda pair: pair[0].requests_per_second)[0]
            limit = f"{', '.join(short) or 'errors'}; this service, slowest pair: "
            limit += f"{where_time_goes(slowest)}."
            if found.errors:
                limit += f" {found.errors} failed requests."
        results.append(TargetResult(name, goal, measured_text, met, limit))
    return results


def floor_routes_table(run: BenchRun, models: Sequence[str]) -> str:
    rows = []
    for model in models:
        for found in floor_shares(run, model):
            rows.append(
                [
                    model,
                    f"POST {found.route.template}",
                    len(found.pairs),
                    f"{found.rps():,.0f}",
                    f"{found.rps(floor=True):,.0f}",
                    f"{found.share:.2f}x",
                    f"{found.cpu_ms():.3f}",
                    f"{found.cpu_ms(floor=True):.3f}",
                    f"{found.cpu_share:.2f}x",
                    ms(found.p99_ms()),
                    ms(found.p99_ms(floor=True)),
                ]
            )
    if not rows:
        return "Not measured in this run."
    return table(
        [
            "model",
            "path",
            "pairs",
            "req/s, this service (median)",
            "req/s, floor (median)",
            "this service / floor (median of pairs)",
            "server CPU-ms/request, this service (median)",
            "server CPU-ms/request, floor (median)",
            "floor CPU / this service's (median of pairs)",
            "p99 ms, this service (median)",
            "p99 ms, floor (median)",
        ],
        rows,
    )

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
from typing import TYPE_CHECKING

import httpx

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
    """Each path: this service, then the floor, at the target point."""
    for route in ROUTES:
        path, body = route.path(name), route.body(TARGET_ROWS)
        for server, label in ((ours, route.ours), (floor, route.floor)):
            core.measure(
                server, model, TARGET_ROWS, TARGET_CONCURRENCY, label=label, path=path, body=body
            )


@dataclass(frozen=True)
class FloorShare:
    route: FloorRoute
    ours: Point
    floor: Point

    @property
    def share(self) -> float:
        floor = self.floor.requests_per_second
        return self.ours.requests_per_second / floor if floor else 0.0

    @property
    def cpu_share(self) -> float:
        """The floor's CPU per request over this service's: the same share, in CPU time."""
        mine = self.ours.cpu_ms_per_request
        return self.floor.cpu_ms_per_request / mine if mine else 0.0


def floor_shares(run: BenchRun, model: str) -> list[FloorShare]:
    found = []
    for route in ROUTES:
        ours = run.point(route.ours, model, TARGET_ROWS, TARGET_CONCURRENCY)
        floor = run.point(route.floor, model, TARGET_ROWS, TARGET_CONCURRENCY)
        if ours is not None and floor is not None:
            found.append(FloorShare(route, ours, floor))
    return found


def floor_targets(run: BenchRun, model: str) -> list[TargetResult]:
    """One target per path: its req/s at least MIN_SHARE_OF_FLOOR of the floor's."""
    measured = {found.route: found for found in floor_shares(run, model)}
    results = []
    for route in ROUTES:
        name = (
            f"{model}: POST {route.template} vs the HTTP floor "
            f"({TARGET_ROWS} row, {TARGET_CONCURRENCY} connections)"
        )
        goal = f">= {MIN_SHARE_OF_FLOOR:g}x the floor's req/s (stretch {STRETCH_SHARE_OF_FLOOR:g}x)"
        found = measured.get(route)
        if found is None:
            results.append(TargetResult(name, goal, "not measured", None))
            continue
        mine, floor = found.ours, found.floor
        assert mine.result is not None
        assert floor.result is not None
        measured_text = (
            f"{found.share:.2f}x ({mine.requests_per_second:,.0f} vs "
            f"{floor.requests_per_second:,.0f} req/s; CPU {found.cpu_share:.2f}x: "
            f"{mine.cpu_ms_per_request:.3f} vs {floor.cpu_ms_per_request:.3f} ms/request; "
            f"p99 {ms(mine.result.p99_ms)} vs {ms(floor.result.p99_ms)} ms); "
            f"runtime {run.runtime(model)}"
        )
        met = found.share >= MIN_SHARE_OF_FLOOR and mine.result.errors == 0
        limit = ""
        if not met:
            limit = f"this service: {where_time_goes(mine)}."
            if mine.result.errors:
                limit += f" {mine.result.errors} failed requests."
        results.append(TargetResult(name, goal, measured_text, met, limit))
    return results


def floor_routes_table(run: BenchRun, models: Sequence[str]) -> str:
    rows = []
    for model in models:
        for found in floor_shares(run, model):
            mine, floor = found.ours, found.floor
            assert mine.result is not None
            assert floor.result is not None
            rows.append(
                [
                    model,
                    f"POST {found.route.template}",
                    f"{mine.requests_per_second:,.0f}",
                    f"{floor.requests_per_second:,.0f}",
                    f"{found.share:.2f}x",
                    f"{mine.cpu_ms_per_request:.3f}",
                    f"{floor.cpu_ms_per_request:.3f}",
                    f"{found.cpu_share:.2f}x",
                    ms(mine.result.p99_ms),
                    ms(floor.result.p99_ms),
                ]
            )
    if not rows:
        return "Not measured in this run."
    return table(
        [
            "model",
            "path",
            "req/s, this service",
            "req/s, floor",
            "this service / floor",
            "server CPU-ms/request, this service",
            "server CPU-ms/request, floor",
            "floor CPU / this service's",
            "p99 ms, this service",
            "p99 ms, floor",
        ],
        rows,
    )

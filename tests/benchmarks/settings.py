"""Settings of the benchmark run, read from BENCH_* environment variables in one place."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
MODELS = ("logistic_regression", "random_forest")
LOAD_TOOLS = ("auto", "wrk", "python")
# The parts of a run BENCH_SECTIONS selects: every server on the two iris models (with the
# sweep, drift, shadow, container and variants), and many models in one service.
SECTION_MODELS = "models"
SECTION_MULTI_MODEL = "multi_model"
SECTIONS = (SECTION_MODELS, SECTION_MULTI_MODEL)
# Models in the multi-model section's models.yaml (issue 22 asks for 20).
FLEET_SIZE = 20
# `make bench` builds it from tests/benchmarks/mlserver-requirements.txt (MLServer needs
# Python < 3.13 and an older FastAPI than this service, so it has a venv of its own).
MLSERVER_EXECUTABLE = REPO_ROOT / ".tools" / "mlserver" / "bin" / "mlserver"
OFF = "off"


class BenchSettingsError(ValueError):
    """A BENCH_* variable is malformed; the message names it."""


@dataclass(frozen=True)
class BenchSettings:
    duration_seconds: float
    warmup_seconds: float
    comparison_concurrency: tuple[int, ...]
    sweep_concurrency: tuple[int, ...]
    payload_rows: tuple[int, ...]
    models: tuple[str, ...]
    load_tool: str
    budget_seconds: float
    output: Path
    mlserver: Path | None  # None: MLServer is not measured (BENCH_MLSERVER=off)
    container: bool  # measure the service's image when Docker is available
    shadow: bool  # measure what shadow mode costs (BENCH_SHADOW=off leaves it out)
    floor: bool  # measure the HTTP floor (BENCH_FLOOR=off leaves it out)
    multi_model: bool = True  # run the multi-model section (BENCH_SECTIONS)
    fleet_size: int = FLEET_SIZE  # models in its models.yaml (BENCH_FLEET_SIZE)

    @property
    def use_wrk(self) -> bool:
        if self.load_tool == "auto":
            return shutil.which("wrk") is not None
        return self.load_tool == "wrk"


def _number(env: Mapping[str, str], name: str, default: float, minimum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise BenchSettingsError(f"{name} must be a number of seconds, got {raw!r}") from None
    if value < minimum:
        raise BenchSettingsError(f"{name} must be >= {minimum}, got {raw!r}")
    return value


def _switch(env: Mapping[str, str], name: str) -> bool:
    """An on/off setting, on by default."""
    raw = env.get(name, "on").strip() or "on"
    if raw not in ("on", OFF):
        raise BenchSettingsError(f"{name} must be on or off, got {raw!r}")
    return raw == "on"


def _integers(env: Mapping[str, str], name: str, default: tuple[int, ...]) -> tuple[int, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        values = tuple(int(part) for part in raw.split(","))
    except ValueError:
        raise BenchSettingsError(
            f"{name} must be comma-separated positive integers, got {raw!r}"
        ) from None
    if not values or min(values) < 1:
        raise BenchSettingsError(f"{name} must be comma-separated positive integers, got {raw!r}")
    return values


def _choices(
    env: Mapping[str, str], name: str, allowed: tuple[str, ...], default: tuple[str, ...]
) -> tuple[str, ...]:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    values = tuple(part.strip() for part in raw.split(","))
    unknown = [v for v in values if v not in allowed]
    if unknown:
        raise BenchSettingsError(f"{name}: unknown {unknown}, expected some of {list(allowed)}")
    return values


def load_bench_settings(env: Mapping[str, str] | None = None) -> BenchSettings:
    env = os.environ if env is None else env
    tool = env.get("BENCH_LOAD_TOOL", "auto").strip() or "auto"
    if tool not in LOAD_TOOLS:
        raise BenchSettingsError(f"BENCH_LOAD_TOOL must be one of {list(LOAD_TOOLS)}, got {tool!r}")
    if tool == "wrk" and shutil.which("wrk") is None:
        raise BenchSettingsError("BENCH_LOAD_TOOL=wrk but wrk is not on PATH (make system-tools)")
    output = Path(env.get("BENCH_OUTPUT", "").strip() or REPO_ROOT / "BENCHMARKS.md")
    mlserver = env.get("BENCH_MLSERVER", "").strip() or str(MLSERVER_EXECUTABLE)
    container = env.get("BENCH_CONTAINER", "auto").strip() or "auto"
    if container not in ("auto", OFF):
        raise BenchSettingsError(f"BENCH_CONTAINER must be auto or off, got {container!r}")
    sections = _choices(env, "BENCH_SECTIONS", SECTIONS, SECTIONS)
    fleet_size = int(_number(env, "BENCH_FLEET_SIZE", FLEET_SIZE, minimum=2))
    return BenchSettings(
        # 43 points of 4 s, a 1 s warm-up per server and body, 14 server starts and two
        # containers take about 5 minutes on 2 cores; the paired 2 s points of drift counting
        # and shadow mode come on top (each about 35-40 s per model).
        duration_seconds=_number(env, "BENCH_DURATION", 4.0, minimum=1.0),
        warmup_seconds=_number(env, "BENCH_WARMUP", 1.0, minimum=0.0),
        comparison_concurrency=_integers(env, "BENCH_CONCURRENCY", (1, 16)),
        sweep_concurrency=_integers(env, "BENCH_SWEEP", (1, 4, 16, 32, 64)),
        payload_rows=_integers(env, "BENCH_ROWS", (1, 100)),
        # Without the models section no iris model runs: its phases loop over none.
        models=_choices(env, "BENCH_MODELS", MODELS, MODELS) if SECTION_MODELS in sections else (),
        load_tool=tool,
        # Points that would end past this are skipped (and listed): `make bench` stays near
        # 8 min even when the machine is slow to start servers. 80 s of it are for the shadow
        # phase (about 35 s per model), 15 s for the HTTP floor, about 140 s for the floor pairs
        # of every prediction path (floor_routes.py); 150 s are kept for the multi-model section
        # (multi_model.py, SECTION_ALLOWANCE_SECONDS), which runs last.
        budget_seconds=_number(env, "BENCH_BUDGET", 770.0, minimum=10.0),
        output=output,
        mlserver=None if mlserver == OFF else Path(mlserver),
        container=container == "auto",
        shadow=_switch(env, "BENCH_SHADOW"),
        floor=_switch(env, "BENCH_FLOOR"),
        multi_model=SECTION_MULTI_MODEL in sections,
        fleet_size=fleet_size,
    )

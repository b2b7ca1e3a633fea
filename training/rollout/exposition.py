"""The judge's own metrics in Prometheus's text format (version 0.0.4), written by hand: a
few counters and gauges do not justify a dependency in an image that has none."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping

Labels = tuple[tuple[str, str], ...]

HELP = {
    "rollout_judge_evaluations_total": (
        "counter",
        "Evaluations of a rollout's current step, by verdict (success, failure, inconclusive).",
    ),
    "rollout_judge_actions_total": (
        "counter",
        "Actions the judge took on a rollout (advance, pause, abort, promote, await-promotion).",
    ),
    "rollout_judge_errors_total": (
        "counter",
        "Evaluations that could not run, by reason (registry, prometheus, state, internal).",
    ),
    "rollout_judge_rollout_info": (
        "gauge",
        "1 for every active rollout, with its versions, status and mode.",
    ),
    "rollout_judge_rollout_candidate_share_ratio": (
        "gauge",
        "Share of requests the candidate answers in the current step (0 in shadow).",
    ),
    "rollout_judge_rollout_step_started_timestamp_seconds": (
        "gauge",
        "Unix time the current step of an active rollout started.",
    ),
    "rollout_judge_rollout_deadline_timestamp_seconds": (
        "gauge",
        "Unix time by which an active rollout should have ended (its policy's deadline).",
    ),
    "rollout_judge_last_run_timestamp_seconds": (
        "gauge",
        "Unix time the judge last finished a round over the registry.",
    ),
}
VERDICTS = ("success", "failure", "inconclusive")
ACTIONS = ("advance", "pause", "abort", "promote", "await-promotion")
ERRORS = ("registry", "prometheus", "state", "internal")


def _labels(values: Mapping[str, str]) -> Labels:
    return tuple(sorted((k, str(v)) for k, v in values.items()))


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class JudgeMetrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counters: dict[tuple[str, Labels], float] = {}
        self._gauges: dict[tuple[str, Labels], float] = {}
        for reason in ERRORS:
            self._counters[("rollout_judge_errors_total", _labels({"reason": reason}))] = 0.0

    def seen(self, tenant: str, model: str) -> None:
        """Every counter of a rollout at zero, so increase() sees its first abort."""
        with self._lock:
            for verdict in VERDICTS:
                key = (
                    "rollout_judge_evaluations_total",
                    _labels({"tenant": tenant, "model": model, "verdict": verdict}),
                )
                self._counters.setdefault(key, 0.0)
            for action in ACTIONS:
                key = (
                    "rollout_judge_actions_total",
                    _labels({"tenant": tenant, "model": model, "action": action}),
                )
                self._counters.setdefault(key, 0.0)

    def inc(self, name: str, labels: Mapping[str, str], by: float = 1.0) -> None:
        with self._lock:
            key = (name, _labels(labels))
            self._counters[key] = self._counters.get(key, 0.0) + by

    def replace_gauges(self, samples: Iterable[tuple[str, Mapping[str, str], float]]) -> None:
        """The gauges of this round, all at once: ended rollouts disappear."""
        fresh = {(name, _labels(labels)): value for name, labels, value in samples}
        with self._lock:
            self._gauges = fresh

    def render(self) -> str:
        with self._lock:
            series = {**self._counters, **self._gauges}
        lines: list[str] = []
        for name, (kind, text) in HELP.items():
            lines.append(f"# HELP {name} {text}")
            lines.append(f"# TYPE {name} {kind}")
            for (series_name, labels), value in sorted(series.items()):
                if series_name != name:
                    continue
                inside = ",".join(f'{k}="{_escape(v)}"' for k, v in labels)
                lines.append(f"{name}{{{inside}}} {value!r}" if inside else f"{name} {value!r}")
        return "\n".join(lines) + "\n"

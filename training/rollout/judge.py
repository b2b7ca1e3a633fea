"""`python -m training.rollout.judge`: evaluate every active rollout from Prometheus, then
advance, pause, abort or promote it through the registry (docs/rollouts.md).

Each round lists the registered models this user may read, takes every `<alias>-candidate`
whose state is active, gathers the step's evidence (candidate and stable over the same
window), evaluates it (verdicts.py) and acts (actions.py). Every evaluation is one JSON line
on stdout and the tag `rollout.evaluation`; every action is appended to `rollout.history`.
The judge holds no state of its own: restarted, it reads everything back from the registry.

Exit codes: 0 stopped (SIGTERM) or `--once` done, 2 bad settings.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType

from . import actions
from .evidence import gather
from .exposition import JudgeMetrics
from .mlflow_rest import MlflowRest, RegistryError
from .prometheus import Prometheus, PrometheusError
from .settings import JudgeSettings, SettingsError
from .state import StateError
from .verdicts import ABORT, ADVANCE, AWAIT, PAUSE, PROMOTE, Evaluation, evaluate

log = logging.getLogger("rollout.judge")
ACTOR = "rollout-judge"
CANDIDATE_SUFFIX = "-candidate"


def emit(record: dict) -> None:
    """One JSON line per evaluation or action: what a log pipeline indexes."""
    print(json.dumps(record, separators=(",", ":"), sort_keys=True), flush=True)


class Judge:
    def __init__(
        self,
        settings: JudgeSettings,
        rest: MlflowRest | None = None,
        prometheus: Prometheus | None = None,
        metrics: JudgeMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.rest = rest or MlflowRest(settings.tracking_uri, settings.username, settings.password)
        self.prometheus = prometheus or Prometheus(settings.prometheus_url)
        self.metrics = metrics or JudgeMetrics()
        self.clock = clock

    def rollouts(self) -> Iterator[actions.Rollout]:
        """Every active rollout the registry holds (of the configured models)."""
        for model in self.rest.models():
            if self.settings.models and model.name not in self.settings.models:
                continue
            for alias, version in sorted(model.aliases.items()):
                if not alias.endswith(CANDIDATE_SUFFIX):
                    continue
                try:
                    rollout = actions.read(self.rest, model, version)
                except StateError as error:
                    self.metrics.inc("rollout_judge_errors_total", {"reason": "state"})
                    log.warning("%s@%s: %s", model.name, alias, error)
                    continue
                if rollout.state.active and rollout.policy.candidate_alias == alias:
                    yield rollout

    def run_once(self) -> list[Evaluation]:
        """One round over the registry; the evaluations it made."""
        done: list[Evaluation] = []
        gauges: list[tuple[str, dict[str, str], float]] = []
        try:
            found = list(self.rollouts())
        except RegistryError as error:
            self.metrics.inc("rollout_judge_errors_total", {"reason": "registry"})
            log.warning("cannot list the rollouts: %s", error)
            return done
        for rollout in found:
            state = rollout.state
            ids = {"tenant": state.tenant, "model": state.model}
            self.metrics.seen(**ids)
            try:
                evaluation = self.judge(rollout)
            except PrometheusError as error:
                self.metrics.inc("rollout_judge_errors_total", {"reason": "prometheus"})
                log.warning("%s: %s", state.model, error)
                evaluation = None
            except RegistryError as error:
                self.metrics.inc("rollout_judge_errors_total", {"reason": "registry"})
                log.warning("%s: %s", state.model, error)
                evaluation = None
            except Exception:
                # One rollout's surprise must not stop the others from being judged.
                self.metrics.inc("rollout_judge_errors_total", {"reason": "internal"})
                log.exception("%s: evaluation failed", state.model)
                evaluation = None
            if evaluation is not None:
                done.append(evaluation)
            try:
                latest = actions.read(self.rest, rollout.model, rollout.candidate.version).state
            except (RegistryError, StateError):
                latest = state
            if latest.active:
                gauges += [
                    (
                        "rollout_judge_rollout_info",
                        {
                            **ids,
                            "candidate_version": latest.candidate_version,
                            "stable_version": latest.stable_version,
                            "status": latest.status,
                            "mode": latest.mode,
                        },
                        1.0,
                    ),
                    (
                        "rollout_judge_rollout_candidate_share_ratio",
                        ids,
                        latest.weight / 100 if latest.mode == "canary" else 0.0,
                    ),
                    (
                        "rollout_judge_rollout_step_started_timestamp_seconds",
                        ids,
                        latest.step_started_at,
                    ),
                    ("rollout_judge_rollout_deadline_timestamp_seconds", ids, latest.deadline_at),
                ]
        gauges.append(("rollout_judge_last_run_timestamp_seconds", {}, self.clock()))
        self.metrics.replace_gauges(gauges)
        return done

    def judge(self, rollout: actions.Rollout) -> Evaluation | None:
        state, policy = rollout.state, rollout.policy
        ids = {"tenant": state.tenant, "model": state.model}
        stable_now = rollout.model.aliases.get(policy.stable_alias)
        if stable_now != state.stable_version:
            # Someone moved the stable alias: the comparison no longer holds.
            reason = (
                f"{policy.stable_alias} moved from v{state.stable_version} to v{stable_now} "
                "during the rollout"
            )
            actions.abort(self.rest, rollout, ACTOR, reason)
            self.metrics.inc("rollout_judge_actions_total", {**ids, "action": ABORT})
            emit({"event": "action", "action": ABORT, **ids, "reason": reason})
            return None
        now = self.clock()
        evidence = gather(self.prometheus, state, now, self.settings.scrape_job)
        evaluation = evaluate(policy, state, evidence, now)
        self.metrics.inc("rollout_judge_evaluations_total", {**ids, "verdict": evaluation.verdict})
        emit(
            {
                "event": "evaluation",
                **ids,
                "candidate": state.candidate_version,
                "stable": state.stable_version,
                **json.loads(evaluation.encode()),
            }
        )
        actions.record_evaluation(self.rest, rollout, evaluation.encode())
        self.act(rollout, evaluation)
        return evaluation

    def act(self, rollout: actions.Rollout, evaluation: Evaluation) -> None:
        evidence = evaluation.summary()
        do = {
            ABORT: lambda: actions.abort(self.rest, rollout, ACTOR, evaluation.reason, evidence),
            ADVANCE: lambda: actions.advance(self.rest, rollout, ACTOR, evidence),
            PAUSE: lambda: actions.pause(self.rest, rollout, ACTOR, evidence),
            AWAIT: lambda: actions.await_promotion(self.rest, rollout, ACTOR, evidence),
            PROMOTE: lambda: actions.promote(
                self.rest, rollout, ACTOR, "every step passed (autoPromote)", evidence
            ),
        }.get(evaluation.action)
        if do is None:
            return
        state = do()
        ids = {"tenant": state.tenant, "model": state.model}
        self.metrics.inc("rollout_judge_actions_total", {**ids, "action": evaluation.action})
        emit(
            {
                "event": "action",
                "action": evaluation.action,
                **ids,
                "candidate": state.candidate_version,
                "status": state.status,
                "step": state.step,
                "weight": state.weight,
                "reason": evaluation.reason,
            }
        )


def serve_metrics(metrics: JudgeMetrics, host: str, port: int) -> ThreadingHTTPServer:
    """GET (and HEAD) /metrics and /healthz. Any other path is a 404 and any other method a
    405: http.server answers 501 to a method its handler has no do_<METHOD> for (CPython
    Lib/http/server.py, BaseHTTPRequestHandler.handle_one_request), a server error for a
    client's mistake."""

    class Handler(BaseHTTPRequestHandler):
        # Seconds a read or write may wait: a client that stops sending is dropped
        # (handle_one_request catches the TimeoutError) instead of holding a thread.
        timeout = 10

        def _drain(self) -> None:
            """Read a body nobody asked for (up to 64 KiB): closing with it unread would reset
            the connection before the client reads the answer."""
            declared = self.headers.get("Content-Length", "")
            if declared.isdigit():
                self.rfile.read(min(int(declared), 65536))

        def _answer(self, with_body: bool) -> None:
            self._drain()
            path = self.path.split("?", 1)[0]  # a scraper may add parameters
            if path == "/metrics":
                body, kind = metrics.render().encode(), "text/plain; version=0.0.4; charset=utf-8"
            elif path == "/healthz":
                body, kind = b"ok\n", "text/plain"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if with_body:
                self.wfile.write(body)

        def do_GET(self) -> None:
            self._answer(with_body=True)

        def do_HEAD(self) -> None:
            self._answer(with_body=False)

        def _not_allowed(self) -> None:
            self._drain()
            self.send_response(405)
            self.send_header("Allow", "GET, HEAD")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def __getattr__(self, name: str) -> Callable[[], None]:
            # http.server looks up do_<METHOD> for each request: every other method lands here.
            if name.startswith("do_"):
                return self._not_allowed
            raise AttributeError(name)

        def log_message(self, *_: object) -> None:  # scrapes are not news
            return

    server = ThreadingHTTPServer((host, port), Handler)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m training.rollout.judge",
        description="Evaluate every active model rollout from Prometheus and act on it.",
    )
    parser.add_argument("--once", action="store_true", help="one round, then exit")
    args = parser.parse_args(argv)
    try:
        settings = JudgeSettings.from_env()
    except SettingsError as error:
        print(f"rollout judge: configuration error: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
        stream=sys.stderr,
    )
    judge = Judge(settings)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    server = None
    if settings.metrics_port and not args.once:
        server = serve_metrics(judge.metrics, settings.host, settings.metrics_port)
    log.info(
        "judging rollouts in %s from %s every %gs",
        settings.tracking_uri,
        settings.prometheus_url,
        settings.interval_seconds,
    )
    try:
        while True:
            judge.run_once()
            if args.once or stop.wait(settings.interval_seconds):
                return 0
    finally:
        if server is not None:
            server.shutdown()


if __name__ == "__main__":
    sys.exit(main())

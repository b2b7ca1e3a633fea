"""The rollout judge of `make up`: `python -m training.rollout.judge` as a child process,
pointed at the local MLflow and Prometheus, as its Deployment runs it in the cluster."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from training.local_platform import processes
from training.settings import REPO_ROOT


def start(
    tracking_uri: str, prometheus_url: str, port: int, interval_seconds: float, run_dir: Path
) -> processes.Child:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
        "MLFLOW_TRACKING_URI": tracking_uri,
        "PROMETHEUS_URL": prometheus_url,
        "JUDGE_INTERVAL_SECONDS": f"{interval_seconds:g}",
        "JUDGE_METRICS_PORT": str(port),
        "JUDGE_HOST": "127.0.0.1",
    }
    child = processes.start(
        "rollout judge",
        [sys.executable, "-m", "training.rollout.judge"],
        env,
        run_dir / "logs" / "rollout-judge.log",
        cwd=REPO_ROOT,
    )
    try:
        processes.wait_until(
            child, lambda: processes.http_ok(f"http://127.0.0.1:{port}/healthz"), 30
        )
    except BaseException:
        child.stop()
        raise
    return child

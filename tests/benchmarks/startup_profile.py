"""What this service's libraries cost a fresh interpreter, imported one after the other:
seconds and resident memory added by each step. It explains start -> ready and RSS.

Two chains, one per runtime: fastapi + uvicorn, then onnxruntime (a version served by ONNX
imports nothing of scikit-learn); and fastapi + uvicorn, then scikit-learn, then mlflow's
client (which only the download child imports, for artifacts not behind MLflow's proxy)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec

WEB = "fastapi + uvicorn"
ONNXRUNTIME = "onnxruntime (ONNX-served versions, on top of fastapi + uvicorn)"
SKLEARN = "scikit-learn (with scipy and pandas, which it imports)"
MLFLOW_CLIENT = "mlflow client (download child only)"
_WEB_STEP = {WEB: "import fastapi, uvicorn"}
CHAINS: tuple[dict[str, str], ...] = (
    {**_WEB_STEP, ONNXRUNTIME: "import onnxruntime"},
    {
        **_WEB_STEP,
        SKLEARN: (
            "from inference.models.model_folder import import_sklearn; import_sklearn(); "
            "import sklearn.ensemble, sklearn.linear_model, sklearn.pipeline"
        ),
        MLFLOW_CLIENT: "from mlflow import MlflowClient",
    },
)
_PROGRAM = """
import json, re, time
def rss():
    return int(re.search(r"VmRSS:\\s+(\\d+)", open("/proc/self/status").read())[1]) / 1024
costs = {}
for label, statement in STEPS.items():
    before, started = rss(), time.perf_counter()
    exec(statement)
    costs[label] = [time.perf_counter() - started, rss() - before]
print(json.dumps(costs))
"""


def _chain(steps: dict[str, str]) -> dict[str, tuple[float, float]]:
    out = subprocess.run(
        [sys.executable, "-c", f"STEPS = {steps!r}\n{_PROGRAM}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=180,
    )
    return {label: (seconds, mib) for label, (seconds, mib) in json.loads(out.stdout).items()}


def import_costs() -> dict[str, tuple[float, float]]:
    """label -> (seconds, MiB of RSS) added by that step; fastapi + uvicorn from the first
    chain. onnxruntime only where it is installed."""
    costs: dict[str, tuple[float, float]] = {}
    for steps in CHAINS:
        if ONNXRUNTIME in steps and find_spec("onnxruntime") is None:
            continue
        for label, cost in _chain(steps).items():
            costs.setdefault(label, cost)
    return costs

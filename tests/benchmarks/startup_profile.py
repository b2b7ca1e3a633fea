"""What this service's libraries cost a fresh interpreter, imported one after the other:
seconds and resident memory added by each step. It explains start -> ready and RSS."""

from __future__ import annotations

import json
import subprocess
import sys

SKLEARN = "scikit-learn (with scipy and pandas, which it imports)"
MLFLOW_CLIENT = "mlflow client (download child only)"
# In the order the service needs them; each step's cost is on top of the steps before.
# mlflow's client is imported only by the short-lived download child (inference.fetch).
STEPS = {
    "fastapi + uvicorn": "import fastapi, uvicorn",
    SKLEARN: (
        "from inference.model_folder import import_sklearn; import_sklearn(); "
        "import sklearn.ensemble, sklearn.linear_model, sklearn.pipeline"
    ),
    MLFLOW_CLIENT: "from mlflow import MlflowClient",
}
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


def import_costs() -> dict[str, tuple[float, float]]:
    """label -> (seconds, MiB of RSS) added by that step."""
    out = subprocess.run(
        [sys.executable, "-c", f"STEPS = {STEPS!r}\n{_PROGRAM}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=180,
    )
    return {label: (seconds, mib) for label, (seconds, mib) in json.loads(out.stdout).items()}

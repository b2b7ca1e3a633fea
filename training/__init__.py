"""Train, evaluate, register, promote and roll back the tenants' models (MLflow registry).

Commands on top (`python -m training`: cli.py, rollout_cli.py; `python -m
training.registry_access`) with what every group shares (settings.py, errors.py, output.py);
then local_platform/ (`make up`) over lifecycle/ (the model lifecycle) over rollout/ (the
rollout judge, its own image: it imports nothing else of the repository). pyproject.toml
checks the order.
"""

import sys
from importlib.util import find_spec
from pathlib import Path

# training reads MODEL_URI with the service's parser (inference.contracts.model_uri), which lives
# in service/ because the service image is built from that folder alone. The Makefile and pytest
# put service/ on PYTHONPATH; `python -m training ...` typed at the repository root, as the docs
# show, does not, so add it here, after everything the caller chose.
if find_spec("inference") is None:
    sys.path.append(str(Path(__file__).resolve().parent.parent / "service"))


def __getattr__(name: str) -> object:
    """`training.register_model(...)`, the documented step for a team's own model
    (training/lifecycle/register.py), imported on first use: `python -m training --help` and
    the rollout judge's image import this package without MLflow or scikit-learn."""
    if name == "register_model":
        from training.lifecycle.register import register_model

        return register_model
    raise AttributeError(f"module 'training' has no attribute {name!r}")

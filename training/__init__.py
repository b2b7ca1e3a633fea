"""Train, evaluate, register, promote and roll back the tenants' models (MLflow registry)."""

import sys
from importlib.util import find_spec
from pathlib import Path

# training reads MODEL_URI with the service's parser (inference.contracts.model_uri), which lives in
# service/ because the service image is built from that folder alone. The Makefile and pytest
# put service/ on PYTHONPATH; `python -m training ...` typed at the repository root, as the docs
# show, does not, so add it here, after everything the caller chose.
if find_spec("inference") is None:
    sys.path.append(str(Path(__file__).resolve().parent.parent / "service"))

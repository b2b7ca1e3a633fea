"""Repository tooling: render, validate, diff, scaffold tenants, bump images."""

import sys
from importlib.util import find_spec
from pathlib import Path

# Two checks read the service's own code (probes: its FastAPI app; rollout-policies: the
# rollout policy schema in inference.contracts), which lives in service/ because the service
# image is built from that folder alone. The Makefile and pytest put service/ on PYTHONPATH;
# `python -m gitops ...` typed at the repository root, as the docs show, does not, so add it
# here, after everything the caller chose.
if find_spec("inference") is None:
    sys.path.append(str(Path(__file__).resolve().parent.parent / "service"))

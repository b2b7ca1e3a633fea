"""Load a version's folder the way the inference service will, before it is registered.

The registration runs in the team's environment, where its own modules import; the service
runs in its image, where only service/ and its requirements do. A pipeline that pickles a
function or class of the team's code by reference (cloudpickle stores what it can import by
name) loads here and fails there, and a version that fails its load is never served. So the
folder is loaded by the service's own loader (inference.models.loader.load_version, with its
self-check on the input example) in a fresh Python process whose path holds service/ only,
started in an empty folder. Packages installed into the same Python environment still
import there: the image's requirements are what the service has (service/requirements.txt).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from training.settings import REPO_ROOT

SERVICE_DIR = REPO_ROOT / "service"
# Loads the folder at <cache>/<name>/check with the service's loader, prints the runtime.
_LOAD = (
    "import sys; from pathlib import Path;"
    "from inference.models.loader import load_version;"
    "model = load_version(None, sys.argv[2], 'check', None, None, Path(sys.argv[1]));"
    "print(model.runtime)"
)
TIMEOUT_SECONDS = 120


class ServiceCannotLoad(Exception):
    """The service's loader refused the folder; the message is its reason, in one line."""


def load_as_the_service(folder: Path, name: str) -> str:
    """The runtime the service would serve the folder with ("onnx" or "sklearn"); raises
    ServiceCannotLoad with the loader's reason."""
    with tempfile.TemporaryDirectory(prefix="service-check-") as scratch:
        cache = Path(scratch, "cache")
        # A copy: the loader deletes a cached folder that fails to load.
        shutil.copytree(folder, cache / name / "check")
        try:
            done = subprocess.run(
                [sys.executable, "-s", "-c", _LOAD, str(cache), name],
                cwd=scratch,
                env={"PYTHONPATH": str(SERVICE_DIR), "PATH": "/usr/bin:/bin"},
                capture_output=True,
                text=True,
                timeout=TIMEOUT_SECONDS,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ServiceCannotLoad(f"loading took more than {TIMEOUT_SECONDS}s") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise ServiceCannotLoad(lines[-1] if lines else f"exit code {done.returncode}")
    return done.stdout.strip().splitlines()[-1]

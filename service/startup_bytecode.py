"""Write the bytecode of the standard-library modules the service imports before it is ready
(a step of service/Dockerfile's runtime stage, mounted for that step only):

    PYTHONPATH=/app /opt/venv/bin/python startup_bytecode.py

The official python images delete every *.pyc of the standard library (docker-library/python,
3.13/slim-trixie/Dockerfile) and the service's root filesystem is read-only, so without this
each start compiles some 200 standard modules in memory: about 0.45 s more of imports, measured
in the slim image with its base's bytecode deleted (docs/serving.md, "Image"). Only what
start-up imports is compiled (about 5 MiB), not the whole library; bytecode a base already
ships (Debian's python3 does) is left as it is.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import py_compile
import sys
import sysconfig
from pathlib import Path

# What `python -m inference` imports before it serves (inference/__main__.py), then the
# runtime each model format loads (inference/models/loader.py); an image has one or both.
STARTUP = ("inference.__main__", "uvicorn", "inference.api.app", "inference.api.one_write")
RUNTIMES = ("onnxruntime", "sklearn.base")


def standard_sources(stdlib: Path) -> list[Path]:
    """The source files of the standard-library modules imported so far."""
    found = []
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        if file and file.endswith(".py") and Path(file).is_relative_to(stdlib):
            found.append(Path(file))
    return sorted(found)


def main() -> int:
    for name in STARTUP:
        importlib.import_module(name)
    for name in RUNTIMES:
        with contextlib.suppress(ImportError):  # the slim image has no scikit-learn
            importlib.import_module(name)
    written = 0
    for source in standard_sources(Path(sysconfig.get_path("stdlib"))):
        cached = Path(importlib.util.cache_from_source(str(source)))
        if not cached.is_file():
            py_compile.compile(str(source), cfile=str(cached), doraise=True)
            written += 1
    print(f"standard-library bytecode written for {written} modules start-up imports")
    return 0


if __name__ == "__main__":
    sys.exit(main())

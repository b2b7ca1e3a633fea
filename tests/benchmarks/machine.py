"""What the numbers were measured on: CPU, memory, load, and the software versions."""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path


def _first(path: str, key: str) -> str:
    try:
        for line in Path(path).read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError:
        pass
    return "unknown"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _wrk_version() -> str:
    try:
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False, timeout=5)
    except OSError:
        return "not installed"
    return (out.stdout or out.stderr).splitlines()[0].split(" Copyright")[0].strip()


def mlserver_versions(executable: Path | None) -> str:
    """mlserver, mlserver-sklearn and scikit-learn as installed in MLServer's own venv."""
    if executable is None or not executable.is_file():
        return "not measured"
    program = (
        "from importlib.metadata import version as v; import platform; "
        "print(', '.join(f'{p} {v(p)}' for p in ('mlserver', 'mlserver-sklearn', "
        "'scikit-learn', 'fastapi', 'uvicorn')) + f', Python {platform.python_version()}')"
    )
    python = executable.with_name("python")
    try:
        out = subprocess.run(
            [str(python), "-c", program], capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return out.stdout.strip()


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def describe(mlserver: Path | None = None) -> dict[str, str]:
    memory_kb = _first("/proc/meminfo", "MemTotal").split()[0]
    memory = f"{int(memory_kb) / 1024 / 1024:.1f} GiB" if memory_kb.isdigit() else "unknown"
    return {
        "CPU": f"{os.cpu_count()} cores (nproc), {_first('/proc/cpuinfo', 'model name')}",
        "Memory": memory,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "Packages": ", ".join(
            f"{name} {_version(name)}"
            for name in ("scikit-learn", "mlflow", "fastapi", "uvicorn", "numpy", "pandas")
        ),
        "MLServer venv": mlserver_versions(mlserver),
        "Load generator": _wrk_version(),
    }

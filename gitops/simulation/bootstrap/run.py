"""Run a cluster bootstrap script offline, under the recording stand-ins of standins/.

The stand-ins are MOCKS of what cannot run here: a Kubernetes cluster (kind, kubectl,
eksctl, aws), Docker image builds and registry pulls, Argo CD syncing the tree, and MLflow
inside the cluster (`python -m training ...`). They answer just enough for the scripts to run
to the end and record every call, so a check can assert the order and the arguments of the
calls (gitops/checks/bootstraps/) and the sync simulation (gitops/checks/first_sync.py).
`python -m gitops inventory` is real: answered from
what the caller derived from the same tree with the same functions, or run. GitHub's e2e
workflow (.github/workflows/e2e-kind.yaml, `make e2e`) runs the real thing on Kind.

`run_script(script, env, root)` copies what the scripts read of `root` (COPIED) into a
temporary folder, so nothing a script writes lands in the checkout; serves the stand-ins'
model (standins/standin.py) on 127.0.0.1 for this run; runs `bash <script>` there with
standins/ first on PATH and a timeout; and returns a Recording: the parsed call log, the
exit code, stdout and stderr, and the final state (which clusters are left, ...).

  python -m gitops.simulation.bootstrap clusters/kind/bootstrap.sh [VAR=value ...]
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

STANDINS = Path(__file__).resolve().parent / "standins"
# What the scripts read of the repository: manifests, the Python they run, the build
# contexts (a Dockerfile must be there) and the image workflow (inventory --images-built).
COPIED = (
    "clusters",
    "apps",
    "base",
    "overlays",
    "gitops",
    "training",
    "service",
    ".github/workflows/image.yaml",
    # what the simulation reads of the documented first-deploy steps (gitops/simulation/start.py)
    "docs/eks.md",
)
# Variables that steer the scripts: never inherited from the caller's shell.
SCRIPT_VARIABLES = frozenset(
    {
        "CLUSTER_NAME",
        "IMAGE_SOURCE",
        "KEEP_CLUSTER",
        "REPO_URL",
        "REVISION",
        "PY",
        "PLATFORM_TIMEOUT",
        "TENANT_TIMEOUT",
        "SYNC_TIMEOUT",
        "MODEL_TIMEOUT",
        "MLFLOW_LOCAL_PORT",
        "SERVICE_LOCAL_PORT",
        "PYTHON_IMAGE",
        "PIP_CA",
        "ARGOCD_VERSION",
        "KUBECONFIG",
        "PYTHONPATH",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_TRACKING_USERNAME",
        "MLFLOW_TRACKING_PASSWORD",
        "REGISTRY_USER_PASSWORD",
    }
)
# The stand-ins answer at once (Argo CD is Healthy on the first poll when it can be), so
# every wait gets one poll: a wait that cannot end fails at once instead of after minutes.
FAST_WAITS = {"PLATFORM_TIMEOUT": "0", "TENANT_TIMEOUT": "0", "SYNC_TIMEOUT": "0"}
FAST_WAITS |= {"MODEL_TIMEOUT": "0"}


@cache
def standin_model() -> ModuleType:
    """standins/standin.py (not a package: loaded from its file)."""
    spec = importlib.util.spec_from_file_location("standin", STANDINS / "standin.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {STANDINS / 'standin.py'}")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("standin", module)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Call:
    """One invocation of a stand-in, in the order the script made them."""

    seq: int
    program: str
    argv: tuple[str, ...]
    cwd: str
    script: str  # the script that made the call (clusters/...), "" when unknown
    env: Mapping[str, str]
    rc: int | None
    effect: Mapping[str, Any]
    error: str

    @property
    def text(self) -> str:
        line = shlex.join([self.program, *self.argv])
        return line if len(line) <= 140 else line[:137] + "..."

    def __str__(self) -> str:
        return f"call #{self.seq} `{self.text}`"


@dataclass
class Recording:
    script: str
    returncode: int
    stdout: str
    stderr: str
    calls: list[Call] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    timed_out: bool = False
    run_dir: str = ""  # kept only with keep=True
    # the simulated clusters the run drove, by kubeconfig context (with a simulation factory)
    simulations: dict[str, Any] = field(default_factory=dict)

    def of(self, program: str) -> list[Call]:
        return [c for c in self.calls if c.program == program]

    def stderr_tail(self, lines: int = 2) -> str:
        return " | ".join(line.strip() for line in self.stderr.strip().splitlines()[-lines:])


def initial_state(
    current_context: str = "", other_contexts: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The stand-ins' starting state: nothing exists, but the kubeconfig contexts given
    (EKS: the cluster eksctl created is the current one)."""
    return dict(standin_model().initial_state(current_context, other_contexts))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def copy_tree(root: Path, target: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".bootstrap-override.*")
    for rel in COPIED:
        source = root / rel
        if source.is_dir():
            shutil.copytree(source, target / rel, ignore=ignore, symlinks=True)
        elif source.is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)


def run_script(
    script: str,
    env: Mapping[str, str] | None,
    root: Path,
    *,
    timeout: float = 60.0,
    inventory: dict[str, str] | None = None,
    state: dict[str, Any] | None = None,
    fail: str = "",
    edit: Callable[[Path], None] | None = None,
    keep: bool = False,
    simulation: Callable[[str, Path], Any] | None = None,
) -> Recording:
    """Run `bash <copy of root>/<script>` under the stand-ins.

    env: variables for the script (CLUSTER_NAME, KEEP_CLUSTER, ...); the rest is the
    caller's environment minus SCRIPT_VARIABLES, plus the stand-ins' settings, FAST_WAITS
    and free local ports for the port-forwards (MLFLOW_LOCAL_PORT, SERVICE_LOCAL_PORT).
    inventory: answers of `python -m gitops inventory` ("inventory --cluster kind --tenants"
    -> stdout), shared between runs; missing ones are computed for real and added.
    state: the stand-ins' starting state (default: initial_state()).
    fail: a failure the stand-ins inject (`predict`: tenants answer from another version).
    edit: changes the copy before the run (e.g. settings an operator would have set).
    keep: leave the run folder (Recording.run_dir) with state.json and calls.jsonl.
    simulation: `factory(kind of cluster, the run's copy)` -> a gitops.simulation Simulation
    for each cluster the script works on, which then answers for Argo CD; without one, the
    stand-ins' own model answers (see standins/standin.py, Run.application_status).
    """
    model = standin_model()
    run_dir = Path(tempfile.mkdtemp(prefix="bootstrap-run-"))
    start = time.perf_counter()
    try:
        repo = run_dir / "repo"
        copy_tree(root.resolve(), repo)
        # The scripts' temporary files (mktemp: e2e's work folder, the image archive) stay in
        # the run folder, removed with it whatever the script leaves behind.
        (run_dir / "tmp").mkdir()
        if edit is not None:
            edit(repo)
        real_path = os.pathsep.join(
            [str(Path(sys.executable).parent), os.environ.get("PATH", "/usr/bin:/bin")]
        )
        run = model.Run(
            repo,
            run_dir,
            sys.executable,
            real_path,
            {} if inventory is None else inventory,
            state=json.loads(json.dumps(state)) if state else None,
            fail=fail,
            simulation=(lambda kind: simulation(kind, repo)) if simulation else None,
        )
        with model.Server(run) as server:
            variables = {k: v for k, v in os.environ.items() if k not in SCRIPT_VARIABLES}
            variables.update(
                {
                    "PATH": os.pathsep.join([str(STANDINS), real_path]),
                    "PY": str(STANDINS / "python"),
                    "STANDIN_PORT": str(server.port),
                    "STANDIN_TOKEN": server.token,
                    "STANDIN_PYTHON": sys.executable,
                    "STANDIN_REAL_PATH": real_path,
                    "STANDIN_LOG": str(run.log_path),
                    "STANDIN_STATE": str(run.state_path),
                    "KUBECONFIG": str(run_dir / "kubeconfig"),  # never a real cluster's
                    "TMPDIR": str(run_dir / "tmp"),
                    "NO_PROXY": "127.0.0.1,localhost",
                    "no_proxy": "127.0.0.1,localhost",
                    "MLFLOW_LOCAL_PORT": str(free_port()),
                    "SERVICE_LOCAL_PORT": str(free_port()),
                    **FAST_WAITS,
                }
            )
            variables.update(env or {})
            returncode, timed_out = _run(["bash", str(repo / script)], repo, variables, timeout)
        calls = [_call(json.loads(line)) for line in run.log_path.read_text().splitlines()]
        return Recording(
            script=script,
            returncode=returncode,
            stdout=(run_dir / "stdout").read_text(errors="replace"),
            stderr=(run_dir / "stderr").read_text(errors="replace"),
            calls=sorted(calls, key=lambda c: c.seq),
            state=json.loads(run.state_path.read_text(encoding="utf-8")),
            seconds=round(time.perf_counter() - start, 2),
            timed_out=timed_out,
            run_dir=str(run_dir) if keep else "",
            simulations=dict(run.simulations),
        )
    finally:
        if not keep:
            shutil.rmtree(run_dir, ignore_errors=True)


def _run(
    command: list[str], cwd: Path, variables: dict[str, str], timeout: float
) -> tuple[int, bool]:
    """Run the script in a process group of its own; whatever it leaves running (a
    port-forward it never killed) is ended with the group."""
    with (cwd.parent / "stdout").open("wb") as out, (cwd.parent / "stderr").open("wb") as err:
        child = subprocess.Popen(
            command,
            cwd=cwd,
            env=variables,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        timed_out = False
        try:
            returncode = child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            _signal_group(child.pid, signal.SIGKILL)
            returncode = child.wait()
        _signal_group(child.pid, signal.SIGTERM)
    return returncode, timed_out


def _signal_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


def _call(entry: dict[str, Any]) -> Call:
    return Call(
        seq=int(entry["seq"]),
        program=str(entry["program"]),
        argv=tuple(entry["argv"]),
        cwd=str(entry["cwd"]),
        script=str(entry.get("script") or ""),
        env=dict(entry.get("env") or {}),
        rc=entry.get("rc"),
        effect=dict(entry.get("effect") or {}),
        error=str(entry.get("error") or ""),
    )

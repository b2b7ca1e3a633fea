"""Would the inference service of a pinned image start with what a Deployment gives it? Its
settings as that image reads them: service/inference/ at the commit the image was built from
(CI tags each image with its commit, .github/workflows/image.yaml), its
`Settings.from_env()` run in a subprocess against the container's environment and the files
its ConfigMap volumes mount.

The service's settings module is where a configuration it cannot use stops it (a
SettingsError names the variable), so a Deployment that gives the pinned image a
configuration only a newer service reads crash-loops on its first start, while every manifest
check passes. The files are written to a temporary folder and the paths mapped into it: each
ConfigMap (or emptyDir) mount's path, in the environment's values and in the string literals
of the extracted source that start with it (the service's defaults, e.g. where it looks for
its models file). Nothing of the current working tree's service is imported: the subprocess
runs isolated (`python -I`) with the extracted folder first on its path.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from gitops.tree.git_history import GitHistory

PACKAGE = "service/inference"
SETTINGS = f"{PACKAGE}/settings.py"
TIMEOUT = 60.0
# Run in the subprocess, once per commit: import the commit's settings, then for each
# configuration (a JSON list on stdin) put its files in place, set its environment and say
# what Settings.from_env() makes of it, one JSON line each.
RUNNER = """\
import json, os, shutil, sys
sys.path[:0] = [sys.argv[1]]
root = sys.argv[2]
configs = json.load(sys.stdin)
try:
    from inference.settings import Settings, SettingsError
except Exception as error:
    for _ in configs:
        print(json.dumps({"unreadable": f"{type(error).__name__}: {error}"}))
    raise SystemExit(0)
base = dict(os.environ)
for config in configs:
    shutil.rmtree(root, ignore_errors=True)
    for folder, files in config["mounts"]:
        os.makedirs(folder, exist_ok=True)
        for name, text in files:
            with open(os.path.join(folder, name), "w", encoding="utf-8") as out:
                out.write(text)
    os.environ.clear()
    os.environ.update(base)
    os.environ.update(config["env"])
    try:
        Settings.from_env()
    except SettingsError as error:
        print(json.dumps({"refused": str(error)}))
    except Exception as error:
        print(json.dumps({"crashed": f"{type(error).__name__}: {error}"}))
    else:
        print(json.dumps({}))
"""


@dataclass(frozen=True)
class Mount:
    """A folder the container sees: its files (name -> text); empty for an emptyDir or an
    optional ConfigMap that does not exist."""

    path: str
    files: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Verdict:
    problem: str  # "" when the service accepts the configuration
    refused: bool = False  # a SettingsError, as opposed to a service that cannot be run


def container_mounts(
    spec: dict[str, Any], container: dict[str, Any], configmaps: dict[str, dict[str, Any]]
) -> list[Mount]:
    """The container's ConfigMap and emptyDir mounts with the files they hold (subPath and
    items respected); other volume types are left out."""
    volumes = {str(v.get("name")): v for v in spec.get("volumes") or []}
    mounts = []
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(str(mount.get("name"))) or {}
        path = str(mount.get("mountPath", ""))
        if "emptyDir" in volume:
            mounts.append(Mount(path))
            continue
        source = volume.get("configMap")
        if not isinstance(source, dict):
            continue
        data = {
            str(k): str(v)
            for k, v in ((configmaps.get(str(source.get("name"))) or {}).get("data") or {}).items()
        }
        items = source.get("items")
        files = (
            {
                str(i.get("path")): data[str(i.get("key"))]
                for i in items
                if str(i.get("key")) in data
            }
            if items
            else data
        )
        sub_path = str(mount.get("subPath") or "")
        if sub_path:
            if sub_path in files:
                parent = str(PurePosixPath(path).parent)
                mounts.append(Mount(parent, ((PurePosixPath(path).name, files[sub_path]),)))
            continue
        mounts.append(Mount(path, tuple(sorted(files.items()))))
    return mounts


class PinnedService:
    """The service of one commit, extracted once, judged for any number of configurations."""

    def __init__(self, history: GitHistory, commit: str, scratch: Path) -> None:
        self.commit = commit
        self.folder = scratch / commit
        self.missing = ""
        if not history.has_file(commit, SETTINGS):
            self.missing = f"commit {commit[:12]} has no {SETTINGS}"
            return
        if not self.folder.is_dir():
            _export(history.repo, commit, PACKAGE, self.folder)

    def judge(self, env: dict[str, str], mounts: list[Mount]) -> Verdict:
        """What the pinned service's Settings.from_env() makes of `env` with `mounts`."""
        return self.judge_all([(env, mounts)])[0]

    def judge_all(self, configs: list[tuple[dict[str, str], list[Mount]]]) -> list[Verdict]:
        """judge() of each configuration, in one subprocess (one interpreter start and one
        import of the service's settings for every Deployment pinning this commit)."""
        if self.missing:
            return [Verdict(self.missing) for _ in configs]
        paths = sorted({m.path for _, mounts in configs for m in mounts})
        with tempfile.TemporaryDirectory(prefix="pinned-service-") as scratch:
            root = Path(scratch) / "root"
            service = Path(scratch) / "service"
            _copy_mapped(self.folder, service, paths, root)
            batch = [
                {
                    "env": {k: _map_value(v, paths, root) for k, v in env.items()},
                    "mounts": [
                        [str(root / m.path.lstrip("/")), [list(f) for f in m.files]] for m in mounts
                    ],
                }
                for env, mounts in configs
            ]
            try:
                result = subprocess.run(
                    [sys.executable, "-I", "-c", RUNNER, str(service / "service"), str(root)],
                    input=json.dumps(batch),
                    env={"PATH": "/usr/bin:/bin", "HOME": scratch},
                    cwd=scratch,
                    capture_output=True,
                    text=True,
                    timeout=TIMEOUT,
                    check=False,
                )
            except subprocess.TimeoutExpired:
                return [
                    Verdict(f"its settings did not answer within {TIMEOUT:g} s") for _ in configs
                ]
        answers = result.stdout.strip().splitlines()
        if len(answers) != len(configs):
            tail = (result.stderr.strip().splitlines() or ["no output"])[-1]
            return [Verdict(f"its settings could not be run: {tail}") for _ in configs]
        return [_verdict(json.loads(answer)) for answer in answers]


def _verdict(answer: dict[str, str]) -> Verdict:
    if "refused" in answer:
        return Verdict(f"SettingsError: {answer['refused']}", refused=True)
    if "crashed" in answer:
        return Verdict(f"its settings fail: {answer['crashed']}", refused=True)
    if "unreadable" in answer:
        return Verdict(f"cannot import its settings: {answer['unreadable']}")
    return Verdict("")


def _export(repo: Path, commit: str, folder: str, dest: Path) -> None:
    """`folder` of `commit` into dest/<folder> (git archive: one call, no work tree)."""
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", "--format=tar", commit, "--", f"./{folder}"],
        capture_output=True,
        check=True,
    )
    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(dest, filter="data")


def _map_value(value: str, mount_paths: list[str], root: Path) -> str:
    for path in sorted(mount_paths, key=len, reverse=True):
        if value == path or value.startswith(path.rstrip("/") + "/"):
            return f"{root}{value}"
    return value


def _copy_mapped(source: Path, dest: Path, mount_paths: list[str], root: Path) -> None:
    """The extracted service with each string literal that starts with a mount path pointed
    into `root` (a quote, the path, then a quote or `/`), each literal once: one pattern, the
    longest paths first."""
    paths = sorted({p.rstrip("/") for p in mount_paths if p.rstrip("/")}, key=len, reverse=True)
    pattern = (
        re.compile(rf"""(['"])({"|".join(re.escape(p) for p in paths)})(?=[/'"])""")
        if paths
        else None
    )
    for file in source.rglob("*"):
        if not file.is_file():
            continue
        target = dest / file.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if file.suffix != ".py" or pattern is None:
            target.write_bytes(file.read_bytes())
            continue
        text = file.read_text(encoding="utf-8")
        target.write_text(pattern.sub(lambda m: f"{m[1]}{root}{m[2]}", text), encoding="utf-8")

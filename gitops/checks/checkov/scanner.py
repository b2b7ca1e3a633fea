"""checkov over everything rendered, in one invocation (each run costs 10-30 s here)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import weakref
from pathlib import Path
from typing import Any

import yaml

from gitops.tree.findings import Finding

CHECK = "checkov"

# Run inside checkov's own interpreter: import checkov (most of its start-up), then wait for
# the arguments of the one scan on stdin. Started before rendering, the import overlaps it.
_WARM = """
import json, sys, warnings
from checkov.main import Checkov
argv = json.loads(sys.stdin.readline())
with warnings.catch_warnings():
    warnings.simplefilter("ignore", category=SyntaxWarning)
    sys.exit(Checkov(argv).run())
"""
_ENV = {"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}


class Scanner:
    """One checkov scan, started early: `Scanner(checkov)` starts the interpreter and its
    imports; `scan(groups)` hands it the objects and waits for the report."""

    def __init__(self, checkov: str | None) -> None:
        self.checkov = checkov if checkov and shutil.which(checkov) else None
        self.process: subprocess.Popen[str] | None = None
        python = self._interpreter()
        if python is not None:
            self.process = subprocess.Popen(
                [python, "-c", _WARM],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, **_ENV},
            )
            # A validation that stops before its scan must not leave the interpreter behind.
            weakref.finalize(self, _stop, self.process)

    def _interpreter(self) -> str | None:
        """The Python of checkov's console script (its shebang), when there is one."""
        if self.checkov is None:
            return None
        first = Path(shutil.which(self.checkov) or self.checkov).read_bytes()[:200]
        line = first.split(b"\n", 1)[0].decode(errors="replace")
        python = line[2:].strip() if line.startswith("#!") else ""
        return python if python and Path(python).is_file() and "python" in python else None

    def scan(self, groups: dict[str, list[dict[str, Any]]]) -> list[Finding]:
        """Run checkov once over all `groups` (label -> objects); a Finding per failed check."""
        if self.checkov is None:
            self.close()
            return [
                Finding(
                    CHECK,
                    "<environment>",
                    "",
                    "checkov not found",
                    "checkov on PATH or .tools/checkov/bin/checkov (`make setup`)",
                )
            ]
        if not groups:
            self.close()
            return []
        with tempfile.TemporaryDirectory(prefix="checkov-") as tmp:
            labels: dict[str, str] = {}
            for index, (label, objects) in enumerate(sorted(groups.items())):
                name = f"{index:04d}-{re.sub(r'[^A-Za-z0-9.-]+', '_', label)[:80]}.yaml"
                labels[name] = label
                Path(tmp, name).write_text(yaml.safe_dump_all(objects, sort_keys=False))
            argv = ["-d", tmp, "--framework", "kubernetes", "--skip-download", "--compact"]
            argv += ["--quiet", "-o", "json"]
            if self.process is not None:
                out, err = self.process.communicate(json.dumps(argv) + "\n")
                result = subprocess.CompletedProcess(argv, self.process.returncode, out, err)
            else:
                result = subprocess.run(
                    [self.checkov, *argv],
                    capture_output=True,
                    text=True,
                    check=False,
                    env={**os.environ, **_ENV},
                    cwd=tmp,
                )
        return _parse(result, labels)

    def close(self) -> None:
        if self.process is not None:
            _stop(self.process)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def scan(groups: dict[str, list[dict[str, Any]]], checkov: str | None) -> list[Finding]:
    """Run checkov once over all `groups` (label -> objects); one Finding per failed check."""
    return Scanner(checkov).scan(groups)


def _parse(result: subprocess.CompletedProcess[str], labels: dict[str, str]) -> list[Finding]:
    try:
        report = json.loads(result.stdout) if result.stdout.strip() else []
    except json.JSONDecodeError:
        return [
            Finding(
                CHECK,
                "<checkov>",
                "",
                f"checkov exited {result.returncode} without a JSON report: "
                f"{(result.stderr or result.stdout).strip()[-2000:]}",
                "a JSON report",
            )
        ]
    reports = report if isinstance(report, list) else [report]
    findings = []
    for rep in reports:
        if not isinstance(rep, dict):
            continue  # checkov prints a summary dict without results when nothing matched
        for failed in (rep.get("results") or {}).get("failed_checks") or []:
            file_name = Path(str(failed.get("file_path", ""))).name
            findings.append(
                Finding(
                    CHECK,
                    labels.get(file_name, file_name),
                    _resource(failed.get("resource", "")),
                    f"{failed.get('check_id')} {failed.get('check_name')}",
                    "fix it, or annotate the resource with "
                    f"checkov.io/skip1: {failed.get('check_id')}=<reason>",
                )
            )
    if result.returncode not in (0, 1) and not findings:
        findings.append(
            Finding(
                CHECK,
                "<checkov>",
                "",
                f"checkov failed with exit code {result.returncode}: "
                f"{result.stderr.strip()[-2000:]}",
                "exit code 0",
            )
        )
    return findings


def _resource(resource: str) -> str:
    # checkov names resources Kind.namespace.name
    parts = resource.split(".", 2)
    if len(parts) == 3:
        return f"{parts[0]} {parts[1]}/{parts[2]}"
    return resource

"""checkov over everything rendered, in one invocation (each run costs 10-30 s here), and
the rule that every checkov skip annotation on a resource carries a justification."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from gitops.findings import Finding, annotations_of, obj_ref

CHECK = "checkov"
SKIPS_CHECK = "checkov-skips"
SKIP_ANNOTATION = re.compile(r"^checkov\.io/skip\d+$")
SKIP_VALUE = re.compile(r"^\s*(CKV2?_[A-Z0-9_]+)\s*(?:=\s*(.*))?$")


def check_skip_reasons(objects: list[dict[str, Any]], where: str) -> list[Finding]:
    findings = []
    for obj in objects:
        if not isinstance(obj, dict):
            continue
        for key, value in annotations_of(obj).items():
            if not SKIP_ANNOTATION.match(key):
                continue
            match = SKIP_VALUE.match(str(value))
            if match is None or not (match.group(2) or "").strip():
                findings.append(
                    Finding(
                        SKIPS_CHECK,
                        where,
                        obj_ref(obj),
                        f"annotation {key}={value!r} has no reason",
                        f"{key}: CKV_K8S_<n>=<why this check does not apply here>",
                    )
                )
    return findings


def scan(groups: dict[str, list[dict[str, Any]]], checkov: str | None) -> list[Finding]:
    """Run checkov once over all `groups` (label -> objects); one Finding per failed check."""
    if not groups:
        return []
    if checkov is None or shutil.which(checkov) is None:
        return [
            Finding(
                CHECK,
                "<environment>",
                "",
                "checkov not found",
                "checkov on PATH or .tools/checkov/bin/checkov (`make setup`)",
            )
        ]
    with tempfile.TemporaryDirectory(prefix="checkov-") as tmp:
        labels: dict[str, str] = {}
        for index, (label, objects) in enumerate(sorted(groups.items())):
            name = f"{index:04d}-{re.sub(r'[^A-Za-z0-9.-]+', '_', label)[:80]}.yaml"
            labels[name] = label
            Path(tmp, name).write_text(yaml.safe_dump_all(objects, sort_keys=False))
        env = {**os.environ, "BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true"}
        result = subprocess.run(
            [
                checkov,
                "-d",
                tmp,
                "--framework",
                "kubernetes",
                "--skip-download",
                "--compact",
                "--quiet",
                "-o",
                "json",
            ],
            capture_output=True,
            text=True,
            check=False,
            env=env,
            cwd=tmp,
        )
    return _parse(result, labels)


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

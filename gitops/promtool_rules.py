"""`promtool check rules` on the spec of every PrometheusRule."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import yaml

from gitops.tree.findings import Finding, obj_ref

CHECK = "promtool"


def check(rules: list[tuple[str, dict[str, Any]]], promtool: str | None) -> list[Finding]:
    """`rules`: (where, PrometheusRule object) pairs, already de-duplicated."""
    if not rules:
        return []
    if promtool is None or shutil.which(promtool) is None:
        return [
            Finding(
                CHECK,
                "<environment>",
                "",
                f"promtool not found ({promtool or 'not on PATH'})",
                "promtool (Debian package `prometheus`; `make setup` installs it)",
            )
        ]
    findings = []
    with tempfile.TemporaryDirectory(prefix="promtool-") as tmp:
        for index, (where, rule) in enumerate(rules):
            path = Path(tmp) / f"rules-{index}.yaml"
            path.write_text(yaml.safe_dump(rule.get("spec") or {}), encoding="utf-8")
            result = subprocess.run(
                [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                output = (result.stderr + result.stdout).replace(str(path), "<spec>").strip()
                findings.append(
                    Finding(
                        CHECK,
                        where,
                        obj_ref(rule),
                        f"promtool check rules failed: {output}",
                        "valid PromQL and rule groups",
                    )
                )
    return findings

"""`promtool`: `promtool check rules` on the spec of every PrometheusRule, each distinct
spec once."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from gitops.checks import Context, register
from gitops.tree.findings import Finding, obj_ref

CHECK = "promtool"


@register(CHECK, "every PrometheusRule passes promtool check rules", order=120, generic=True)
def check(ctx: Context) -> Iterator[Finding]:
    rules = unique_rules(ctx.outputs)
    ctx.stats["prometheus_rules"] = len(rules)
    yield from check_rules(rules, ctx.settings.promtool)


def unique_rules(
    outputs: list[tuple[str, list[dict[str, Any]]]],
) -> list[tuple[str, dict[str, Any]]]:
    """(where, PrometheusRule) for each distinct spec, where it is first rendered."""
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    for where, objects in outputs:
        for obj in objects:
            if obj.get("kind") == "PrometheusRule":
                seen.setdefault(json.dumps(obj.get("spec"), sort_keys=True), (where, obj))
    return list(seen.values())


def check_rules(rules: list[tuple[str, dict[str, Any]]], promtool: str | None) -> list[Finding]:
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

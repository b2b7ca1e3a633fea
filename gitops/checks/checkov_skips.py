"""`checkov-skips`: every checkov skip annotation on a resource names a check and says why
it does not apply there (`checkov.io/skip1: CKV_K8S_43=<why>`), so a skip is a decision
someone can review, not a way to silence checkov."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from gitops.checks import Context, register
from gitops.tree.findings import Finding, annotations_of, obj_ref

CHECK = "checkov-skips"
SKIP_ANNOTATION = re.compile(r"^checkov\.io/skip\d+$")
SKIP_VALUE = re.compile(r"^\s*(CKV2?_[A-Z0-9_]+)\s*(?:=\s*(.*))?$")


@register(
    CHECK,
    "every checkov skip annotation names a check and gives a reason",
    order=110,
    generic=True,
)
def check(ctx: Context) -> Iterator[Finding]:
    for where, objects in ctx.outputs:
        yield from check_skip_reasons(objects, where)


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
                        CHECK,
                        where,
                        obj_ref(obj),
                        f"annotation {key}={value!r} has no reason",
                        f"{key}: CKV_K8S_<n>=<why this check does not apply here>",
                    )
                )
    return findings

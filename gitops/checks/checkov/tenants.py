"""Scan each distinct tenant once: Applications of different tenants that render the same
objects but for the tenant's name are one input to checkov, and its findings are repeated
for every tenant of the group.

checkov's Kubernetes checks judge an object's fields (security contexts, probes, resources,
images), never a name, so two tenants whose objects differ only in the tenant's name get the
same verdicts. Anything else that differs (a patch in one tenant's overlay) makes the tenant
a group of its own. The names kustomize derives from content (a ConfigMap's hash suffix) are
compared without their suffix, which is all they differ by. With 50 tenants made from the
same template this turns ~100 tenant inputs into ~4, which is most of checkov's time.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from gitops.tree.findings import Finding

TENANT_LABEL = "ml-platform.example.com/tenant"
_HASHED = re.compile(r"^(?P<base>.+)-[a-z0-9]{10}$")  # kustomize's generator name suffix


@dataclass
class Collapsed:
    groups: dict[str, list[dict[str, Any]]]  # label -> objects, one label per distinct tenant
    # label scanned -> [(label it stands for, its tenant, the scanned label's tenant)]
    copies: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)


def _token(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![A-Za-z0-9_-]){re.escape(name)}(?![A-Za-z0-9_])")


def shape(objects: list[dict[str, Any]], tenant: str) -> str:
    """The objects as text, with the tenant's name and generated name suffixes left out."""
    text = json.dumps(objects, sort_keys=True)
    for obj in objects:
        name = str((obj.get("metadata") or {}).get("name") or "")
        if obj.get("kind") in ("ConfigMap", "Secret") and (match := _HASHED.match(name)):
            text = text.replace(name, f"{match['base']}-<hash>")
    return _token(tenant).sub("<tenant>", text)


def collapse(groups: dict[str, list[dict[str, Any]]], tenants: dict[str, str]) -> Collapsed:
    """`tenants`: label -> tenant, for the inputs that belong to one tenant."""
    out = Collapsed({})
    seen: dict[str, str] = {}  # shape -> label scanned
    for label, objects in sorted(groups.items()):
        tenant = tenants.get(label)
        if not tenant:
            out.groups[label] = objects
            continue
        key = f"{label.split(':', 1)[0]}|{shape(objects, tenant)}"
        if key in seen:
            first = seen[key]
            out.copies.setdefault(first, []).append((label, tenant, tenants[first]))
        else:
            seen[key] = label
            out.groups[label] = objects
    return out


def expand(findings: list[Finding], collapsed: Collapsed) -> list[Finding]:
    """Each finding of a scanned tenant, repeated for every tenant it stood for."""
    out = list(findings)
    for finding in findings:
        for label, tenant, scanned in collapsed.copies.get(finding.where, []):
            rename = _token(scanned)
            out.append(
                Finding(
                    finding.check,
                    label,
                    rename.sub(tenant, finding.obj),
                    finding.problem,
                    finding.expected,
                )
            )
    return out

"""Compare the objects of each Application between two checkouts, with secrets redacted."""

from __future__ import annotations

import copy
import difflib
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from gitops.diff.apps import Application

# Environment variables whose literal value is probably a credential.
_CREDENTIAL_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|ACCESS_KEY|PRIVATE_KEY|CREDENTIAL", re.I)
_LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


def redaction_marker(key: str, value: Any) -> str:
    # A short digest keeps a change visible in the diff without showing the value.
    digest = hashlib.sha256(f"{key}\0{value}".encode()).hexdigest()[:12]
    return f"<redacted: sha256 {digest}>"


def _redact_env(node: Any) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "env" and isinstance(value, list):
                for var in value:
                    if (
                        isinstance(var, dict)
                        and "value" in var
                        and _CREDENTIAL_NAME.search(str(var.get("name", "")))
                    ):
                        var["value"] = redaction_marker(str(var["name"]), var["value"])
            else:
                _redact_env(value)
    elif isinstance(node, list):
        for item in node:
            _redact_env(item)


def redact(obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of `obj` with Secret values, credential-looking env values and
    last-applied annotations (which may embed a Secret) replaced by markers."""
    clean = copy.deepcopy(obj)
    if clean.get("kind") == "Secret" and str(clean.get("apiVersion")) == "v1":
        for field_name in ("data", "stringData"):
            values = clean.get(field_name)
            if isinstance(values, dict):
                clean[field_name] = {k: redaction_marker(k, v) for k, v in values.items()}
    annotations = (clean.get("metadata") or {}).get("annotations")
    if isinstance(annotations, dict) and _LAST_APPLIED in annotations:
        annotations[_LAST_APPLIED] = redaction_marker(_LAST_APPLIED, annotations[_LAST_APPLIED])
    _redact_env(clean)
    return clean


def resource_key(obj: dict[str, Any]) -> str:
    """`group/Kind namespace/name`, version left out so an apiVersion bump is a change."""
    api_version = str(obj.get("apiVersion", ""))
    group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
    metadata = obj.get("metadata") or {}
    kind = f"{group}/{obj.get('kind')}" if group else str(obj.get("kind"))
    namespace = metadata.get("namespace") or "-"
    return f"{kind} {namespace}/{metadata.get('name', '')}"


class _BlockDumper(yaml.SafeDumper):
    """Multi-line strings (a ConfigMap's models.yaml or rollout policy) as `|` blocks, so their
    diff shows the lines that changed instead of one folded string."""


def _string(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_BlockDumper.add_representer(str, _string)


def to_yaml(obj: dict[str, Any]) -> str:
    return yaml.dump(obj, Dumper=_BlockDumper, sort_keys=True, default_flow_style=False, width=100)


# kustomize's configMapGenerator/secretGenerator name suffix: ten characters of a sha256 in
# hex with 0, 1, 3, a and e mapped to g, h, k, m and t (sigs.k8s.io/kustomize/api/hasher,
# encode). A change of a generated ConfigMap's content renames it.
_GENERATED = re.compile(r"^(?P<stem>.+ .+/.+)-[245678bcdfghkmt9]{10}$")


def _index(resources: list[dict[str, Any]]) -> dict[str, str]:
    indexed: dict[str, str] = {}
    for obj in resources:
        key = resource_key(obj)
        unique, count = key, 1
        while unique in indexed:
            count += 1
            unique = f"{key} #{count}"
        indexed[unique] = to_yaml(redact(obj))
    return indexed


@dataclass
class ResourceChange:
    key: str
    status: str  # added | changed | removed
    diff: str


@dataclass
class AppDiff:
    key: str
    status: str  # added | removed | changed | unchanged
    source: str
    changes: list[ResourceChange] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def count(self, status: str) -> int:
        return sum(1 for change in self.changes if change.status == status)


def _unified(key: str, before: str, after: str) -> str:
    lines = difflib.unified_diff(
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        fromfile=f"base: {key}" if before else "/dev/null",
        tofile=f"head: {key}" if after else "/dev/null",
        n=3,
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _renamed(
    before: dict[str, str], after: dict[str, str]
) -> tuple[list[ResourceChange], set[str]]:
    """A generated ConfigMap or Secret whose content changed, shown as one change of the old
    name to the new one (the only removed and the only added of its stem) with the diff of
    its content, not as one object removed and an unrelated one added."""

    def stems(keys: set[str]) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for key in keys:
            match = _GENERATED.match(key)
            if match:
                found.setdefault(match["stem"], []).append(key)
        return found

    gone, new = stems(before.keys() - after.keys()), stems(after.keys() - before.keys())
    changes, paired = [], set()
    for stem in sorted(gone.keys() & new.keys()):
        if len(gone[stem]) == 1 and len(new[stem]) == 1:
            old_key, new_key = gone[stem][0], new[stem][0]
            paired |= {old_key, new_key}
            key = f"{old_key} -> {new_key.rsplit('/', 1)[1]}"
            changes.append(
                ResourceChange(key, "changed", _unified(key, before[old_key], after[new_key]))
            )
    return changes, paired


def compare(base: dict[str, Application], head: dict[str, Application]) -> list[AppDiff]:
    """One AppDiff per Application in either checkout, ordered by key."""
    diffs = []
    for app_key in sorted(base.keys() | head.keys()):
        old, new = base.get(app_key), head.get(app_key)
        before = _index(old.resources) if old else {}
        after = _index(new.resources) if new else {}
        changes, paired = _renamed(before, after)
        for key in sorted((before.keys() | after.keys()) - paired):
            if key not in before:
                changes.append(ResourceChange(key, "added", _unified(key, "", after[key])))
            elif key not in after:
                changes.append(ResourceChange(key, "removed", _unified(key, before[key], "")))
            elif before[key] != after[key]:
                diff = _unified(key, before[key], after[key])
                changes.append(ResourceChange(key, "changed", diff))
        if old is None:
            status = "added"
        elif new is None:
            status = "removed"
        else:
            status = "changed" if changes or old.source != new.source else "unchanged"
        source = new.source if new else old.source if old else ""
        errors = [f"head: {e}" for e in (new.errors if new else [])]
        diffs.append(AppDiff(app_key, status, source, changes, errors))
    return diffs

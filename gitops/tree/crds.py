"""The pinned upstream CRDs: what each kind is (group, scope, served versions) and its
openAPIV3Schema as the validator of a served version.

The structural schema is turned into a strict JSON Schema: objects that list `properties`
reject unknown fields unless they say `x-kubernetes-preserve-unknown-fields`, `nullable`
admits null, `x-kubernetes-int-or-string` admits both, and Go RE2 `pattern`s are checked by
RE2 itself (see go_regex). CRDs are large (ApplicationSet is 1.4 MB), so each directory is
loaded and converted once per process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from gitops.tree.go_regex import Re2Draft7Validator

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Crd:
    group: str
    kind: str
    scope: str
    source: Path
    # version name -> (served, storage, raw openAPIV3Schema)
    versions: dict[str, tuple[bool, bool, dict[str, Any]]] = field(default_factory=dict)
    _validators: dict[str, jsonschema.protocols.Validator] = field(default_factory=dict)

    def validator(self, version: str) -> jsonschema.protocols.Validator:
        if version not in self._validators:
            schema = to_json_schema(self.versions[version][2], top_level=True)
            self._validators[version] = Re2Draft7Validator(schema)
        return self._validators[version]


class CrdSet:
    """The pinned CRDs, keyed by (group, kind)."""

    def __init__(self, crds: list[Crd]) -> None:
        self.by_kind = {(c.group, c.kind): c for c in crds}
        self.groups = {c.group for c in crds}

    def find(self, obj: dict[str, Any]) -> Crd | None:
        group, _version = split_api_version(str(obj.get("apiVersion", "")))
        return self.by_kind.get((group, str(obj.get("kind", ""))))

    def knows_group(self, obj: dict[str, Any]) -> bool:
        return split_api_version(str(obj.get("apiVersion", "")))[0] in self.groups

    def scope(self, obj: dict[str, Any]) -> str | None:
        crd = self.find(obj)
        return crd.scope if crd else None


def split_api_version(api_version: str) -> tuple[str, str]:
    group, _, version = api_version.rpartition("/")
    return group, version


@functools.cache
def load_crds(crds_dir: Path) -> CrdSet:
    crds = []
    for path in sorted(crds_dir.rglob("*.y*ml")):
        for doc in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_Loader):
            if not doc or doc.get("kind") != "CustomResourceDefinition":
                continue
            spec = doc["spec"]
            crd = Crd(spec["group"], spec["names"]["kind"], spec.get("scope", "Namespaced"), path)
            for version in spec["versions"]:
                schema = (version.get("schema") or {}).get("openAPIV3Schema") or {}
                crd.versions[version["name"]] = (
                    bool(version.get("served")),
                    bool(version.get("storage")),
                    schema,
                )
            crds.append(crd)
    return CrdSet(crds)


_DROP_KEYS = {
    "description",
    "example",
    "externalDocs",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
}


def to_json_schema(node: Any, top_level: bool = False) -> Any:
    """Strict JSON Schema (draft 7) equivalent of an OpenAPI v3 structural schema node."""
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP_KEYS or key == "format":
            # `format` is advisory in CRDs (int32, date-time...): the API server ignores most
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(sub) for name, sub in value.items()}
        elif key in ("items", "additionalProperties", "not"):
            out[key] = to_json_schema(value) if isinstance(value, dict) else value
        elif key in ("allOf", "anyOf", "oneOf"):
            # In structural schemas these only add constraints; their branches never declare
            # all fields, so they must not reject unknown ones on their own.
            out[key] = [_constraints_only(to_json_schema(v)) for v in value]
        elif key.startswith("x-kubernetes-"):
            continue
        else:
            out[key] = value
    preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
    if node.get("x-kubernetes-embedded-resource") and "properties" in out:
        for name in ("apiVersion", "kind", "metadata"):
            out["properties"].setdefault(name, {} if name == "metadata" else {"type": "string"})
    if top_level:
        out.setdefault("properties", {})
        for name in ("apiVersion", "kind"):
            out["properties"].setdefault(name, {"type": "string"})
        out["properties"].setdefault("metadata", {"type": "object"})
    if "properties" in out and "additionalProperties" not in out and not preserve:
        out["additionalProperties"] = False
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out.pop("anyOf", None)
        out["type"] = ["integer", "string"]
    if node.get("nullable") is True:
        out.pop("nullable", None)
        if "type" in out:
            types = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*types, "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    else:
        out.pop("nullable", None)
    return out


def _constraints_only(schema: Any) -> Any:
    if isinstance(schema, dict) and schema.get("additionalProperties") is False:
        schema = dict(schema)
        del schema["additionalProperties"]
    return schema

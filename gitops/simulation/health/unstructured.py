"""What Argo CD reads from any object before a health check: its group, version and kind, name,
annotations, finalizers and deletion timestamp, read as k8s.io/apimachinery's
unstructured.Unstructured getters read them (a field of the wrong type reads as absent).
Objects are JSON-shaped mappings, as the API server returns them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

JsonObject = Mapping[str, Any]

# Go's time.RFC3339 layout, which metav1.Time.UnmarshalQueryParameter parses.
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_ZERO_TIME = datetime.fromisoformat("0001-01-01T00:00:00+00:00")


def group_version_kind(obj: JsonObject) -> tuple[str, str, str]:
    """Unstructured.GroupVersionKind: schema.ParseGroupVersion of apiVersion ("apps/v1" ->
    apps, v1; "v1" -> core group ""); an apiVersion with two slashes gives an empty GVK."""
    api_version = _string(obj, "apiVersion")
    kind = _string(obj, "kind")
    if api_version in ("", "/"):
        return "", "", kind
    slashes = api_version.count("/")
    if slashes == 0:
        return "", api_version, kind
    if slashes == 1:
        group, version = api_version.split("/")
        return group, version, kind
    return "", "", ""


def gvk_string(group: str, version: str, kind: str) -> str:
    """schema.GroupVersionKind.String, as Argo CD's "unsupported ... GVK" errors print it."""
    return f"{group}/{version}, Kind={kind}"


def config_map_key(group: str, kind: str) -> str:
    """util/lua/lua.go GetConfigMapKey: "group/Kind", or "Kind" for the core group; the key of
    an argocd-cm override and the folder of a built-in health.lua."""
    return f"{group}/{kind}" if group else kind


def kind_of(obj: JsonObject) -> str:
    return _string(obj, "kind")


def name(obj: JsonObject) -> str:
    return _string(_metadata(obj), "name")


def namespace(obj: JsonObject) -> str:
    return _string(_metadata(obj), "namespace")


def uid(obj: JsonObject) -> str:
    return _string(_metadata(obj), "uid")


def annotations(obj: JsonObject) -> Mapping[str, str]:
    """GetAnnotations: a map holding a value that is not a string reads as no annotations."""
    found = _metadata(obj).get("annotations")
    if not isinstance(found, Mapping) or not all(isinstance(v, str) for v in found.values()):
        return {}
    return found


def finalizers(obj: JsonObject) -> list[str]:
    """GetFinalizers: a list holding something other than strings reads as none."""
    found = _metadata(obj).get("finalizers")
    if not isinstance(found, list) or not all(isinstance(item, str) for item in found):
        return []
    return found


def has_deletion_timestamp(obj: JsonObject) -> bool:
    """GetDeletionTimestamp() != nil: metadata.deletionTimestamp parses as RFC 3339 and is not
    Go's zero time (an empty, "null" or unparseable value reads as none)."""
    text = _string(_metadata(obj), "deletionTimestamp")
    if not _RFC3339.fullmatch(text):
        return False
    try:
        stamp = datetime.fromisoformat(text)
    except ValueError:
        return False
    return stamp != _ZERO_TIME


def go_quote(text: str) -> str:
    """Go's %q of a string (strconv.Quote): double quotes, backslash escapes for quotes,
    backslashes and unprintable characters."""
    escapes = {'"': '\\"', "\\": "\\\\", "\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n"}
    escapes.update({"\r": "\\r", "\t": "\\t", "\v": "\\v"})
    out = []
    for char in text:
        if char in escapes:
            out.append(escapes[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def _metadata(obj: JsonObject) -> JsonObject:
    found = obj.get("metadata")
    return found if isinstance(found, Mapping) else {}


def _string(obj: JsonObject, key: str) -> str:
    found = obj.get(key)
    return found if isinstance(found, str) else ""

"""Set one `images:` entry of a kustomization.yaml by editing lines, keeping everything else.

PyYAML cannot write a file back with its comments, and neither ruamel.yaml nor a
`kustomize` binary with `edit` is available offline, so the `images:` block is edited
line by line and the result is checked by parsing it: every other key must be unchanged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml

from gitops.image_reference import ImageReference

_IMAGES_KEY = re.compile(r"^images:\s*(?P<flow>\[\s*\])?\s*(?:#.*)?$")
_ITEM = re.compile(r"^(?P<indent>\s*)- ")


class KustomizationEditError(RuntimeError):
    """The file could not be edited safely; the message says why."""


@dataclass(frozen=True)
class ImageChange:
    before: dict[str, Any] | None
    after: dict[str, Any]


def _scalar(value: str) -> str:
    # Quote only when YAML would read the bare text back as something else (1.10 -> float).
    return value if yaml.safe_load(value) == value else json.dumps(value)


def _entry_lines(indent: str, image_name: str, ref: ImageReference) -> list[str]:
    lines = [
        f"{indent}- name: {_scalar(image_name)}\n",
        f"{indent}  newName: {_scalar(ref.name)}\n",
    ]
    if ref.tag:
        lines.append(f"{indent}  newTag: {_scalar(ref.tag)}\n")
    if ref.digest:
        lines.append(f"{indent}  digest: {ref.digest}\n")
    return lines


def _entry_dict(image_name: str, ref: ImageReference) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": image_name, "newName": ref.name}
    if ref.tag:
        entry["newTag"] = ref.tag
    if ref.digest:
        entry["digest"] = ref.digest
    return entry


def _is_content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _block_end(lines: list[str], start: int) -> int:
    """Index after the last line of the sequence that starts below lines[start]."""
    end = start + 1
    last_content = start
    while end < len(lines):
        line = lines[end]
        if _is_content(line):
            if not line[0].isspace() and not line.startswith("- "):
                break
            last_content = end
        end += 1
    # Blank lines and comments after the last item belong to whatever follows.
    return last_content + 1


def _split_items(lines: list[str], start: int, end: int) -> list[tuple[int, int]]:
    items: list[tuple[int, int]] = []
    indent: str | None = None
    for index in range(start, end):
        match = _ITEM.match(lines[index])
        if match and (indent is None or match.group("indent") == indent):
            indent = match.group("indent")
            if items:
                items[-1] = (items[-1][0], index)
            items.append((index, end))
    return items


def set_image(text: str, image_name: str, ref: ImageReference) -> tuple[str, ImageChange]:
    """Return `text` with the `images:` entry for `image_name` set to `ref`."""
    original = yaml.safe_load(text) or {}
    if not isinstance(original, dict):
        raise KustomizationEditError("not a mapping at the top level")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    key_index = next((i for i, line in enumerate(lines) if _IMAGES_KEY.match(line)), None)
    before: dict[str, Any] | None = None

    if key_index is None:
        lines += ["images:\n", *_entry_lines("", image_name, ref)]
    elif _IMAGES_KEY.match(lines[key_index]).group("flow"):  # type: ignore[union-attr]
        lines[key_index : key_index + 1] = ["images:\n", *_entry_lines("", image_name, ref)]
    else:
        end = _block_end(lines, key_index)
        items = _split_items(lines, key_index + 1, end)
        indent = _ITEM.match(lines[items[0][0]]).group("indent") if items else ""  # type: ignore[union-attr]
        target = None
        for first, last in items:
            parsed = yaml.safe_load("".join(lines[first:last]))
            if (
                isinstance(parsed, list)
                and parsed
                and isinstance(parsed[0], dict)
                and parsed[0].get("name") == image_name
            ):
                target, before = (first, last), parsed[0]
                break
        if target is None:
            lines[end:end] = _entry_lines(indent, image_name, ref)
        else:
            first, last = target
            # Full-line comments inside the old entry are kept above the new one.
            comments = [line for line in lines[first + 1 : last] if line.strip().startswith("#")]
            lines[first:last] = comments + _entry_lines(indent, image_name, ref)

    new_text = "".join(lines)
    _check(original, yaml.safe_load(new_text), image_name, ref)
    return new_text, ImageChange(before=before, after=_entry_dict(image_name, ref))


def _check(original: dict[str, Any], edited: Any, image_name: str, ref: ImageReference) -> None:
    """Prove the edit touched only the one entry."""
    if not isinstance(edited, dict):
        raise KustomizationEditError("the edited file is no longer a mapping")
    if {k: v for k, v in original.items() if k != "images"} != {
        k: v for k, v in edited.items() if k != "images"
    }:
        raise KustomizationEditError("the edit would change keys other than `images`")
    others_before = [i for i in original.get("images") or [] if i.get("name") != image_name]
    others_after = [i for i in edited.get("images") or [] if i.get("name") != image_name]
    mine = [i for i in edited.get("images") or [] if i.get("name") == image_name]
    if others_before != others_after or mine != [_entry_dict(image_name, ref)]:
        raise KustomizationEditError("the edited `images` block does not read back as expected")

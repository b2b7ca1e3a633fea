"""Set one `images:` entry of a kustomization.yaml, keeping everything else as written.

ruamel.yaml reads the file into a round-trip tree (comments, key order, quoting) and writes it
back; only the one entry changes. The result is then read back with PyYAML to prove it: every
other key, and every other image, must be unchanged.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from gitops.tree.image_reference import ImageReference


class KustomizationEditError(RuntimeError):
    """The file could not be edited safely; the message says why."""


@dataclass(frozen=True)
class ImageChange:
    before: dict[str, Any] | None
    after: dict[str, Any]


def _round_trip() -> YAML:
    rt = YAML()  # round-trip mode
    rt.preserve_quotes = True
    # The repository's style (yamllint): sequences indented under their key.
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.width = 4096  # never fold long values
    return rt


def _entry(image_name: str, ref: ImageReference) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": image_name, "newName": ref.name}
    if ref.tag:
        entry["newTag"] = ref.tag
    if ref.digest:
        entry["digest"] = ref.digest
    return entry


def set_image(text: str, image_name: str, ref: ImageReference) -> tuple[str, ImageChange]:
    """Return `text` with the `images:` entry for `image_name` set to `ref`."""
    rt = _round_trip()
    try:
        original = yaml.safe_load(text) or {}
        tree = rt.load(text) or CommentedMap()
    except (yaml.YAMLError, YAMLError) as error:
        raise KustomizationEditError(f"not valid YAML: {error}") from None
    if not isinstance(original, dict) or not isinstance(tree, CommentedMap):
        raise KustomizationEditError("not a mapping at the top level")
    images = tree.get("images")
    if images is None or (isinstance(images, list) and not images):
        images = tree["images"] = CommentedSeq()
    if not isinstance(images, list):
        raise KustomizationEditError("`images` is not a list")

    wanted = _entry(image_name, ref)
    before: dict[str, Any] | None = None
    for item in images:
        if isinstance(item, dict) and item.get("name") == image_name:
            before = dict(item)
            # Edit in place: the entry keeps its position and comments; stale keys
            # (a digest when only a tag is set now, newTag when a digest replaces it) go.
            for key in [k for k in item if k not in wanted]:
                del item[key]
            for key, value in wanted.items():
                item[key] = value
            break
    else:
        images.append(CommentedMap(wanted))

    out = io.StringIO()
    rt.dump(tree, out)
    new_text = out.getvalue()
    _check(original, yaml.safe_load(new_text), image_name, wanted)
    return new_text, ImageChange(before=before, after=wanted)


def _check(original: dict[str, Any], edited: Any, image_name: str, wanted: dict[str, Any]) -> None:
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
    if others_before != others_after or mine != [wanted]:
        raise KustomizationEditError("the edited `images` block does not read back as expected")

"""inference.contracts.model_files: the digests recorded as model version tags round-trip, a
long manifest is split into parts no tag value limit refuses, and a manifest that was cut,
edited or emptied is refused rather than read as fewer files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from inference.contracts import model_files


def _folder(tmp_path: Path, files: dict[str, bytes]) -> Path:
    for relative, content in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_bytes(content)
    return tmp_path


def test_digests_round_trip_through_tags(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"MLmodel": b"flavors: {}\n", "sub/model.pkl": b"\x80\x05."})
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "x.pyc").write_bytes(b"skipped")
    digests = model_files.folder_digests(folder)
    assert digests == {
        "MLmodel": hashlib.sha256(b"flavors: {}\n").hexdigest(),
        "sub/model.pkl": hashlib.sha256(b"\x80\x05.").hexdigest(),
    }
    tags = model_files.to_tags(digests)
    assert set(tags) == {model_files.COUNT_TAG, model_files.MANIFEST_TAG}
    assert tags[model_files.MANIFEST_TAG].startswith(digests["MLmodel"] + "  MLmodel\n")
    assert model_files.from_tags(tags) == digests
    assert model_files.mismatches(folder, digests) == []


def test_a_long_manifest_is_split_into_parts_within_the_limit() -> None:
    digests = {f"files/{n:04d}-{'x' * 150}.bin": "a" * 64 for n in range(1500)}
    tags = model_files.to_tags(digests)
    parts = [key for key in tags if key.startswith(model_files.MANIFEST_TAG)]
    assert len(parts) > 1
    assert all(len(tags[key]) <= model_files.PART_CHARS for key in parts)
    assert model_files.from_tags(tags) == digests
    # A part lost (or a tag removed by hand) is noticed by the count, not read as fewer files.
    del tags[f"{model_files.MANIFEST_TAG}.{len(parts)}"]
    with pytest.raises(model_files.ManifestError, match="files listed"):
        model_files.from_tags(tags)


def test_no_tags_means_no_digests_and_a_broken_manifest_is_an_error() -> None:
    assert model_files.from_tags({"onnx_gate": "passed"}) is None
    good = model_files.to_tags({"MLmodel": "b" * 64})
    with pytest.raises(model_files.ManifestError, match="unreadable line"):
        model_files.from_tags({**good, model_files.MANIFEST_TAG: "not-a-digest  MLmodel\n"})
    with pytest.raises(model_files.ManifestError, match="number of files"):
        model_files.from_tags({model_files.MANIFEST_TAG: good[model_files.MANIFEST_TAG]})


def test_changed_and_unlisted_files_are_mismatches(tmp_path: Path) -> None:
    folder = _folder(tmp_path, {"MLmodel": b"a", "model.pkl": b"b"})
    digests = model_files.folder_digests(folder)
    (folder / "model.pkl").write_bytes(b"changed")
    (folder / "extra.py").write_bytes(b"import os")
    (folder / "registered_model_meta").write_bytes(b"written by MLflow's client")
    found = {m.path: m for m in model_files.mismatches(folder, digests)}
    assert set(found) == {"model.pkl", "extra.py"}
    assert found["model.pkl"].recorded == digests["model.pkl"]
    assert found["model.pkl"].found == hashlib.sha256(b"changed").hexdigest()
    assert found["extra.py"].recorded == "none"
    # A manifest file the folder lacks is not a mismatch: the service downloads only what
    # its runtime reads.
    (folder / "model.pkl").unlink()
    (folder / "extra.py").unlink()
    assert model_files.mismatches(folder, digests) == []

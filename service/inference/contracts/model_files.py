"""The sha256 of every file of a model version, recorded in the registry's database as model
version tags at registration and checked by the service before it loads a file.

The digests live in MLflow's database (model version tags), not in the artifact store they
describe: whoever can write to MinIO or the S3 bucket cannot make a changed file match. The
manifest is `sha256sum`'s format, one `<hex>  <path>` line per file, sorted by path:

    model_files.count     the number of files listed (a dropped part is noticed)
    model_files.sha256    the manifest, or its first part
    model_files.sha256.2  the next part, ... (only when the manifest is longer than one part)

MLflow 3.17.2 accepts model version tag values up to 100,000 characters
(mlflow/mlflow v3.17.2, mlflow/utils/validation.py, MAX_MODEL_REGISTRY_TAG_VALUE_LENGTH) and
stores them in a TEXT column (mlflow/store/model_registry/dbmodels/models.py,
SqlModelVersionTag), 65,535 bytes on MySQL; a part holds at most PART_CHARS, whole lines only,
so every backend keeps it. One part holds about 500 files of a typical model folder.

Standard library only: the service, training and the tests share it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

COUNT_TAG = "model_files.count"
MANIFEST_TAG = "model_files.sha256"
PART_CHARS = 50_000
# Folders MLflow removes from a saved model before it uploads it (mlflow/models/model.py,
# Model.log): never part of a version.
_SKIPPED_DIRS = ("__pycache__",)
# What MLflow's client writes beside a version it downloads by models:/ URI, from the
# registry's answer (mlflow/mlflow v3.17.2, mlflow/store/artifact/models_artifact_repo.py,
# REGISTERED_MODEL_META_FILE_NAME): not a stored file of the version, and never read.
CLIENT_WRITTEN = ("registered_model_meta",)
_LINE = re.compile(r"^([0-9a-f]{64})  (\S(?:.*\S)?)$")
_CHUNK = 1 << 20


class ManifestError(ValueError):
    """The recorded manifest is malformed or incomplete."""


@dataclass(frozen=True)
class Mismatch:
    """A file whose content differs from what was recorded at registration."""

    path: str
    recorded: str
    found: str

    def describe(self) -> str:
        return f"{self.path}: recorded sha256 {self.recorded}, found {self.found}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def folder_files(folder: Path) -> list[str]:
    """Every file under `folder` as a relative POSIX path, sorted."""
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and not any(part in _SKIPPED_DIRS for part in path.parts)
    )


def folder_digests(folder: Path) -> dict[str, str]:
    """relative path -> sha256 of every file under `folder`."""
    return {relative: file_sha256(folder / relative) for relative in folder_files(folder)}


def to_tags(digests: Mapping[str, str]) -> dict[str, str]:
    """The model version tags that record `digests`."""
    lines = [f"{digests[path]}  {path}\n" for path in sorted(digests)]
    parts: list[str] = []
    current = ""
    for line in lines:
        if len(line) > PART_CHARS:
            raise ManifestError(f"a path longer than {PART_CHARS} characters: {line[:80]}...")
        if len(current) + len(line) > PART_CHARS:
            parts.append(current)
            current = ""
        current += line
    parts.append(current)
    tags = {COUNT_TAG: str(len(lines)), MANIFEST_TAG: parts[0]}
    for number, part in enumerate(parts[1:], start=2):
        tags[f"{MANIFEST_TAG}.{number}"] = part
    return tags


def from_tags(tags: Mapping[str, str]) -> dict[str, str] | None:
    """relative path -> recorded sha256; None when the version records no digests."""
    if MANIFEST_TAG not in tags and COUNT_TAG not in tags:
        return None
    count = tags.get(COUNT_TAG, "")
    if not count.isdigit():
        raise ManifestError(f"tag {COUNT_TAG} is {count!r}, expected the number of files")
    text = tags.get(MANIFEST_TAG, "")
    number = 2
    while f"{MANIFEST_TAG}.{number}" in tags:
        text += tags[f"{MANIFEST_TAG}.{number}"]
        number += 1
    digests: dict[str, str] = {}
    for line in text.splitlines():
        found = _LINE.match(line)
        if found is None:
            raise ManifestError(f"tag {MANIFEST_TAG}: unreadable line {line[:120]!r}")
        digests[found.group(2)] = found.group(1)
    if len(digests) != int(count):
        raise ManifestError(
            f"tags {MANIFEST_TAG}*: {len(digests)} files listed, {COUNT_TAG} says {count}"
        )
    return digests


def mismatches(folder: Path, recorded: Mapping[str, str]) -> list[Mismatch]:
    """Every file under `folder` whose sha256 is not the recorded one; a file the manifest
    does not list is a mismatch too (recorded "none"), but for CLIENT_WRITTEN. Files of the
    manifest that are not in the folder are not: the service downloads only what its runtime
    reads."""
    found: list[Mismatch] = []
    for relative in folder_files(folder):
        if relative in CLIENT_WRITTEN and relative not in recorded:
            continue
        digest = file_sha256(folder / relative)
        expected = recorded.get(relative, "none")
        if digest != expected:
            found.append(Mismatch(relative, expected, digest))
    return found

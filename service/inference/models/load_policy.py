"""What a model version must be before the service loads it: its files as recorded at
registration, ONNX only for a pickle-free tenant, and within the limits on size, file count
and the time its load and self-check may take. Each refusal is a ModelCheckError whose
message says why; the reloader keeps serving the current version (serving/swap.py)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from inference.contracts import model_files
from inference.models.model import ModelCheckError
from inference.settings import MIB, LoadPolicy

__all__ = ["MIB", "LoadPolicy"]  # the policy's rules are read in settings, applied here

# inference_model_integrity_failures reasons: a file differs from (or is missing in) the
# recorded manifest; the version records no digests but the tenant requires them; the
# recorded manifest cannot be read.
MISMATCH = "mismatch"
UNRECORDED = "unrecorded"
MALFORMED = "malformed"
INTEGRITY_REASONS = (MISMATCH, UNRECORDED, MALFORMED)


class IntegrityError(ModelCheckError):
    """A version's files are not what was recorded at registration, or nothing was recorded
    where the tenant requires it."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class LimitError(ModelCheckError):
    """A version is larger, has more files, or takes longer to load than its limits allow."""


def recorded_digests(
    tags: Mapping[str, str], policy: LoadPolicy, what: str
) -> dict[str, str] | None:
    """The version's recorded digests; None for a version without any where that is allowed."""
    try:
        digests = model_files.from_tags(tags)
    except model_files.ManifestError as exc:
        raise IntegrityError(
            f"{what}: its recorded file digests are unreadable: {exc}", MALFORMED
        ) from None
    if digests is None and policy.require_digests:
        raise IntegrityError(
            f"{what} records no file digests (tag {model_files.MANIFEST_TAG}) and this tenant "
            "requires them (requireFileDigests): register it again with the platform's "
            "training or `python -m training register`",
            UNRECORDED,
        )
    if digests is not None and len(digests) > policy.max_files:
        raise LimitError(
            f"{what} has {len(digests)} files, more than MODEL_MAX_FILES={policy.max_files}"
        )
    return digests


def verify_files(folder: Path, digests: Mapping[str, str] | None, what: str, where: str) -> None:
    """Raise IntegrityError naming the first differing file and both digests."""
    if digests is None:
        return
    found = model_files.mismatches(folder, digests)
    if found:
        more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
        raise IntegrityError(
            f"{what}: {where} file {found[0].describe()}{more}; not loaded", MISMATCH
        )


def check_size(folder: Path, policy: LoadPolicy, what: str) -> None:
    """A folder already on disk (a whole-folder download, a cached copy) within the limits."""
    files = model_files.folder_files(folder)
    if len(files) > policy.max_files:
        raise LimitError(
            f"{what} has {len(files)} files, more than MODEL_MAX_FILES={policy.max_files}"
        )
    total = sum((folder / relative).stat().st_size for relative in files)
    if total > policy.max_bytes:
        raise LimitError(too_large(what, total, policy))


def too_large(what: str, size: int, policy: LoadPolicy) -> str:
    return (
        f"{what} is {size / MIB:.1f} MiB or more, above MODEL_MAX_MIB="
        f"{policy.max_bytes} ({policy.max_bytes / MIB:.0f} MiB)"
    )

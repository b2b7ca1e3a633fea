"""Parse a container image reference the way `kustomize edit set image` splits it."""

from __future__ import annotations

import re
from dataclasses import dataclass

# A registry host (optionally with port) and lowercase path components, as the OCI
# distribution spec allows; the host may carry uppercase letters, the path may not.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_NAME = rf"(?:[A-Za-z0-9.-]+(?::[0-9]+)?/)?{_COMPONENT}(?:/{_COMPONENT})*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"sha256:[a-f0-9]{64}"
_REFERENCE = re.compile(rf"^(?P<name>{_NAME})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?$")

EXPECTED_FORMS = (
    "expected NAME@sha256:<64 hex>, NAME:TAG or NAME:TAG@sha256:<64 hex>, "
    "e.g. ghcr.io/example-org/ml-inference-platform/inference-service@sha256:3f2a...; "
    "the tag `latest` is not allowed"
)


class ImageReferenceError(ValueError):
    """An image reference that is not of a form the overlays accept."""


@dataclass(frozen=True)
class ImageReference:
    name: str
    tag: str | None
    digest: str | None

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_image_reference(text: str) -> ImageReference:
    """Split `text` into name, tag and digest; a tag or a digest is required."""
    match = _REFERENCE.match(text.strip())
    if match is None:
        raise ImageReferenceError(
            f"--image {text!r} is not a valid image reference: {EXPECTED_FORMS}"
        )
    tag, digest = match.group("tag"), match.group("digest")
    if tag is None and digest is None:
        raise ImageReferenceError(f"--image {text!r} has neither tag nor digest: {EXPECTED_FORMS}")
    if tag == "latest":
        raise ImageReferenceError(
            f"--image {text!r} uses the moving tag `latest`: {EXPECTED_FORMS}"
        )
    return ImageReference(name=match.group("name"), tag=tag, digest=digest)

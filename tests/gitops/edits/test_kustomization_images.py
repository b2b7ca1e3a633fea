"""gitops/edits/kustomization_images.py: one `images:` entry changes; comments, order and
every other key stay exactly as written."""

from __future__ import annotations

import pytest
import yaml

from gitops.edits.kustomization_images import KustomizationEditError, set_image
from gitops.tree.image_reference import ImageReference

OVERLAY = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
# tenant-a on Kind
namespace: tenant-a
resources:
  - ../../base
images:
  # CI bumps this entry
  - name: inference-service
    newName: ghcr.io/org/inference-service
    newTag: "1.10"  # quoted: 1.10 is a float to YAML
  - name: sidecar
    newName: docker.io/library/busybox
    newTag: "1.37"
configMapGenerator:
  - name: settings
    envs:
      - model.env
"""

REF = ImageReference(name="ghcr.io/org/inference-service", tag="1.20", digest=None)


def test_only_the_entry_changes_and_comments_stay() -> None:
    text, change = set_image(OVERLAY, "inference-service", REF)
    assert change.before == {
        "name": "inference-service",
        "newName": "ghcr.io/org/inference-service",
        "newTag": "1.10",
    }
    assert change.after["newTag"] == "1.20"
    pairs = zip(OVERLAY.splitlines(), text.splitlines(), strict=False)
    changed = [(a, b) for a, b in pairs if a != b]
    assert changed == [
        (
            '    newTag: "1.10"  # quoted: 1.10 is a float to YAML',
            '    newTag: "1.20"  # quoted: 1.10 is a float to YAML',
        )
    ]
    assert len(text.splitlines()) == len(OVERLAY.splitlines())
    assert yaml.safe_load(text)["images"][0]["newTag"] == "1.20"  # a string, not 1.2


def test_a_digest_replaces_the_tag_and_a_second_run_changes_nothing() -> None:
    digest = "sha256:" + "a" * 64
    pinned = ImageReference(name="ghcr.io/org/inference-service", tag=None, digest=digest)
    once, _ = set_image(OVERLAY, "inference-service", pinned)
    twice, change = set_image(once, "inference-service", pinned)
    assert twice == once
    entry = yaml.safe_load(once)["images"][0]
    assert entry == {
        "name": "inference-service",
        "newName": "ghcr.io/org/inference-service",
        "digest": digest,
    }
    assert change.before == entry


@pytest.mark.parametrize("images", ["", "images: []\n"])
def test_a_missing_or_empty_images_key_gets_the_entry(images: str) -> None:
    base = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" + images
    text, change = set_image(base, "inference-service", REF)
    assert change.before is None
    assert yaml.safe_load(text)["images"] == [change.after]
    assert "  - name: inference-service\n" in text


def test_a_new_image_is_appended_after_the_others() -> None:
    text, _ = set_image(OVERLAY, "new-one", REF)
    names = [i["name"] for i in yaml.safe_load(text)["images"]]
    assert names == ["inference-service", "sidecar", "new-one"]
    assert "# CI bumps this entry" in text
    assert "# tenant-a on Kind" in text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "not a mapping"),
        ("images: {a: 1}\n", "`images` is not a list"),
        ("images: [\n", "not valid YAML"),
    ],
)
def test_files_it_cannot_edit_safely_are_refused(text: str, message: str) -> None:
    with pytest.raises(KustomizationEditError, match=message):
        set_image(text, "inference-service", REF)

"""`python -m gitops pin-built` reads what the build job published, whatever the layout, and
refuses a reference the run cannot have published (the flow itself: test_pin_flow.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops.edits import pin_built
from gitops.edits.pin_built import PinError, read_references
from gitops.edits.pin_rule import pinnable
from gitops.paths import REPO_ROOT
from gitops.tree.git_history import GitHistory
from gitops.tree.image_reference import ImageReference
from gitops.tree.inventory import built_images

OWN = "ghcr.io/example-org/ml-inference-platform"
SHA = "1f" * 20
DIGEST = "sha256:" + "c0" * 32


def publish(folder: Path, rel: str, text: str) -> None:
    (folder / rel).parent.mkdir(parents=True, exist_ok=True)
    (folder / rel).write_text(text + "\n", encoding="utf-8")


def test_one_artifact_straight_in_the_folder_and_several_in_their_own(tmp_path: Path) -> None:
    """download-artifact v8.0.1: one matching artifact lands in `path`, several in
    `path/<artifact>/`; the image comes from the reference either way."""
    single, several = tmp_path / "single", tmp_path / "several"
    publish(single, "reference", f"{OWN}/rollout-judge:{SHA}@{DIGEST}")
    publish(several, "reference-a/reference", f"{OWN}/inference-service:{SHA}@{DIGEST}")
    publish(several, "reference-b/reference", f"{OWN}/mlflow-server:{SHA}@{DIGEST}")

    assert read_references(single, SHA) == {
        "rollout-judge": ImageReference(f"{OWN}/rollout-judge", SHA, DIGEST)
    }
    assert sorted(read_references(several, SHA)) == ["inference-service", "mlflow-server"]
    assert read_references(tmp_path / "nothing-downloaded", SHA) == {}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (f"{OWN}/inference-service:{'2e' * 20}@{DIGEST}", "is not <image>:" + SHA),
        (f"{OWN}/inference-service:{SHA}", "is not <image>:" + SHA),  # no digest
        (f"{OWN}/inference-service:{SHA}-candidate@{DIGEST}", "is not <image>:" + SHA),
        ("not a reference", "is not a valid image reference"),
    ],
)
def test_a_reference_this_run_cannot_have_published(
    tmp_path: Path, text: str, problem: str
) -> None:
    publish(tmp_path, "reference-inference-service/reference", text)
    with pytest.raises(PinError, match=problem):
        read_references(tmp_path, SHA)


def test_two_references_of_one_image(tmp_path: Path) -> None:
    publish(tmp_path, "a/reference", f"{OWN}/inference-service:{SHA}@{DIGEST}")
    publish(tmp_path, "b/reference", f"{OWN}/inference-service:{SHA}@{'sha256:' + 'd1' * 32}")
    with pytest.raises(PinError, match="a second reference of inference-service"):
        read_references(tmp_path, SHA)


def test_a_commit_that_is_not_40_hex_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--cluster", "kind", "--commit", "main", "--form", "tag", "--references", "r"]
    assert pin_built.main(args) == 2
    assert "is not a 40-hex commit id" in capsys.readouterr().err


def test_the_slim_image_is_not_pinned_at_a_commit_whose_dockerfile_ignores_its_arguments() -> None:
    """The pin rule's condition 3 with the build matrix's build-args, on this repository's
    history: 52ed9cd's service/Dockerfile has no REQUIREMENTS argument, edcb9dc's has."""
    slim = next(b for b in built_images(REPO_ROOT) if b.name == "inference-service-slim")
    history = GitHistory(REPO_ROOT)
    before, ready = (
        "52ed9cd39b93369cf763459f73c9f29c0cf54c15",
        "edcb9dc027e41b46d59ae2795d484d2ab777f5ed",
    )
    assert pinnable(history, ready, slim.context, slim.build_args) == ""
    assert pinnable(history, before, slim.context) == ""  # the full image: fine
    assert pinnable(history, before, slim.context, slim.build_args) == (
        f"the tree of {before} cannot build it as CI does: service/Dockerfile declares no ARG "
        "REQUIREMENTS (CI builds it with REQUIREMENTS=requirements-slim.txt)"
    )

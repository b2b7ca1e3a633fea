"""`python -m gitops pin-built`: CI's pin step (.github/workflows/image.yaml, job bump).

For every image of the build matrix, decide (gitops/edits/pin_rule.py) whether the cluster's
overlays get the image this run built, keep the open pin pull request's, or stay as they are;
pin with `bump` (which renders the overlays to prove it); print each decision; and write the
pull request's body. Run in a checkout of main with its full history.

  --references DIR  what the build job published: every file named `reference` under DIR
                    holds `<registry>/<repository>/<image>:<commit>@sha256:<digest>`. The image
                    is read from the reference, not from the folder: download-artifact puts
                    one artifact's files straight into DIR and several into DIR/<artifact>/
                    (actions/download-artifact v8.0.1, src/download-artifact.ts).
  --pr-branch REF   the open pin pull request's branch (e.g. origin/image-bump/kind); a ref
                    that does not exist means there is none.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from gitops.edits.bump import COMPONENT, IMAGES, BumpError, bump, files_to_edit
from gitops.edits.pin_rule import Decision, decide
from gitops.paths import CLUSTERS, REPO_ROOT, overlays_dir
from gitops.tree.git_history import COMMIT, GitHistory
from gitops.tree.image_reference import (
    ImageReference,
    ImageReferenceError,
    parse_image_reference,
)
from gitops.tree.inventory import built_images
from gitops.tree.render import RenderError

FORMS = ("tag", "digest")  # Kind loads images by tag; EKS pulls the scanned digest
REFERENCE_FILE = "reference"
BODY_FOOTER = (
    "Each image was scanned by Trivy (no fixable HIGH or CRITICAL), carries BuildKit's SBOM "
    "and provenance in its index, and has a signed GitHub build provenance attestation "
    "(docs/ci-cd.md: verifying an image before a sync). Argo CD rolls them out once this is "
    "merged; to roll back, revert this pull request's merge commit."
)


class PinError(RuntimeError):
    """The run's inputs are not what the build job writes; nothing was pinned."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gitops pin-built",
        description="Pin the images this CI run built in one cluster's overlays, unless the "
        "cluster already pins newer ones.",
    )
    parser.add_argument("--cluster", required=True, choices=CLUSTERS)
    parser.add_argument("--commit", required=True, help="the commit the run built (40 hex)")
    parser.add_argument("--form", required=True, choices=FORMS, help="tag (Kind) or digest (EKS)")
    parser.add_argument("--references", required=True, type=Path, help="the build's references")
    parser.add_argument("--pr-branch", default="", help="the open pin pull request's branch")
    parser.add_argument("--report", type=Path, help="write the pull request body here")
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    return parser


def read_references(folder: Path, commit: str) -> dict[str, ImageReference]:
    """image -> the reference the build published for it at `commit`."""
    found: dict[str, ImageReference] = {}
    for path in sorted(folder.rglob(REFERENCE_FILE)) if folder.is_dir() else []:
        try:
            ref = parse_image_reference(path.read_text(encoding="utf-8"))
        except ImageReferenceError as error:
            raise PinError(f"{path}: {error}") from None
        image = ref.name.rsplit("/", 1)[-1]
        if ref.tag != commit or not ref.digest:
            raise PinError(f"{path}: {ref} is not <image>:{commit}@sha256:<digest>")
        if image in found:
            raise PinError(f"{path}: a second reference of {image} ({found[image]}, {ref})")
        found[image] = ref
    return found


def overlay_pins(files: dict[str, str], image: str) -> set[ImageReference]:
    """The references the kustomization.yaml files among `files` (path -> text) set `image`
    to in their `images:` entries."""
    found = set()
    for path, text in files.items():
        if Path(path).name != "kustomization.yaml":
            continue
        data = yaml.safe_load(text)
        if not isinstance(data, dict) or data.get("kind") == COMPONENT:
            continue  # a component's entry renames an image (slim-image), it pins nothing
        entries = data.get("images") or []
        for entry in entries:
            if isinstance(entry, dict) and entry.get("name") == image:
                name = str(entry.get("newName") or image)
                tag, digest = entry.get("newTag"), entry.get("digest")
                found.add(ImageReference(name, str(tag) if tag else None, digest))
    return found


def _main_files(root: Path, cluster: str) -> dict[str, str]:
    folder = overlays_dir(root) / cluster
    return {
        str(p.relative_to(root)): p.read_text(encoding="utf-8")
        for p in folder.rglob("kustomization.yaml")
    }


def _in_form(ref: ImageReference, form: str) -> ImageReference:
    return ref if form == "digest" else ImageReference(ref.name, ref.tag, None)


def decisions(
    root: Path, cluster: str, form: str, built: dict[str, ImageReference], pr_branch: str
) -> list[Decision]:
    """One decision per image of main's build matrix; `built`: read_references."""
    history = GitHistory(root)
    on_main = _main_files(root, cluster)
    proposed = history.files_at(pr_branch, f"overlays/{cluster}") if pr_branch else None
    found = []
    for image in built_images(root):
        if image.name in IMAGES and not files_to_edit(cluster, root, image.name):
            # Built for tenants that may choose it (the slim image): nothing to pin yet.
            found.append(Decision(image.name, None, f"no overlay of {cluster} runs it"))
            continue
        main_pins = overlay_pins(on_main, image.name)
        # The pull request's pin, when it has exactly one and it is not what main has.
        proposals = overlay_pins(proposed or {}, image.name) - main_pins
        proposal = next(iter(proposals)) if len(proposals) == 1 else None
        ref = built.get(image.name)
        found.append(
            decide(
                history,
                image,
                _in_form(ref, form) if ref else None,
                {str(p.tag) for p in main_pins if p.tag},
                proposal,
            )
        )
    return found


def report(cluster: str, found: list[Decision], ignored: list[str]) -> str:
    lines = [
        f"Pins the newest images CI built in the `{cluster}` overlays (see the diff).",
        "",
        "| image | pinned | why |",
        "| --- | --- | --- |",
    ]
    for decision in found:
        pinned = f"`{decision.write}`" if decision.write else "unchanged"
        lines.append(f"| {decision.image} | {pinned} | {decision.why} |")
    lines += [f"\n{line}" for line in ignored]
    return "\n".join([*lines, "", BODY_FOOTER, ""])


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if not COMMIT.match(args.commit):
        print(f"--commit {args.commit!r} is not a 40-hex commit id", file=sys.stderr)
        return 2
    root = args.root.resolve()
    try:
        built = read_references(args.references, args.commit)
        found = decisions(root, args.cluster, args.form, built, args.pr_branch)
        names = {image.name for image in built_images(root)}
        ignored = [
            f"{ref} was built, but main's build matrix has no {image}: not pinned"
            for image, ref in built.items()
            if image not in names
        ]
        for decision in found:
            if decision.write is not None:
                bump(args.cluster, decision.write, root)
    except (PinError, BumpError, RenderError) as error:
        print(f"pin-built failed: {error}", file=sys.stderr)
        return 1
    for decision in found:
        action = f"pin {decision.write}" if decision.write else "unchanged"
        print(f"{args.cluster} {decision.image}: {action} ({decision.why})")
    for line in ignored:
        print(f"{args.cluster}: {line}")
    if args.report:
        args.report.write_text(report(args.cluster, found, ignored), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

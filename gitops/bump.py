"""`python -m gitops bump`: pin the inference-service image of one cluster's tenants.

Edits the kustomize `images:` entry like `kustomize edit set image` would, then renders
every tenant overlay of that cluster to prove they build and run exactly that image.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from gitops.image_reference import ImageReference, ImageReferenceError, parse_image_reference
from gitops.kustomization_images import ImageChange, KustomizationEditError, set_image
from gitops.paths import CLUSTERS, REPO_ROOT, overlays_dir, tenants_dir
from gitops.render import RenderError, render

IMAGE_NAME = "inference-service"
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}


class BumpError(RuntimeError):
    """The repository is not in a state the bump can work on."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gitops bump",
        description="Set the inference-service image in every tenant overlay of one cluster.",
    )
    parser.add_argument("--cluster", required=True, help=f"one of: {', '.join(CLUSTERS)}")
    parser.add_argument(
        "--image",
        required=True,
        help="NAME@sha256:<digest> (preferred), NAME:TAG or NAME:TAG@sha256:<digest>",
    )
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    return parser


def tenant_overlays(cluster: str, root: Path) -> list[Path]:
    base = tenants_dir(cluster, root)
    return sorted(p.parent for p in base.glob("*/kustomization.yaml"))


def _declares_image(path: Path) -> bool:
    data = yaml.safe_load(path.read_text()) or {}
    images = data.get("images") if isinstance(data, dict) else None
    return any(isinstance(i, dict) and i.get("name") == IMAGE_NAME for i in images or [])


def files_to_edit(cluster: str, root: Path) -> list[Path]:
    """Wherever the cluster already sets the image; otherwise every tenant overlay."""
    declared = sorted(
        p for p in (overlays_dir(root) / cluster).rglob("kustomization.yaml") if _declares_image(p)
    )
    if declared:
        return declared
    return [overlay / "kustomization.yaml" for overlay in tenant_overlays(cluster, root)]


def _image_name(image: str) -> str:
    without_digest = image.split("@", 1)[0]
    last_slash = without_digest.rfind("/")
    colon = without_digest.rfind(":")
    return without_digest[:colon] if colon > last_slash else without_digest


def service_images(objects: list[dict[str, Any]], ref: ImageReference) -> list[str]:
    """Images of every container that runs the service (by placeholder or real name)."""
    found: list[str] = []
    for obj in objects:
        if obj.get("kind") not in WORKLOAD_KINDS:
            continue
        spec = obj.get("spec") or {}
        if obj["kind"] == "CronJob":
            spec = (spec.get("jobTemplate") or {}).get("spec") or {}
        pod = spec if obj["kind"] == "Pod" else (spec.get("template") or {}).get("spec") or {}
        for key in ("containers", "initContainers"):
            for container in pod.get(key) or []:
                image = str(container.get("image", ""))
                if _image_name(image) in {IMAGE_NAME, ref.name}:
                    found.append(image)
    return found


def verify(cluster: str, root: Path, ref: ImageReference) -> list[str]:
    """Render each tenant overlay; return one problem per tenant that is not pinned to `ref`."""
    problems = []
    overlays = tenant_overlays(cluster, root)
    if not overlays:
        problems.append(
            f"no tenant overlays found in {tenants_dir(cluster, root).relative_to(root)}"
        )
    for overlay in overlays:
        images = service_images(render(overlay), ref)
        if not images:
            problems.append(f"{overlay.relative_to(root)}: renders no {IMAGE_NAME} container")
        elif any(image != str(ref) for image in images):
            problems.append(f"{overlay.relative_to(root)}: renders {sorted(set(images))}")
    return problems


def _describe(entry: dict[str, Any] | None) -> str:
    if entry is None:
        return "(not set)"
    text = str(entry.get("newName", entry.get("name")))
    if entry.get("newTag"):
        text += f":{entry['newTag']}"
    if entry.get("digest"):
        text += f"@{entry['digest']}"
    return text


def bump(cluster: str, ref: ImageReference, root: Path) -> list[tuple[Path, ImageChange]]:
    targets = files_to_edit(cluster, root)
    if not targets:
        raise BumpError(f"no tenant overlays in {tenants_dir(cluster, root).relative_to(root)}")
    originals = {path: path.read_text() for path in targets}
    changes = []
    try:
        for path in targets:
            new_text, change = set_image(originals[path], IMAGE_NAME, ref)
            path.write_text(new_text)
            changes.append((path, change))
        problems = verify(cluster, root, ref)
    except (RenderError, KustomizationEditError) as error:
        problems = [str(error)]
    if problems:
        # Leave the tree as it was: a half-bumped cluster is worse than none.
        for path, text in originals.items():
            path.write_text(text)
        raise BumpError("the bumped overlays do not check out:\n  " + "\n  ".join(problems))
    return changes


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    if args.cluster not in CLUSTERS:
        print(
            f"--cluster {args.cluster!r} is unknown: expected one of {', '.join(CLUSTERS)}",
            file=sys.stderr,
        )
        return 2
    try:
        ref = parse_image_reference(args.image)
    except ImageReferenceError as error:
        print(error, file=sys.stderr)
        return 2
    root = args.root.resolve()
    try:
        changes = bump(args.cluster, ref, root)
    except BumpError as error:
        print(f"bump failed: {error}", file=sys.stderr)
        return 1
    for path, change in changes:
        before, after = _describe(change.before), _describe(change.after)
        status = "unchanged" if before == after else f"{before} -> {after}"
        print(f"{path.relative_to(root)}: {IMAGE_NAME} {status}")
    tenants = len(tenant_overlays(args.cluster, root))
    print(f"rendered {tenants} tenant overlay(s) of {args.cluster}: every {IMAGE_NAME} runs {ref}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

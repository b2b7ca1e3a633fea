"""`python -m gitops bump`: pin one image CI builds (inference-service, inference-service-slim,
mlflow-server, rollout-judge) in every overlay of one cluster that runs it.

The image's last path component names the kustomize `images:` entry (the placeholder the
bases use). Edits that entry like `kustomize edit set image` would, then renders every
kustomization of the cluster's overlays to prove each container of that image runs exactly
the new reference; on any problem the tree is left as it was.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from gitops.edits.kustomization_images import ImageChange, KustomizationEditError, set_image
from gitops.paths import CLUSTERS, REPO_ROOT, overlays_dir, tenants_dir
from gitops.tree.image_reference import ImageReference, ImageReferenceError, parse_image_reference
from gitops.tree.inventory import container_images
from gitops.tree.render import RenderError, render
from gitops.tree.tenant_models import inference_image_name

TENANTS = "tenants"
# Placeholder name in the bases -> the overlays to fall back to when no overlay pins it yet.
# One entry per image of image.yaml's build matrix (tests/gitops/edits/test_bump.py holds
# them equal): an image missing here fails CI's pin step. The two service images run in the
# tenant overlays: the slim one where a tenant lists the slim-image component (which renames
# the base's placeholder to inference-service-slim), the other everywhere else.
IMAGES = {
    "inference-service": TENANTS,
    "inference-service-slim": TENANTS,
    "mlflow-server": "mlflow",
    "rollout-judge": "rollout-judge",
}
COMPONENT = "Component"  # kustomize's kind of a component (kustomize.config.k8s.io/v1alpha1)
WORKLOAD_KINDS = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"}


class BumpError(RuntimeError):
    """The repository is not in a state the bump can work on."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m gitops bump",
        description="Pin an image CI builds in every overlay of one cluster that runs it.",
    )
    parser.add_argument("--cluster", required=True, help=f"one of: {', '.join(CLUSTERS)}")
    parser.add_argument(
        "--image",
        required=True,
        help="NAME:TAG@sha256:<digest> (EKS), NAME:TAG (Kind, which loads images by tag) or "
        "NAME@sha256:<digest>; NAME ends in one of: " + ", ".join(IMAGES),
    )
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    return parser


def tenant_overlays(cluster: str, root: Path) -> list[Path]:
    base = tenants_dir(cluster, root)
    return sorted(p.parent for p in base.glob("*/kustomization.yaml"))


def tenants_running(cluster: str, root: Path, image: str) -> list[Path]:
    """The tenant overlays that render a container of `image` (by its last path component,
    the placeholder or a pinned reference)."""
    return [
        overlay
        for overlay in tenant_overlays(cluster, root)
        if any(inference_image_name(c) == image for c in container_images(render(overlay)))
    ]


def placeholder(ref: ImageReference) -> str:
    """The bases' name for the image: the last path component of its repository."""
    name = ref.name.rsplit("/", 1)[-1]
    if name not in IMAGES:
        raise BumpError(
            f"{ref.name} is not an image CI builds: expected a name ending in one of "
            f"{', '.join(IMAGES)}"
        )
    return name


def _declares_image(path: Path, image: str) -> bool:
    """`path` pins `image`; a Component's entry renames it (the slim-image component), and is
    never a pin."""
    data = yaml.safe_load(path.read_text()) or {}
    if not isinstance(data, dict) or data.get("kind") == COMPONENT:
        return False
    images = data.get("images")
    return any(isinstance(i, dict) and i.get("name") == image for i in images or [])


def files_to_edit(cluster: str, root: Path, image: str) -> list[Path]:
    """Wherever the cluster already sets the image; otherwise where it runs (every tenant
    overlay for the service, the registry overlay for MLflow)."""
    declared = sorted(
        p
        for p in (overlays_dir(root) / cluster).rglob("kustomization.yaml")
        if _declares_image(p, image)
    )
    if declared:
        return declared
    if IMAGES[image] == TENANTS:
        return [overlay / "kustomization.yaml" for overlay in tenants_running(cluster, root, image)]
    fallback = overlays_dir(root) / cluster / IMAGES[image] / "kustomization.yaml"
    return [fallback] if fallback.is_file() else []


def _image_name(image: str) -> str:
    without_digest = image.split("@", 1)[0]
    last_slash = without_digest.rfind("/")
    colon = without_digest.rfind(":")
    return without_digest[:colon] if colon > last_slash else without_digest


def images_of(objects: list[dict[str, Any]], ref: ImageReference, image: str) -> list[str]:
    """Images of every container that runs `image` (by placeholder or real name)."""
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
                if _image_name(str(container.get("image", ""))) in {image, ref.name}:
                    found.append(str(container.get("image", "")))
    return found


def verify(cluster: str, root: Path, ref: ImageReference, image: str) -> list[str]:
    """Render every overlay of the cluster: each container of `image` must run `ref`, and
    where the image runs by default (tenants, the registry) it must run at all."""
    problems = []
    required = {p.parent for p in files_to_edit(cluster, root, image)}
    if IMAGES[image] == TENANTS:
        # Every tenant that runs this service image, and none that runs the other one (a
        # tenant that switched to the slim image may still hold an entry of the full one).
        tenants = set(tenant_overlays(cluster, root))
        required = (required - tenants) | set(tenants_running(cluster, root, image))
    if not required:
        problems.append(f"no overlay of {cluster} runs {image}")
    for kustomization in sorted((overlays_dir(root) / cluster).rglob("kustomization.yaml")):
        folder = kustomization.parent
        images = images_of(render(folder), ref, image)
        if folder in required and not images:
            problems.append(f"{folder.relative_to(root)}: renders no {image} container")
        elif any(found != str(ref) for found in images):
            problems.append(f"{folder.relative_to(root)}: renders {sorted(set(images))}")
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
    image = placeholder(ref)
    try:
        targets = files_to_edit(cluster, root, image)
    except RenderError as error:
        raise BumpError(str(error)) from None
    if not targets:
        raise BumpError(
            f"no overlay of {cluster} runs {image} (looked in "
            f"{(overlays_dir(root) / cluster).relative_to(root)})"
        )
    originals = {path: path.read_text() for path in targets}
    changes = []
    try:
        for path in targets:
            new_text, change = set_image(originals[path], image, ref)
            path.write_text(new_text)
            changes.append((path, change))
        problems = verify(cluster, root, ref, image)
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
        image = placeholder(ref)
    except BumpError as error:
        print(error, file=sys.stderr)
        return 2
    try:
        changes = bump(args.cluster, ref, root)
    except BumpError as error:
        print(f"bump failed: {error}", file=sys.stderr)
        return 1
    for path, change in changes:
        before, after = _describe(change.before), _describe(change.after)
        status = "unchanged" if before == after else f"{before} -> {after}"
        print(f"{path.relative_to(root)}: {image} {status}")
    print(f"rendered the overlays of {args.cluster}: every {image} container runs {ref}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`images`: every image the clusters run is pinned and pullable today, the images CI builds
reach Kind's nodes, and every version the repository pins names one version per component.

1. Pinned. Third-party images: a digest, or an immutable release tag (one that names a full
   X.Y.Z version, a dated release such as MinIO's RELEASE.2025-09-07T16-13-09Z, or a commit);
   never `latest` or a bare major/minor such as `3` or `3.13`, which the publisher moves. The
   images CI builds (.github/workflows/image.yaml, jobs.build.strategy.matrix.include[].image,
   read by gitops.tree.inventory.built_images): on Kind a 40-hex commit tag and no digest, because
   `kind load image-archive` puts the image into the nodes by tag and a loaded image has no
   registry digest to match (image.yaml's bump job strips it for Kind); on EKS tag and digest,
   the scanned digest the bump job pins. The shipped tree pins placeholder commit tags until
   CI's first bump, so `ctx.allow_examples` accepts a commit tag alone on EKS.
2. Pullable: the registry serves the image anonymously today (ALLOWED_REGISTRIES; Docker Hub
   only for DOCKER_HUB_SERVED), and nothing on DENIED (Docker Hub stopped serving minio/minio
   and minio/mc in September 2026; the last community images are on quay.io/minio). Applies
   to what the trees deploy and to the images around them: Dockerfile base images and the
   Kind node image.
3. Loaded on Kind: if the Kind tree runs an image CI builds, clusters/kind/bootstrap.sh has a
   function that reads `inventory --images-built` and runs `kind load image-archive`, and the
   script calls it (the `bootstraps` check runs it and follows what it saves and loads). An
   image under this repository's own package path (ghcr.io/<org>/<repo>/, where image.yaml
   publishes) must be in the build matrix, or nothing builds or loads it.
4. One version per component (gitops/tree/pins.py): MLflow (mlflow, mlflow-skinny), the
   Kubernetes minor (KUBERNETES_VERSION, kubectl, the kind node image, EKS, Pod Security
   labels), Argo CD and the charts against upstream-files.yaml, the Python base images,
   kind, boto3 and every other package pinned in more than one place. Versions agree when one
   is a prefix of the other (`3.13` and `3.13.15-slim-trixie`); Kubernetes compares minors.
   The images CI builds are left out: each cluster's bump moves on its own (Kind merges
   itself, EKS waits for review).

Helm-chart Applications are not rendered here (gitops/tree/app_tree.py), so the images a chart
runs are the chart's to pin; its version is checked by the `argo` check and item 4.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from fnmatch import fnmatchcase
from pathlib import Path

from gitops.checks import Context, register
from gitops.settings import REPO_URL
from gitops.tree import pins as pinning
from gitops.tree.app_tree import ClusterTree
from gitops.tree.findings import Finding, obj_ref
from gitops.tree.inventory import IMAGE_WORKFLOW, BuiltImage, built_images, images_built_here
from gitops.tree.pins import Pin, split_image
from gitops.tree.selectors import containers, pod_template

CHECK = "images"
KIND = "kind"
BOOTSTRAP = Path("clusters/kind/bootstrap.sh")

# Registries that serve public images without credentials today.
ALLOWED_REGISTRIES = frozenset({"quay.io", "registry.k8s.io", "ghcr.io", "public.ecr.aws"})
# Docker Hub repositories known to be served (anonymous pulls are rate limited, not refused).
DOCKER_HUB_SERVED = {
    "docker.io/library/python": "Docker official image (service/ and base/mlflow/image/)",
    "docker.io/kindest/node": "kind's node images: kind's release notes name them by digest",
}
DENIED = {
    "docker.io/minio/*": "Docker Hub stopped serving minio/minio and minio/mc in September "
    "2026; the last community images are on quay.io/minio (base/minio)",
}
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
# A tag that names one release: a full X.Y.Z, a dated release, or a commit.
_RELEASE = re.compile(r"\d+\.\d+\.\d+|\d{4}-\d{2}-\d{2}|^[0-9a-f]{40}$")

# Versions compared on their first N parts only (Kubernetes: the minor; patches may differ).
PRECISION = {"kubernetes": 2}
# Components also compared with another one, at that one's precision.
ALSO_COMPARED = {"kubectl": "kubernetes"}  # the pinned kubectl is the clusters' minor
WHY = {
    "mlflow": "the server, the registry client in the service image and the suite must agree",
    "kubernetes": "Kind nodes, EKS, the validation schemas, kubectl and Pod Security levels",
    "argo-cd": "clusters/install-argocd.sh installs the release upstream-files.yaml pins",
    "kube-prometheus-stack": "the chart Argo CD installs is the one whose CRDs are validated",
    "external-secrets": "the chart Argo CD installs is the one whose CRDs are validated",
    "kind": "kind-config.yaml's node image is the one this kind release defaults to",
    "python": "both images build on the same Python, the one CI runs",
}


@register(
    CHECK,
    "images pinned (release tag or digest; CI's by commit), pullable, loaded on Kind; "
    "one version per component",
)
def check(ctx: Context) -> Iterator[Finding]:
    built = _built(ctx.root)
    for tree in ctx.trees:
        yield from _tree_images(tree, built, ctx.allow_examples)
        if tree.cluster == KIND:
            yield from _kind_loads(ctx.root, tree, built)
    pins = pinning.find_pins(ctx.root)
    if not any(p.file == pinning.SETTINGS_FILE for p in pins):
        pins.append(pinning.kubernetes_setting_pin())
    yield from _registries_around(pins)
    names = {b.name for b in built}
    yield from consistency([p for p in pins if p.component not in names])


def _built(root: Path) -> list[BuiltImage]:
    return built_images(root) if (root / IMAGE_WORKFLOW).is_file() else []


def own_packages() -> str:
    """Where image.yaml publishes: ${REGISTRY}/${REPOSITORY,,}/${IMAGE} on ghcr.io."""
    repository = REPO_URL.removesuffix(".git").split("github.com/", 1)[-1]
    return f"ghcr.io/{repository.lower()}/"


# --- 1 and 2: what the trees deploy --------------------------------------------------------


def _tree_images(tree: ClusterTree, built: list[BuiltImage], examples: bool) -> Iterator[Finding]:
    names = {b.name for b in built}
    for app in tree.apps:
        for obj in app.objects:
            spec = (pod_template(obj) or {}).get("spec") or {}
            for container in containers(spec):
                image = str(container.get("image") or "")
                problems = [
                    *pinned(image, tree.cluster, names, examples),
                    *pullable(split_image(image)[0]),
                ]
                for problem, expected in problems:
                    yield Finding(CHECK, app.where, obj_ref(obj), problem, expected)


def pinned(image: str, cluster: str, built: set[str], examples: bool) -> list[tuple[str, str]]:
    """(problem, expected) when `image` is not pinned the way `cluster` needs."""
    repository, tag, digest = split_image(image)
    name = repository.rsplit("/", 1)[-1]
    own = own_packages()
    if name in built or repository.startswith(own):
        return _ci_pinned(image, cluster, built, examples)
    if tag == "latest" or (not digest and not _RELEASE.search(tag)):
        what = f"tag {tag!r}" if tag else "no tag (the registry's `latest`)"
        return [(f"{image}: {what} moves", "a digest or a release tag such as 1.2.3")]
    return []


def _ci_pinned(image: str, cluster: str, built: set[str], examples: bool) -> list[tuple[str, str]]:
    repository, tag, digest = split_image(image)
    name, own = repository.rsplit("/", 1)[-1], own_packages()
    if name not in built:
        return [
            (
                f"{image}: under {own} but not in the build matrix ({IMAGE_WORKFLOW})",
                "an image CI builds (jobs.build.strategy.matrix.include[].image)",
            )
        ]
    found = []
    if repository != own + name:
        found.append((f"{image}: CI publishes {name} as {own + name}", own + name))
    if not _COMMIT.match(tag):
        found.append((f"{image}: tag {tag!r} is not a commit", "the 40-hex commit CI built"))
    if cluster == KIND and digest:
        found.append(
            (
                f"{image}: a digest on Kind, whose nodes have it loaded by tag (a loaded image "
                "has no registry digest)",
                "<image>:<commit> without @sha256 (image.yaml's Kind bump strips it)",
            )
        )
    if cluster != KIND and not digest and not examples:
        found.append(
            (
                f"{image}: no digest on {cluster}",
                "<image>:<commit>@sha256:<scanned digest> (image.yaml's bump pins both)",
            )
        )
    return found


def canonical(repository: str) -> str:
    """docker.io/library/python for `python`, the registry host kept otherwise."""
    first, _, rest = repository.partition("/")
    if not rest:
        return f"docker.io/library/{repository}"
    if "." in first or ":" in first or first == "localhost":
        host = "docker.io" if first in ("index.docker.io", "registry-1.docker.io") else first
        return f"{host}/{rest}"
    return f"docker.io/{repository}"


def pullable(repository: str) -> list[tuple[str, str]]:
    """(problem, expected) when the registry does not serve `repository` anonymously."""
    if not repository:
        return [("a container without an image", "an image reference")]
    full = canonical(repository)
    host = full.split("/", 1)[0]
    expected = f"one of {', '.join(sorted(ALLOWED_REGISTRIES))} (or {', '.join(DOCKER_HUB_SERVED)})"
    for pattern, reason in DENIED.items():
        if fnmatchcase(full, pattern):
            return [(f"{full} is denied: {reason}", expected)]
    if host == "docker.io" and full not in DOCKER_HUB_SERVED:
        return [(f"{full}: a Docker Hub repository not known to be served", expected)]
    if host != "docker.io" and host not in ALLOWED_REGISTRIES:
        return [(f"{full}: registry {host} is not on the allow-list", expected)]
    return []


def _registries_around(pins: Iterable[Pin]) -> Iterator[Finding]:
    """Images no tree deploys: Dockerfile base images, the Kind node image."""
    for pin in pins:
        around = Path(pin.file).name.startswith("Dockerfile") or pin.file.startswith("clusters/")
        if pin.kind == pinning.CONTAINER_IMAGE and around:
            for problem, expected in pullable(pin.name):
                yield Finding(CHECK, pin.where, "", problem, expected)


# --- 3: the Kind bootstrap loads what CI builds ---------------------------------------------

_FUNCTION = re.compile(r"^(?P<name>[A-Za-z_][\w-]*)\s*\(\)\s*\{")


def _kind_loads(root: Path, tree: ClusterTree, built: list[BuiltImage]) -> Iterator[Finding]:
    runs = images_built_here(tree, built)
    if not runs:
        return
    images = ", ".join(ref for ref, _ in runs)
    expected = (
        "a function that loads each line of `inventory --images-built` into the nodes "
        "(`kind load image-archive`), called by the script"
    )
    problem = bootstrap_problem(root / BOOTSTRAP)
    if problem:
        yield Finding(CHECK, str(BOOTSTRAP), "", f"{problem}; Kind runs {images}", expected)


_READS_IMAGES = re.compile(r"\$\(\s*inventory\s+--images-built")


def bootstrap_problem(script: Path) -> str:
    """Why `script` does not load the images CI builds into the Kind nodes ('' if it does)."""
    if not script.is_file():
        return "missing"
    lines = [
        line
        for line in script.read_text(encoding="utf-8").splitlines()
        if not line.lstrip().startswith("#")
    ]
    bodies: dict[str, tuple[int, int]] = {}
    for start, line in enumerate(lines):
        if match := _FUNCTION.match(line):
            end = next((i for i in range(start, len(lines)) if lines[i].startswith("}")), start)
            bodies[match["name"]] = (start, end)
    loaders = [
        name
        for name, (start, end) in bodies.items()
        if any("kind load image-archive" in line for line in lines[start : end + 1])
    ]
    if not loaders:
        return "no function runs `kind load image-archive`"
    for name in loaders:
        start, end = bodies[name]
        # A call, `$(inventory --images-built)`, not the name in a message.
        if not any(_READS_IMAGES.search(line) for line in lines[start : end + 1]):
            continue
        call = re.compile(rf"(?:^|[\s;&|(]){re.escape(name)}(?:$|[\s;&|)])")
        if any(call.search(lines[i]) for i in range(len(lines)) if not start <= i <= end):
            return ""
        return f"{name} loads the images but the script never calls it"
    return f"{', '.join(loaders)} does not read `inventory --images-built`"


# --- 4: one version per component ------------------------------------------------------------


def _key(pin: Pin, precision: int | None) -> tuple[str, ...]:
    parts = tuple(re.split(r"[.-]", pin.version.strip().removeprefix("v")))
    if pin.kind == pinning.GITHUB_ACTION:  # one commit per action version, too
        return (*parts, pin.text)
    return parts[:precision] if precision else parts


def _agree(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    shorter = min(len(a), len(b))
    return a[:shorter] == b[:shorter]


def _shown(pin: Pin) -> str:
    return pin.text if pin.kind == pinning.GITHUB_ACTION else f"{pin.name} {pin.version}"


def consistency(pins: Iterable[Pin]) -> Iterator[Finding]:
    """Each pin that disagrees with its component's most common version, naming both."""
    groups: dict[str, list[Pin]] = defaultdict(list)
    for pin in pins:
        groups[pin.component].append(pin)
        if pin.component in ALSO_COMPARED:
            groups[ALSO_COMPARED[pin.component]].append(pin)
    for component, members in sorted(groups.items()):
        keys = [_key(pin, PRECISION.get(component)) for pin in members]
        counts = Counter(keys)
        # The most common version; among its pins, the component's own before the related.
        native = [pin.component == component for pin in members]
        reference = max(range(len(members)), key=lambda i: (counts[keys[i]], native[i], -i))
        why = f" ({WHY[component]})" if component in WHY else ""
        for pin, key in zip(members, keys, strict=True):
            if not _agree(key, keys[reference]):
                other = members[reference]
                problem = f"{component}: {_shown(pin)} here, but {other.where} pins {_shown(other)}"
                yield Finding(CHECK, pin.where, "", problem, f"one {component} version{why}")

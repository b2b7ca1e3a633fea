"""`python -m gitops inventory --cluster C ...`: what the tree deploys on one cluster, for the
bootstrap scripts, so they never keep a second list of tenants, Applications or images.

  --tenants        the tenant namespaces (folders of overlays/<cluster>/tenants/)
  --apps LAYER     Application names: `platform` (every Application below the root that is
                   not a tenant workload) or `tenants` (the tenant workloads)
  --images-built   `<image reference> <build context> [NAME=value ...]` for every image the
                   cluster runs that CI builds (.github/workflows/image.yaml), with the tag it
                   pins and the build arguments CI builds it with
  --build-context IMAGE   the folder CI builds IMAGE (e.g. mlflow-server) from
  --cloud-secrets  the AWS Secrets Manager keys the cluster's ExternalSecrets read
  --models         `<tenant> <model> <@alias or /version> <Service>` for every model a tenant
                   serves: what its models.yaml declares, as the rendered Deployments serve
                   it, and the Service in front of the pods that serve it
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops import paths
from gitops.settings import REPO_URL
from gitops.tree.app_tree import App, ClusterTree, TreeBuilder
from gitops.tree.crds import CrdSet
from gitops.tree.findings import labels_of, name_of, namespace_of
from gitops.tree.kustomizations import discover, render_all
from gitops.tree.namespacing import is_namespaced
from gitops.tree.selectors import matches_map, pod_template
from gitops.tree.tenant_models import configmaps_by_name, inference_workloads
from gitops.tree.tenants import tenant_namespaces
from inference.contracts.tenant_models import ModelsError

LAYER_LABEL = "ml-platform.example.com/layer"
TENANT_LAYER = "tenants"
IMAGE_WORKFLOW = Path(".github/workflows/image.yaml")


@dataclass(frozen=True)
class BuiltImage:
    """One entry of the image workflow's build matrix."""

    name: str  # the last component of the published repository, e.g. inference-service
    context: str  # the docker build context, relative to the repository
    # NAME=value, the matrix entry's `build-args` (one a line, as docker/build-push-action
    # v7.3.0 reads that input: src/context.ts, getInputList with ignoreComma)
    build_args: tuple[str, ...] = ()


def cluster_tree(root: Path, cluster: str) -> ClusterTree:
    """The cluster's Application tree; only the entry point is rendered up front, every
    Application's source on demand."""
    entry = [p for p in discover(root) if p.is_relative_to(root / "clusters" / cluster)]
    builder = TreeBuilder(
        root,
        REPO_URL,
        render_all(entry, root),
        lambda obj: is_namespaced(obj, CrdSet([])),
    )
    return builder.build(cluster)


def layer_of(app: App) -> str:
    labels = (app.obj.get("metadata") or {}).get("labels") or {}
    return str(labels.get(LAYER_LABEL, ""))


def applications(tree: ClusterTree, layer: str) -> list[str]:
    """Names of the Applications below the root: the tenant workloads, or everything else."""
    below_root = [a for a in tree.apps if not a.parent.startswith("clusters/")]
    wanted = [a for a in below_root if (layer_of(a) == TENANT_LAYER) == (layer == TENANT_LAYER)]
    return sorted({str(a.obj["metadata"]["name"]) for a in wanted})


def built_images(root: Path) -> list[BuiltImage]:
    """The image workflow's build matrix: what CI builds, scans and publishes."""
    workflow = yaml.safe_load((root / IMAGE_WORKFLOW).read_text(encoding="utf-8")) or {}
    matrix = (((workflow.get("jobs") or {}).get("build") or {}).get("strategy") or {}).get(
        "matrix"
    ) or {}
    return [
        BuiltImage(
            str(e["image"]),
            str(e["context"]),
            tuple(
                arg.strip() for arg in str(e.get("build-args") or "").splitlines() if arg.strip()
            ),
        )
        for e in matrix.get("include") or []
    ]


def images_built_lines(tree: ClusterTree, built: list[BuiltImage]) -> list[str]:
    """`--images-built`: `<reference> <context> [NAME=value ...]`, what the Kind bootstrap
    builds an image from when it is not published."""
    arguments = {b.name: b.build_args for b in built}
    return [
        " ".join([reference, context, *arguments[image_name(reference)]])
        for reference, context in images_built_here(tree, built)
    ]


def image_name(reference: str) -> str:
    """The last path component of a reference's repository: `inference-service` for
    ghcr.io/org/repo/inference-service:<commit>."""
    repository = reference.split("@", 1)[0].rsplit(":", 1)[0] if "/" in reference else reference
    return repository.rsplit("/", 1)[-1]


def container_images(objects: list[dict[str, Any]]) -> list[str]:
    images = []
    for obj in objects:
        template = pod_template(obj) or {}
        spec = template.get("spec") or {}
        for key in ("initContainers", "containers"):
            images += [str(c.get("image", "")) for c in spec.get(key) or []]
    return images


def images_built_here(tree: ClusterTree, built: list[BuiltImage]) -> list[tuple[str, str]]:
    """(reference, build context) of each image the cluster runs that CI builds."""
    contexts = {b.name: b.context for b in built}
    found: dict[str, str] = {}
    for image in container_images(tree.all_objects()):
        name = image_name(image)
        if name in contexts:
            found[image] = contexts[name]
    return sorted(found.items())


def cloud_secrets(tree: ClusterTree) -> list[str]:
    """The AWS Secrets Manager keys the cluster's ExternalSecrets read (remoteRef, extract)."""
    keys = set()
    for obj in tree.all_objects():
        if obj.get("kind") != "ExternalSecret":
            continue
        spec = obj.get("spec") or {}
        keys |= {str((d.get("remoteRef") or {}).get("key")) for d in spec.get("data") or []}
        keys |= {
            str((d.get("extract") or {}).get("key"))
            for d in spec.get("dataFrom") or []
            if d.get("extract")
        }
    return sorted(keys - {"None"})


def models(tree: ClusterTree) -> list[str]:
    """`<tenant> <model> <@alias|/version> <Service>` of every model the tenant workloads
    serve; a model no Deployment serves, or one behind no Service, is left out (the
    `tenant-models` check reports both)."""
    lines = []
    for app in tree.apps:
        if layer_of(app) != TENANT_LAYER:
            continue
        tenant = app.destination_namespace
        objects = [o for o in app.objects if namespace_of(o) == tenant]
        configmaps = configmaps_by_name(objects)
        services = [o for o in objects if o.get("kind") == "Service"]
        for workload in inference_workloads(objects):
            try:
                served = workload.declaration(configmaps, tenant).served_by(
                    workload.serving.deployment
                )
            except ModelsError:
                continue
            labels = labels_of(pod_template(workload.workload) or {})
            fronts = sorted(
                name_of(s)
                for s in services
                if matches_map((s.get("spec") or {}).get("selector") or {}, labels)
            )
            for model in served if fronts else ():
                pointer = f"@{model.alias}" if model.alias else f"/{model.version}"
                lines.append(f"{tenant} {model.name} {pointer} {fronts[0]}")
    return sorted(set(lines))


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m gitops inventory", description=__doc__)
    parser.add_argument("--cluster", required=True, choices=paths.CLUSTERS)
    parser.add_argument("--repo", type=Path, default=paths.REPO_ROOT, help=argparse.SUPPRESS)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--tenants", action="store_true")
    what.add_argument("--apps", choices=("platform", TENANT_LAYER))
    what.add_argument("--images-built", action="store_true")
    what.add_argument("--build-context", metavar="IMAGE")
    what.add_argument("--cloud-secrets", action="store_true")
    what.add_argument("--models", action="store_true")
    args = parser.parse_args(argv)
    root = args.repo.resolve()
    if args.tenants:
        lines = sorted(tenant_namespaces(root, args.cluster))
    elif args.build_context:
        contexts = {b.name: b.context for b in built_images(root)}
        if args.build_context not in contexts:
            print(
                f"error: CI builds no image {args.build_context!r}; it builds "
                f"{', '.join(contexts)}",
                file=sys.stderr,
            )
            return 2
        lines = [contexts[args.build_context]]
    else:
        tree = cluster_tree(root, args.cluster)
        if tree.findings:
            for finding in tree.findings:
                print(f"error: {finding}", file=sys.stderr)
            return 1
        if args.apps:
            lines = applications(tree, args.apps)
        elif args.cloud_secrets:
            lines = cloud_secrets(tree)
        elif args.models:
            lines = models(tree)
        else:
            lines = images_built_lines(tree, built_images(root))
    print("\n".join(lines))
    return 0

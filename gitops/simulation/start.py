"""What exists before the bootstrap script runs: the world a simulation starts from.

Kind (kind v0.32.0 with clusters/kind/kind-config.yaml): the node image ships the
local-path provisioner and its default StorageClass `standard`
(kubernetes-sigs/kind v0.32.0, pkg/cluster/internal/create/actions/installstorage); no
metrics API until the tree installs metrics-server; images only as `kind load` puts them
into the nodes (the bootstrap stand-ins record it).

EKS, as the documented first-deploy steps leave it (docs/eks.md "Before the first deploy"),
each read from the file that says it, so the simulation follows the documentation:
- eksctl with clusters/eks/cluster.yaml: an IAM role per `iam.serviceAccounts` entry, the
  ServiceAccounts it creates itself (entries without `roleOnly`), the add-ons (the
  metrics-server add-on serves the resource metrics API), subnets tagged for load balancers;
- AWS Secrets Manager: exactly the entries of docs/eks.md's table of secrets, with the JSON
  keys the table names (a `<tenant>` row stands for every tenant);
- ACM: the certificate docs/eks.md says to request (CERTIFICATE_DOMAINS, for the DOMAIN of
  clusters/eks/settings/settings.env), issued, under the ARN settings.env names;
- GHCR: an image CI builds exists at a commit tag when that commit of this repository's
  history holds the image's build context (.github/workflows/image.yaml builds every commit
  it runs for; the CI pin flow's tests prove which commits get pinned).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from gitops.simulation.world import BuiltImage, Certificate, Cloud, Images, World
from gitops.tree.git_history import COMMIT, GitHistory, HistoryState
from gitops.tree.inventory import IMAGE_WORKFLOW, built_images

EKS_DOCS = Path("docs/eks.md")
EKS_CLUSTER = Path("clusters/eks/cluster.yaml")
EKS_SETTINGS = Path("clusters/eks/settings/settings.env")
# docs/eks.md: the certificate to request before the first sync, for these names
CERTIFICATE_DOMAINS = ("mlflow.{DOMAIN}", "*.{DOMAIN}")
_SECRET_ROW = re.compile(r"^\|\s*`(?P<key>ml-platform/[^`]+)`\s*\|(?P<content>[^|]*)\|")
_JSON_KEY = re.compile(r'"([A-Za-z0-9_.-]+)"\s*:')


def kind_world(own_prefix: str) -> World:
    return World("kind", images=Images(own_prefix=own_prefix), storage_classes={"standard": True})


def eks_world(
    root: Path, tenants: list[str], own_prefix: str, published: BuiltImage | None
) -> World:
    world = World("eks", images=Images(own_prefix=own_prefix, published=published, private=True))
    cloud = Cloud()
    cluster = _eksctl_config(root)
    for entry in ((cluster.get("iam") or {}).get("serviceAccounts")) or []:
        meta = entry.get("metadata") or {}
        account = f"{meta.get('namespace')}/{meta.get('name')}"
        cloud.roles[account] = str(entry.get("roleName") or f"eksctl-{meta.get('name')}")
        if not entry.get("roleOnly"):
            cloud.service_accounts.add(account)
    world.metrics_api = any(a.get("name") == "metrics-server" for a in cluster.get("addons") or [])
    cloud.secrets = documented_secrets(root, tenants)
    settings = settings_env(root)
    if settings.get("CERTIFICATE_ARN"):
        domains = tuple(d.format(DOMAIN=settings.get("DOMAIN", "")) for d in CERTIFICATE_DOMAINS)
        cloud.certificates.append(Certificate(settings["CERTIFICATE_ARN"], domains))
    world.cloud = cloud
    return world


def _eksctl_config(root: Path) -> dict[str, Any]:
    path = root / EKS_CLUSTER
    if not path.is_file():
        return {}
    return yaml.safe_load(path.read_text(encoding="utf-8")) or {}


def settings_env(root: Path) -> dict[str, str]:
    path = root / EKS_SETTINGS
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        key, sep, value = line.partition("=")
        if sep and not key.startswith("#"):
            out[key.strip()] = value.strip()
    return out


def documented_secrets(root: Path, tenants: list[str]) -> dict[str, dict[str, str] | str]:
    """Secrets Manager as docs/eks.md's table has the operator fill it: key -> JSON object
    with the keys the row names (random values, `<tenant>` filled in), or a plain string."""
    path = root / EKS_DOCS
    out: dict[str, dict[str, str] | str] = {}
    for line in path.read_text(encoding="utf-8").splitlines() if path.is_file() else []:
        match = _SECRET_ROW.match(line.strip())
        if not match:
            continue
        key, content = match["key"], match["content"]
        names = [t for t in tenants] if "<tenant>" in key else [""]
        for tenant in names:
            real_key = key.replace("<tenant>", tenant)
            keys = _JSON_KEY.findall(content)
            if not keys:
                out[real_key] = f"value-of-{real_key}"
                continue
            value = {k: secrets.token_hex(8) for k in keys}
            if "username" in value and '"<tenant>"' in content:
                value["username"] = tenant
            for fixed in re.findall(r'"username":\s*"([a-z0-9-]+)"', content):
                value["username"] = fixed
            out[real_key] = value
    return out


def ci_images(root: Path, history: Path) -> Callable[[str, str], str]:
    """(image name, tag) -> "" when CI's registry holds that image at that tag, else why
    not: the tag must be a commit in the history of `history` (the repository, or the clone a
    copy came from: GITOPS_GIT_HISTORY) whose tree holds the image's build context with its
    Dockerfile. The `image-commits` check proves the same of every pin statically."""
    contexts = (
        {b.name: b.context for b in built_images(root)} if (root / IMAGE_WORKFLOW).is_file() else {}
    )
    git = GitHistory(history)

    def published(name: str, tag: str) -> str:
        context = contexts.get(name)
        if context is None:
            return f"CI builds no image named {name}"
        if not COMMIT.match(tag):
            return f"tag {tag!r} is not a commit (CI tags what it builds with the 40-hex commit)"
        if git.state() is HistoryState.NONE:
            return f"no git history at {history} to tell whether CI built commit {tag[:12]}"
        if not git.is_commit(tag):
            return f"commit {tag[:12]} is not in this repository's history, so CI never built it"
        if not git.has_file(tag, f"{context}/Dockerfile"):
            return (
                f"manifest unknown: commit {tag[:12]}'s tree has no {context}/Dockerfile, "
                "so CI never built this image"
            )
        return ""

    return published

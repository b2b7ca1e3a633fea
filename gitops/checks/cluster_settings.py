"""`cluster-settings`: each cluster's own values live in clusters/<cluster>/settings/settings.env
and nowhere else, and a tree that still carries the example values does not pass.

- A settings value that is an example (AWS's documentation account id 111122223333, also
  inside the certificate ARN, a domain, bucket or URL containing "example") is a finding unless
  validation runs in example mode (GITOPS_ALLOW_EXAMPLES=1, how CI validates the tree as
  published). The same rule guards clusters/eks/create-cluster.sh and clusters/eks/bootstrap.sh.
- So is a cluster's tree that still names the example repository (example-org/
  ml-inference-platform: Argo CD's repoURL, the image path): no such repository exists, so
  Argo CD could fetch nothing. `make repository URL=...` points every occurrence at a fork
  (gitops/tree/repository_url.py); both bootstraps refuse the example too.
- No placeholder survives rendering: the manifests write `${AWS_REGION}`, `${DOMAIN}`...
  where a setting goes, and each must be replaced wherever it is written, so a target
  kustomize missed shows up here instead of in a pod's environment.
- cluster.yaml (eksctl) uses only variables settings.env defines.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from gitops.checks import Context, register
from gitops.tree.app_tree import ClusterTree
from gitops.tree.findings import Finding, obj_ref
from gitops.tree.repository_url import EXAMPLE, forms

CHECK = "cluster-settings"
EXAMPLE_ACCOUNT = "111122223333"  # the account id AWS's documentation uses
# The manifests write `${NAME}` where a settings value goes (the same form cluster.yaml uses);
# kustomize replaces each before anything is deployed.
# Upper case only: Grafana dashboards carry their own ${datasource}-style variables.
_PLACEHOLDER = re.compile(r"\$\{([A-Z][A-Z0-9_]*)\}")


def settings_file(root: Path, cluster: str) -> Path:
    return root / "clusters" / cluster / "settings" / "settings.env"


def read_settings(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


def is_example(key: str, value: str) -> bool:
    if key == "AWS_ACCOUNT_ID":
        return value == EXAMPLE_ACCOUNT
    if key == "CERTIFICATE_ARN":
        return EXAMPLE_ACCOUNT in value
    # The base URLs the Argo CD UI links to (MLFLOW_URL=https://mlflow.<DOMAIN> ...).
    return (key in ("DOMAIN", "ARTIFACT_BUCKET") or key.endswith("_URL")) and "example" in value


@register(CHECK, "each cluster's own values come from its settings.env, none is an example")
def check(ctx: Context) -> Iterable[Finding]:
    for tree in ctx.trees:
        if not ctx.allow_examples:
            yield from _example_repository(tree)
        path = settings_file(ctx.root, tree.cluster)
        if not path.is_file():
            continue
        rel = path.relative_to(ctx.root).as_posix()
        settings = read_settings(path)
        if not ctx.allow_examples:
            for key, value in settings.items():
                if is_example(key, value):
                    yield Finding(
                        CHECK,
                        rel,
                        "",
                        f"{key}={value} is an example value",
                        f"your own {key} (or GITOPS_ALLOW_EXAMPLES=1 to validate the example "
                        "tree as published)",
                    )
        for app in tree.apps:
            for obj in app.objects:
                text = json.dumps(obj)
                for name in sorted(set(_PLACEHOLDER.findall(text))):
                    yield Finding(
                        CHECK,
                        app.where,
                        obj_ref(obj),
                        f"placeholder {name} was not replaced",
                        f"a replacement from {rel} (clusters/{tree.cluster}/settings) "
                        "that reaches this field",
                    )
        eksctl = path.parent.parent / "cluster.yaml"
        if eksctl.is_file():
            used = set(_PLACEHOLDER.findall(eksctl.read_text(encoding="utf-8")))
            for name in sorted(used - settings.keys()):
                yield Finding(
                    CHECK,
                    eksctl.relative_to(ctx.root).as_posix(),
                    "",
                    f"uses ${{{name}}}, which {rel} does not define",
                    f"one of {', '.join(sorted(settings))}",
                )


def _example_repository(tree: ClusterTree) -> Iterable[Finding]:
    """One finding per cluster: the first object that names the example repository."""
    spellings = forms(EXAMPLE)[2:]
    for app in [*tree.apps]:
        for obj in [app.obj, *app.objects]:
            text = json.dumps(obj)
            if any(s in text for s in spellings):
                yield Finding(
                    CHECK,
                    app.where,
                    obj_ref(obj),
                    f"the {tree.cluster} tree names the example repository {EXAMPLE.slug}, "
                    "which Argo CD cannot fetch and CI does not publish to",
                    "your fork: make repository URL=https://github.com/<you>/<repo>.git (or "
                    "GITOPS_ALLOW_EXAMPLES=1 to validate the example tree as published)",
                )
                return

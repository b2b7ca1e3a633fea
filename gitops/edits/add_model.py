"""A model added to a tenant on every cluster: the files `python -m gitops add-model` writes
(gitops/add_model.py runs it and validates the result; `make model`).

For each cluster the tenant has a folder on, the model's entry is appended to the tenant's
models.yaml (comments and layout kept, gitops/edits/models_yaml.py), following the alias
asked for or, by default, the alias the tenant's models already follow there (Kind `staging`,
EKS `production`). A model with its own Deployment (`deployment: dedicated`) also gets
overlays/<cluster>/tenants/<tenant>/dedicated/<model>/kustomization.yaml, which renders the
tenant's own workload base again under the name inference-service-<short> with its own
app.kubernetes.io/name (so the shared Deployment's immutable selector, its Service, PDB and
ServiceMonitor never match its pods), MODEL_DEPLOYMENT=<model> and, where the base has an
Ingress (EKS), the model's paths on the tenant's host. The tenant's kustomization lists the
folder, so its namespace, image, settings, models and policies apply to it as to the shared
Deployment. Nothing is written when any file cannot be edited safely.
"""

from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from gitops import paths
from gitops.edits.models_yaml import ModelsEditError, add_model
from gitops.tree.render import RenderError, render
from gitops.tree.tenant_models import DEDICATED_DIR, models_file, read_declaration
from inference.contracts.tenant_models import (
    DEDICATED,
    RESOURCE_CLASSES,
    ModelsError,
)

# The shared Deployment's objects are all named this; a dedicated model's add `-<short>`.
SHARED_NAME = "inference-service"
# A Service name is an RFC 1035 label: at most 63 characters, starting with a letter.
MAX_SERVICE_NAME = 63
SHORT_NAME = re.compile(r"^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?$")
KUSTOMIZATION = "kustomization.yaml"


class AddModelError(ValueError):
    """Bad input, or a tree the command cannot extend; the message says which."""


@dataclass
class Plan:
    tenant: str
    model: str
    dedicated: bool
    pointers: dict[str, str] = field(default_factory=dict)  # cluster -> "@alias"
    files: dict[Path, str] = field(default_factory=dict)  # new or rewritten file -> content

    @property
    def service(self) -> str:
        short = self.model.removeprefix(f"{self.tenant}-")
        return f"{SHARED_NAME}-{short}" if self.dedicated else SHARED_NAME

    def apply(self) -> list[Path]:
        for path, content in self.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        return sorted(self.files)


def plan(
    repo: Path,
    tenant: str,
    short: str,
    *,
    alias: str | None = None,
    dedicated: bool = False,
    resources: str | None = None,
) -> Plan:
    model = f"{tenant}-{short}"
    _check_input(tenant, short, model, dedicated, resources)
    folders = {
        c: paths.tenants_dir(c, repo) / tenant
        for c in paths.CLUSTERS
        if (paths.tenants_dir(c, repo) / tenant / KUSTOMIZATION).is_file()
    }
    if not folders:
        known = sorted({p.name for c in paths.CLUSTERS for p in _tenant_folders(repo, c)})
        raise AddModelError(
            f"unknown tenant {tenant!r}: no overlays/<cluster>/tenants/{tenant}/ "
            f"(tenants: {', '.join(known) or 'none'}; `make tenant NAME=...` adds one)"
        )
    result = Plan(tenant, model, dedicated)
    for cluster, folder in folders.items():
        try:
            declaration = read_declaration(folder)
        except ModelsError as error:
            raise AddModelError(f"{models_file(folder).relative_to(repo)}: {error}") from None
        if declaration.get(model) is not None:
            where = models_file(folder).relative_to(repo)
            raise AddModelError(f"{model} is already declared on {cluster} ({where})")
        follows = alias or _usual_alias([m.alias for m in declaration.models if m.alias])
        if follows is None:
            raise AddModelError(
                f"{tenant} follows no alias on {cluster} to take as the default: pass --alias"
            )
        entry: dict[str, Any] = {"name": model, "alias": follows}
        if resources:
            entry["resources"] = resources
        if dedicated:
            entry["deployment"] = DEDICATED
        path = models_file(folder)
        try:
            result.files[path] = add_model(path.read_text(encoding="utf-8"), entry)
        except ModelsEditError as error:
            raise AddModelError(f"{path.relative_to(repo)}: {error}") from None
        result.pointers[cluster] = f"@{follows}"
        if dedicated:
            _dedicated(result, repo, folder, short)
    return result


def _check_input(
    tenant: str, short: str, model: str, dedicated: bool, resources: str | None
) -> None:
    if not SHORT_NAME.match(short):
        raise AddModelError(
            f"model name {short!r}: expected lowercase letters, digits and '-', starting and "
            "ending with a letter or digit (the registered model is <tenant>-<name>)"
        )
    if len(model) > 63:
        raise AddModelError(
            f"{model}: {len(model)} characters, at most 63 (it is a path segment and a label "
            "value everywhere the platform puts it)"
        )
    if dedicated and len(f"{SHARED_NAME}-{short}") > MAX_SERVICE_NAME:
        raise AddModelError(
            f"{SHARED_NAME}-{short}: a dedicated model's Service name has at most "
            f"{MAX_SERVICE_NAME} characters (RFC 1035); choose a name of at most "
            f"{MAX_SERVICE_NAME - len(SHARED_NAME) - 1}"
        )
    if resources is not None and resources not in RESOURCE_CLASSES:
        raise AddModelError(
            f"--resources {resources!r}: expected one of {', '.join(RESOURCE_CLASSES)}"
        )


def _tenant_folders(repo: Path, cluster: str) -> list[Path]:
    folder = paths.tenants_dir(cluster, repo)
    return [p for p in folder.iterdir() if (p / KUSTOMIZATION).is_file()] if folder.is_dir() else []


def _usual_alias(aliases: list[str | None]) -> str | None:
    counted = Counter(a for a in aliases if a)
    return counted.most_common(1)[0][0] if counted else None


def _round_trip() -> YAML:
    rt = YAML()
    rt.preserve_quotes = True
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.width = 4096
    return rt


def _dedicated(result: Plan, repo: Path, folder: Path, short: str) -> None:
    """The dedicated folder of one cluster, and its line in the tenant's kustomization."""
    kustomization = folder / KUSTOMIZATION
    rt = _round_trip()
    try:
        tree = rt.load(kustomization.read_text(encoding="utf-8"))
    except YAMLError as error:
        raise AddModelError(f"{kustomization.relative_to(repo)}: not valid YAML: {error}") from None
    resources = tree.get("resources") if tree else None
    bases = [str(r) for r in resources or [] if not str(r).startswith(f"{DEDICATED_DIR}/")]
    if not bases:
        raise AddModelError(
            f"{kustomization.relative_to(repo)}: no workload base in `resources` to render the "
            "dedicated Deployment from"
        )
    base = bases[0]
    try:
        ingress = any(o.get("kind") == "Ingress" for o in render((folder / base).resolve()))
    except RenderError as error:
        raise AddModelError(f"the tenant's base {base} does not render: {error}") from None
    relative = f"{DEDICATED_DIR}/{result.model}"
    resources.append(relative)
    out = io.StringIO()
    rt.dump(tree, out)
    result.files[kustomization] = out.getvalue()
    text = dedicated_kustomization(result.tenant, result.model, short, f"../../{base}", ingress)
    result.files[folder / relative / KUSTOMIZATION] = text


def dedicated_kustomization(tenant: str, model: str, short: str, base: str, ingress: bool) -> str:
    """The kustomization of a dedicated model's Deployment, Service, HPA, PDB and
    ServiceMonitor (and Ingress, when the tenant's base has one)."""
    name = f"{SHARED_NAME}-{short}"
    text = f"""\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
# {model}'s own Deployment, Service, HPA, PDB and ServiceMonitor (deployment: dedicated in
# ../../models.yaml, docs/models.md): {tenant}'s workload base again, named {name}.
# ../../kustomization.yaml lists this folder, so the tenant's namespace, image, settings,
# models and rollout policies apply to it as to the shared Deployment.
resources:
  - {base}
nameSuffix: -{short}
labels:
  # Its own app.kubernetes.io/name on every object, pod and selector: the shared Deployment's
  # selector (immutable), its Service, PDB and ServiceMonitor never match these pods.
  - pairs:
      app.kubernetes.io/name: {name}
    includeSelectors: true
    includeTemplates: true
patches:
  # The settings ConfigMap is the tenant's (../../kustomization.yaml); the base's copy goes.
  - patch: |-
      $patch: delete
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: inference-settings
  # The service serves this model alone (MODEL_DEPLOYMENT, docs/serving.md).
  - target:
      kind: Deployment
    patch: |-
      - op: add
        path: /spec/template/spec/containers/0/env/-
        value:
          name: MODEL_DEPLOYMENT
          value: {model}
  # kustomize's label transformer does not know ServiceMonitor selectors.
  - target:
      kind: ServiceMonitor
    patch: |-
      - op: replace
        path: /spec/selector/matchLabels/app.kubernetes.io~1name
        value: {name}
"""
    if ingress:
        text += f"""\
  # On the tenant's host, this model's paths go to this Service; group.order -1 puts these
  # rules before the shared Ingress's catch-all / (aws-load-balancer-controller v3.5.0,
  # docs/guide/ingress/annotations.md: the smaller order is evaluated first).
  - target:
      kind: Ingress
    patch: |-
      - op: add
        path: /metadata/annotations/alb.ingress.kubernetes.io~1group.order
        value: "-1"
      - op: replace
        path: /spec/rules/0/http/paths
        value:
          - path: /models/{model}
            pathType: Prefix
            backend:
              service:
                name: {SHARED_NAME}
                port:
                  name: http
          - path: /v2/models/{model}
            pathType: Prefix
            backend:
              service:
                name: {SHARED_NAME}
                port:
                  name: http
"""
    return text

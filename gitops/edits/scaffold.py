"""A tenant added to every cluster: the files `python -m gitops scaffold-tenant NAME` writes
(gitops/scaffold_tenant.py runs it and validates the result).

The new tenant is derived from an existing one (tenant-a when present) rather than from a
separate template, so there is one copy of the tenant YAML and it cannot drift: the source
tenant's folder overlays/<cluster>/tenants/<source>/ is copied for every cluster, and each
file under apps/ and clusters/ named after the source tenant (its AppProject) is copied and
added next to the original in that folder's kustomization.yaml. The source name is replaced
only as a whole name (`tenant-a`, `tenant-a-iris`, never `tenant-ab`), its model name
`<source>-<dataset>` becomes `<name>-<dataset>`, and the copy is refused if the source name
is still found afterwards. The new tenant's models.yaml declares that model alone: the source
tenant's other models (their dedicated/ folders and the rollout policies only they name) are
its own, not a template.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from gitops import paths
from gitops.edits.models_yaml import ModelsEditError, keep_models
from gitops.tree.kustomizations import KUSTOMIZATION_FILES
from gitops.tree.tenant_models import DEDICATED_DIR, models_file, read_declaration
from inference.contracts.tenant_models import ModelsError

DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# 63 is the DNS label limit; names derived from the tenant add suffixes such as `-kit` or
# `-<dataset>` (`-breast_cancer`) and Argo CD's instance label must stay within 63 too.
MAX_NAME_LENGTH = 40
RESERVED = frozenset({"default", "argocd", "minio", "mlflow", "monitoring", "tenant"})
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]*$")
TENANTS_FILE = Path("training") / "tenants.yaml"
PREFERRED_SOURCE = "tenant-a"


class ScaffoldError(ValueError):
    """Bad input or a repository the scaffold can't extend; the message says which."""


@dataclass
class Plan:
    name: str
    source: str
    files: dict[Path, str] = field(default_factory=dict)  # new or rewritten file -> content

    def apply(self) -> list[Path]:
        for path, content in self.files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
        return sorted(self.files)


def check_name(name: str) -> None:
    if not DNS_LABEL.match(name) or len(name) > MAX_NAME_LENGTH:
        raise ScaffoldError(
            f"tenant name {name!r} is not valid: expected a DNS-1123 label (lowercase letters, "
            f"digits and '-', starting and ending with a letter or digit) of at most "
            f"{MAX_NAME_LENGTH} characters"
        )
    if name in RESERVED or name.startswith("kube-"):
        raise ScaffoldError(f"tenant name {name!r} is reserved for the platform")


def _token(name: str) -> re.Pattern[str]:
    # A whole tenant name: not part of a longer name on either side (a trailing `-` is
    # allowed, so `tenant-a-iris` is the source tenant's model name).
    return re.compile(rf"(?<![A-Za-z0-9_-]){re.escape(name)}(?![A-Za-z0-9_])")


def plan(repo: Path, name: str, dataset: str, estimator: str) -> Plan:
    check_name(name)
    for label, value in (("--dataset", dataset), ("--estimator", estimator)):
        if not IDENTIFIER.match(value):
            raise ScaffoldError(f"{label} {value!r}: expected a lowercase identifier like iris")
    tenants_file = repo / TENANTS_FILE
    if not tenants_file.is_file():
        raise ScaffoldError(
            f"{TENANTS_FILE} is missing: the training catalog must exist to add a tenant"
        )
    catalog = (yaml.safe_load(tenants_file.read_text(encoding="utf-8")) or {}).get("tenants")
    if not isinstance(catalog, dict):
        raise ScaffoldError(f"{TENANTS_FILE}: expected a top-level `tenants:` mapping")
    clusters = [c for c in paths.CLUSTERS if paths.tenants_dir(c, repo).is_dir()]
    if not clusters:
        raise ScaffoldError("no overlays/<cluster>/tenants/ folder to add the tenant to")
    existing = {p.name for c in clusters for p in paths.tenants_dir(c, repo).iterdir()}
    if name in existing or name in catalog:
        raise ScaffoldError(f"tenant {name!r} already exists")
    source = _source_tenant(repo, clusters)
    source_dataset = str((catalog.get(source) or {}).get("dataset", ""))

    result = Plan(name, source)
    rename = _renamer(source, name, source_dataset, dataset)
    for cluster in clusters:
        src = paths.tenants_dir(cluster, repo) / source
        dst = paths.tenants_dir(cluster, repo) / name
        left_out = _other_models_files(src, f"{source}-{source_dataset}")
        for file in sorted(p for p in src.rglob("*") if p.is_file() and p not in left_out):
            result.files[dst / file.relative_to(src)] = rename(file.read_text(encoding="utf-8"))
        _only_the_catalog_model(result, dst, f"{name}-{dataset}")
    for folder in ("apps", "clusters"):
        for file in sorted((repo / folder).rglob("*")) if (repo / folder).is_dir() else []:
            if (
                file.is_file()
                and file.suffix in (".yaml", ".yml")
                and _token(source).search(file.stem)
            ):
                _copy_listed(result, file, rename)
    leftover = [
        str(p)
        for p, text in result.files.items()
        if _token(source).search(text) and not p.exists()  # existing files are only extended
    ]
    if leftover:
        raise ScaffoldError(f"{source!r} still appears after renaming in {leftover}")
    entry = f"  {name}: {{dataset: {dataset}, estimator: {estimator}}}\n"
    text = tenants_file.read_text(encoding="utf-8")
    result.files[tenants_file] = text + ("" if text.endswith("\n") else "\n") + entry
    updated = yaml.safe_load(result.files[tenants_file]).get("tenants") or {}
    if updated.get(name) != {"dataset": dataset, "estimator": estimator}:
        raise ScaffoldError(f"{TENANTS_FILE}: `tenants:` must be the last mapping to append to")
    return result


def _other_models_files(folder: Path, catalog_model: str) -> set[Path]:
    """The files of the source tenant's other models, which a new tenant does not get: the
    dedicated Deployments' folders and the rollout policies only they name."""
    try:
        declaration = read_declaration(folder)
    except ModelsError as error:
        raise ScaffoldError(f"{models_file(folder)}: {error}") from None
    kept = declaration.get(catalog_model)
    if kept is None:
        raise ScaffoldError(
            f"{models_file(folder)} does not declare {catalog_model}, the model training's "
            "catalog gives the tenant to copy: nothing to start the new tenant from"
        )
    policies = {m.rollout for m in declaration.models if m.rollout} - {kept.rollout}
    files = {folder / str(p) for p in policies}
    return files | {p for p in (folder / DEDICATED_DIR).rglob("*") if p.is_file()}


def _only_the_catalog_model(result: Plan, folder: Path, model: str) -> None:
    """The new tenant's models.yaml declares its catalog model alone, and its kustomization
    lists no dedicated Deployment."""
    path = models_file(folder)
    try:
        result.files[path] = keep_models(result.files[path], {model})
    except ModelsEditError as error:
        raise ScaffoldError(f"{path}: {error}") from None
    kustomization = folder / "kustomization.yaml"
    result.files[kustomization] = re.sub(
        rf"^[ \t]*-[ \t]*{DEDICATED_DIR}/\S+[ \t]*\n",
        "",
        result.files[kustomization],
        flags=re.MULTILINE,
    )


def _source_tenant(repo: Path, clusters: list[str]) -> str:
    common = set.intersection(
        *({p.name for p in paths.tenants_dir(c, repo).iterdir() if p.is_dir()} for c in clusters)
    )
    if not common:
        raise ScaffoldError("no tenant exists on every cluster to copy the layout from")
    return PREFERRED_SOURCE if PREFERRED_SOURCE in common else sorted(common)[0]


def _renamer(source: str, name: str, source_dataset: str, dataset: str) -> Callable[[str], str]:
    """Whole names of the source replaced in one pass (a new name may start with the source's:
    tenant-a -> tenant-a-x must not turn tenant-a-iris into tenant-a-x-x-iris)."""
    model = f"{source}-{source_dataset}" if source_dataset else None
    replacements = {source: name} | ({model: f"{name}-{dataset}"} if model else {})
    # Longest first, so the model's name wins over the tenant's it starts with.
    names = sorted(replacements, key=len, reverse=True)
    pattern = re.compile("|".join(_token(n).pattern for n in names))

    def rename(text: str) -> str:
        return pattern.sub(lambda match: replacements[match.group(0)], text)

    return rename


def _copy_listed(result: Plan, file: Path, rename: Callable[[str], str]) -> None:
    """Copy a per-tenant file (e.g. the AppProject) and list it in its kustomization."""
    target = file.with_name(rename(file.name))
    result.files[target] = rename(file.read_text(encoding="utf-8"))
    # The nearest kustomization up the tree that lists the file gets the copy listed too.
    for folder in [file.parent, *file.parent.parents]:
        for kustomization in (folder / k for k in KUSTOMIZATION_FILES):
            if not kustomization.is_file():
                continue
            listed = file.relative_to(folder).as_posix()
            text = result.files.get(kustomization) or kustomization.read_text(encoding="utf-8")
            line = re.search(rf"^(\s*-\s*){re.escape(listed)}\s*$", text, re.MULTILINE)
            if line is None:
                continue
            new = target.relative_to(folder).as_posix()
            insert = f"\n{line.group(1).lstrip(chr(10))}{new}"
            result.files[kustomization] = text[: line.end()] + insert + text[line.end() :]
            return
        if folder.name in ("apps", "clusters"):
            break
    raise ScaffoldError(f"{file}: no kustomization lists it; cannot list {target.name} beside it")

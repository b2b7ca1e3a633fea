"""`python -m gitops export-schemas OUT`: the JSON schemas the local validation uses, written
for kubeconform, so CI's second validator checks the same objects against the same schemas.

- OUT/core/<kind>-<group>-<version>.json: the strict core schemas pip kubernetes-validate
  bundles for settings.KUBERNETES_VERSION (the ones `schemas` validates against),
  made standalone: the definitions each one uses are embedded, so no reference leaves the
  file. Only the kinds the tree renders are written. kubeconform location:
  OUT/core/{{.ResourceKind}}{{.KindSuffix}}.json
- OUT/crds/<group>/<kind>_<version>.json: every served version of every pinned CRD (the
  `crds` set of upstream-files.yaml, from gitops/tree/upstream.py, downloaded if need be),
  converted by crds.to_json_schema, the conversion `crd-schemas` validates with.
  kubeconform location: OUT/crds/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate

from gitops.paths import REPO_ROOT
from gitops.settings import KUBERNETES_VERSION, Settings
from gitops.tree.crds import CrdSet, load_crds, to_json_schema
from gitops.tree.kustomizations import discover, render_all
from gitops.tree.upstream import folder

# A kind refers to "/api/_definitions.json#/$defs/X", a definition to another as "#/$defs/X".
_DEFINITIONS_REF = re.compile(r"^(?:/api/_definitions\.json)?#/\$defs/(?P<name>.+)$")


def core_schema_dir(version: str = KUBERNETES_VERSION) -> Path:
    """kubernetes-validate's strict schemas for one Kubernetes minor."""
    base = Path(kubernetes_validate.__file__).parent / "kubernetes-json-schema"
    folder = base / f"v{version}.0-local-strict"
    if not folder.is_dir():
        raise FileNotFoundError(f"kubernetes-validate bundles no schemas for {version}: {folder}")
    return folder


def schema_file_name(api_version: str, kind: str) -> str:
    """The bundled file of a kind: `deployment-apps-v1.json`, `service-v1.json` (the group's
    first label, as kubernetes-validate and kubeconform's KindSuffix both name it)."""
    group, _, version = api_version.rpartition("/")
    suffix = f"{group.split('.')[0]}-{version}" if group else version
    return f"{kind.lower()}-{suffix}.json"


def standalone(schema: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """`schema` with every definition it reaches embedded under $defs and referenced locally."""
    needed: dict[str, Any] = {}
    pending = [schema]
    while pending:
        node = pending.pop()
        for ref in _references(node):
            name = _DEFINITIONS_REF.match(ref)
            if name and name["name"] not in needed:
                needed[name["name"]] = definitions[name["name"]]
                pending.append(definitions[name["name"]])
    out = _rewrite({k: v for k, v in schema.items() if k != "$id"})
    out["$defs"] = {name: _rewrite(body) for name, body in sorted(needed.items())}
    return out


def _references(node: Any) -> list[str]:
    found = []
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            found.append(node["$ref"])
        for value in node.values():
            found += _references(value)
    elif isinstance(node, list):
        for value in node:
            found += _references(value)
    return found


def _rewrite(node: Any) -> Any:
    if isinstance(node, dict):
        out = {k: _rewrite(v) for k, v in node.items()}
        ref = out.get("$ref")
        if isinstance(ref, str) and (match := _DEFINITIONS_REF.match(ref)):
            out["$ref"] = f"#/$defs/{match['name']}"
        return out
    if isinstance(node, list):
        return [_rewrite(v) for v in node]
    return node


def export_core(out: Path, kinds: set[tuple[str, str]]) -> list[Path]:
    folder = core_schema_dir()
    definitions = json.loads((folder / "_definitions.json").read_text(encoding="utf-8"))["$defs"]
    written = []
    for api_version, kind in sorted(kinds):
        source = folder / schema_file_name(api_version, kind)
        if not source.is_file():
            continue  # not a core kind: the `schemas` check reports it, kubeconform too
        schema = json.loads(source.read_text(encoding="utf-8"))
        target = out / "core" / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(standalone(schema, definitions)), encoding="utf-8")
        written.append(target)
    return written


def export_crds(out: Path, crds: CrdSet) -> list[Path]:
    written = []
    for (group, kind), crd in sorted(crds.by_kind.items()):
        for version, (served, _storage, raw) in sorted(crd.versions.items()):
            if not served:
                continue
            target = out / "crds" / group / f"{kind.lower()}_{version}.json"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(to_json_schema(raw, top_level=True)), encoding="utf-8")
            written.append(target)
    return written


def rendered_kinds(root: Path) -> set[tuple[str, str]]:
    rendered = render_all(discover(root), root)
    return {
        (str(o.get("apiVersion")), str(o.get("kind")))
        for r in rendered.values()
        for o in r.objects
        if isinstance(o, dict)
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m gitops export-schemas", description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--repo", type=Path, default=REPO_ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    settings = Settings.from_env(args.repo)
    crds_dir = folder("crds", settings)  # UpstreamFilesError says how to get them
    core = export_core(args.out, rendered_kinds(args.repo.resolve()))
    crds = export_crds(args.out, load_crds(crds_dir))
    print(
        f"Kubernetes {KUBERNETES_VERSION}: {len(core)} core schemas, "
        f"{len(crds)} CRD schemas from {crds_dir} in {args.out}"
    )
    return 0 if core and crds else 1

"""`python -m gitops export-schemas` (gitops/tree/export_schemas.py): the schemas CI's
kubeconform reads are standalone, accept the real objects and reject the faults the local
checks reject."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from gitops import paths
from gitops.settings import Settings
from gitops.tree import export_schemas
from gitops.tree.crds import load_crds
from gitops.tree.kustomizations import discover, render_all
from gitops.tree.upstream import folder


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("schemas")
    rendered = render_all(discover(paths.REPO_ROOT), paths.REPO_ROOT)
    kinds = {(o["apiVersion"], o["kind"]) for r in rendered.values() for o in r.objects}
    assert export_schemas.export_core(out, kinds)
    assert export_schemas.export_crds(out, load_crds(folder("crds", Settings.from_env())))
    return out


def rendered_object(kind: str, folder: str) -> dict:
    objects = render_all([paths.REPO_ROOT / folder], paths.REPO_ROOT)
    return next(o for r in objects.values() for o in r.objects if o["kind"] == kind)


def validator(path: Path) -> jsonschema.protocols.Validator:
    schema = json.loads(path.read_text())
    return jsonschema.validators.validator_for(schema)(schema)


def test_exported_core_schema_is_standalone_and_strict(exported: Path) -> None:
    path = exported / "core" / "deployment-apps-v1.json"
    refs = re.findall(r'"\$ref": "([^"]+)"', path.read_text())
    assert refs
    assert all(ref.startswith("#/$defs/") for ref in refs)
    deployment = rendered_object("Deployment", "overlays/kind/tenants/tenant-a")
    assert not list(validator(path).iter_errors(deployment))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolice"] = "Always"
    assert "imagePullPolice" in str([e.message for e in validator(path).iter_errors(deployment)])


def test_exported_crd_schema_rejects_an_unknown_field(exported: Path) -> None:
    path = exported / "crds" / "argoproj.io" / "application_v1alpha1.json"
    app = rendered_object("Application", "apps/kind")
    assert not list(validator(path).iter_errors(app))
    app["spec"]["syncWave"] = 1
    assert "syncWave" in str([e.message for e in validator(path).iter_errors(app)])


def test_every_rendered_core_kind_is_exported(exported: Path) -> None:
    crd_groups = load_crds(folder("crds", Settings.from_env())).groups
    rendered = render_all(discover(paths.REPO_ROOT), paths.REPO_ROOT)
    core = {
        export_schemas.schema_file_name(o["apiVersion"], o["kind"])
        for r in rendered.values()
        for o in r.objects
        if o["apiVersion"].rpartition("/")[0] not in crd_groups
    }
    assert core <= {p.name for p in (exported / "core").iterdir()}

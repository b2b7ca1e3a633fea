"""One validator: CI's kubeconform reads the schemas the local validation uses. The exported
schemas accept the real objects and reject the faults the local checks reject; the
`one-validator` check catches a workflow or CRD list that drifts from them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest

from gitops import export_schemas, paths
from gitops.crd_schemas import load_crds
from gitops.kustomizations import discover, render_all
from gitops.settings import Settings
from gitops.validate import validate_repo
from tests.gitops.tree_copies import copy_real_tree, problems

CHECK = "one-validator"
WORKFLOW = Path(".github/workflows/checks.yaml")
SOURCES = Path(".github/crd-sources.yaml")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("schemas")
    rendered = render_all(discover(paths.REPO_ROOT), paths.REPO_ROOT)
    kinds = {(o["apiVersion"], o["kind"]) for r in rendered.values() for o in r.objects}
    assert export_schemas.export_core(out, kinds)
    assert export_schemas.export_crds(out, load_crds(Settings.from_env().crds_dir))
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
    crd_groups = load_crds(Settings.from_env().crds_dir).groups
    rendered = render_all(discover(paths.REPO_ROOT), paths.REPO_ROOT)
    core = {
        export_schemas.schema_file_name(o["apiVersion"], o["kind"])
        for r in rendered.values()
        for o in r.objects
        if o["apiVersion"].rpartition("/")[0] not in crd_groups
    }
    assert core <= {p.name for p in (exported / "core").iterdir()}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_real_tree(tmp_path / "repo")


def found(repo: Path) -> str:
    return problems(validate_repo(repo, [CHECK]), CHECK)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))


def test_real_tree_passes(repo: Path) -> None:
    assert found(repo) == ""


def test_a_crd_sum_that_does_not_match_the_local_file(repo: Path) -> None:
    edit(repo / SOURCES, "sha256: 5dde0e22", "sha256: 00000000")
    assert "argoproj.io/application-crd.yaml: sha256 00000000" in found(repo)


def test_a_crd_ci_does_not_download(repo: Path) -> None:
    text = (repo / SOURCES).read_text()
    start = text.index("  - file: external-secrets.io/secretstores.yaml")
    (repo / SOURCES).write_text(text[:start])
    assert "external-secrets.io/secretstores.yaml is read locally but CI does not" in found(repo)


def test_kubeconform_with_upstream_schemas(repo: Path) -> None:
    edit(
        repo / WORKFLOW,
        "kubeconform -strict -summary \\\n",
        "kubeconform -strict -summary -kubernetes-version 1.33.0 -schema-location default \\\n",
    )
    text = found(repo)
    assert "kubeconform names a Kubernetes version of its own" in text
    assert "schema location default is not the exported schemas" in text


def test_kubeconform_without_the_exported_schemas(repo: Path) -> None:
    edit(repo / WORKFLOW, "python -m gitops export-schemas", "python -m gitops validate")
    assert "kubeconform runs without `python -m gitops export-schemas` in its job" in found(repo)

"""`python -m gitops scaffold-tenant`: a new tenant on every cluster, validated."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from gitops import paths
from gitops.scaffold_tenant import main
from gitops.settings import REPO_URL, Settings
from gitops.tree.app_tree import TreeBuilder
from gitops.tree.crds import load_crds
from gitops.tree.kustomizations import discover, render_all
from gitops.tree.namespacing import is_namespaced
from gitops.tree.upstream import folder
from gitops.validate import CHECKS, validate_repo
from tests.gitops.tree_copies import GENERIC_CHECKS, copy_real_tree

NO_CHECKOV = [c for c in CHECKS if c != "checkov"]
GENERIC_NO_CHECKOV = [c for c in GENERIC_CHECKS if c != "checkov"]


def generated_tenant_apps(repo: Path, cluster: str) -> dict[str, str]:
    """Application name -> destination namespace, for Applications deploying tenant folders."""
    crds = load_crds(folder("crds", Settings.from_env(repo)))
    rendered = render_all(discover(repo), repo)
    tree = TreeBuilder(repo, REPO_URL, rendered, lambda o: is_namespaced(o, crds)).build(cluster)
    prefix = f"overlays/{cluster}/tenants/"
    return {
        a.obj["metadata"]["name"]: a.destination_namespace
        for a in tree.apps
        if any(p.startswith(prefix) and p.count("/") == 3 for p in a.source_paths)
    }


def scaffold(repo: Path, *args: str) -> int:
    return main(["--repo", str(repo), "--no-validate", *args])


def test_scaffold_good_repo_validates_and_is_generated(good_repo: Path) -> None:
    assert scaffold(good_repo, "tenant-c", "--dataset", "wine") == 0
    folder = good_repo / "overlays/kind/tenants/tenant-c"
    assert (folder / "settings.env").read_text().strip() == "TENANT=tenant-c"
    assert "  - name: tenant-c-wine\n    alias: staging\n" in (folder / "models.yaml").read_text()
    assert "namespace: tenant-c" in (folder / "kustomization.yaml").read_text()
    catalog = yaml.safe_load((good_repo / "training/tenants.yaml").read_text())["tenants"]
    assert catalog["tenant-c"] == {"dataset": "wine", "estimator": "logistic_regression"}
    report = validate_repo(good_repo, GENERIC_NO_CHECKOV)
    assert report.ok, "\n".join(map(str, report.findings))
    assert generated_tenant_apps(good_repo, "kind") == {
        "tenant-a": "tenant-a",
        "tenant-c": "tenant-c",
    }


def test_scaffold_real_tree_on_both_clusters(tmp_path: Path) -> None:
    repo = copy_real_tree(tmp_path / "repo")
    assert scaffold(repo, "tenant-c") == 0
    for cluster in paths.CLUSTERS:
        assert (paths.tenants_dir(cluster, repo) / "tenant-c" / "kustomization.yaml").is_file()
        assert generated_tenant_apps(repo, cluster).get("tenant-c") == "tenant-c"
    report = validate_repo(repo, NO_CHECKOV)
    assert report.ok, "\n".join(map(str, report.findings))


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Tenant-C", "DNS-1123"),
        ("-tenant", "DNS-1123"),
        ("tenant-", "DNS-1123"),
        ("tenant_c", "DNS-1123"),
        ("t" * 41, "at most 40"),
        ("default", "reserved"),
        ("kube-tenant", "reserved"),
        ("tenant-a", "already exists"),
    ],
)
def test_bad_names_are_refused_with_exit_2(
    good_repo: Path, name: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = sorted(p.relative_to(good_repo) for p in good_repo.rglob("*"))
    assert scaffold(good_repo, "--", name) == 2  # `--`: a name may start with "-"
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err
    assert sorted(p.relative_to(good_repo) for p in good_repo.rglob("*")) == before


def test_missing_tenants_catalog_is_a_clear_error(
    good_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (good_repo / "training/tenants.yaml").unlink()
    assert scaffold(good_repo, "tenant-c") == 2
    assert "training/tenants.yaml is missing" in capsys.readouterr().err
    assert not (good_repo / "overlays/kind/tenants/tenant-c").exists()


def test_bad_dataset_is_refused(good_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert scaffold(good_repo, "tenant-c", "--dataset", "Iris; rm") == 2
    assert "--dataset" in capsys.readouterr().err


def test_a_new_tenant_starts_with_its_catalog_model_only(tmp_path: Path) -> None:
    """tenant-a's other models (here a dedicated one) are its own, not part of the template."""
    from tests.gitops.tree_copies import with_model

    repo = with_model(copy_real_tree(tmp_path / "repo"), "tenant-a", "fraud", dedicated=True)
    assert scaffold(repo, "tenant-c", "--dataset", "wine") == 0
    for cluster, alias in (("kind", "staging"), ("eks", "production")):
        folder = paths.tenants_dir(cluster, repo) / "tenant-c"
        models = yaml.safe_load((folder / "models.yaml").read_text())["models"]
        assert models == [
            {
                "name": "tenant-c-wine",
                "alias": alias,
                "rollout": "rollout.yaml",
                "resources": "small",
            }
        ]
        assert not (folder / "dedicated").exists()
        assert "dedicated/" not in (folder / "kustomization.yaml").read_text()
    report = validate_repo(repo, ["render", "tenant-models", "rollout-policies"])
    assert report.ok, "\n".join(map(str, report.findings))

"""`python -m training seed-examples`: a declared model that a bundled team example trains gets
its first version from the team's own script (against the real MLflow server), its alias set
where it is not; a second run reuses the version while the example's code and data are
unchanged."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from training.errors import UsageError
from training.lifecycle.team_examples import FINGERPRINT_TAG, TeamExample, load_examples
from training.settings import REPO_ROOT, Settings

CHURN = REPO_ROOT / "training" / "examples" / "churn"


def test_the_repository_s_examples_file_names_the_churn_example() -> None:
    examples = load_examples(Settings.from_env().examples_file)
    assert examples["tenant-a-churn"] == TeamExample("tenant-a-churn", "tenant-a", CHURN)


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ("{tenant: tenant-a, folder: nowhere}", "nowhere/train.py does not exist"),
        ("{tenant: tenant-b, folder: churn}", "the name must start with tenant-b-"),
        ("{folder: churn}", "expected keys `tenant` and `folder`"),
    ],
)
def test_a_broken_examples_file_is_bad_input(tmp_path: Path, entry: str, problem: str) -> None:
    shutil.copytree(CHURN, tmp_path / "churn")
    path = tmp_path / "examples.yaml"
    path.write_text(f"examples:\n  tenant-a-churn: {entry}\n")
    with pytest.raises(UsageError, match=problem):
        load_examples(path)


def test_the_fingerprint_follows_code_and_data_not_the_readme(tmp_path: Path) -> None:
    folder = tmp_path / "churn"
    shutil.copytree(CHURN, folder)
    example = TeamExample("tenant-a-churn", "tenant-a", folder)
    before = example.fingerprint()
    (folder / "README.md").write_text("reworded\n")
    assert example.fingerprint() == before
    with (folder / "customers.csv").open("a") as data:
        data.write("basic,north,3,20.0,1,no\n")
    assert example.fingerprint() != before


def _tenant(repo: Path, tenant: str, *entries: str) -> None:
    folder = repo / "overlays" / "kind" / "tenants" / tenant
    folder.mkdir(parents=True)
    (folder / "kustomization.yaml").write_text("resources: []\n")
    listed = "".join(f"  - {entry}\n" for entry in entries)
    (folder / "models.yaml").write_text(
        f"apiVersion: ml-platform.example.com/v1alpha1\nkind: TenantModels\nmodels:\n{listed}"
    )


@pytest.mark.integration
def test_seed_examples_registers_once_then_reuses(cli, tenants_file, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    tenant = tenants_file[1]
    model = f"{tenant}-churn"
    repo = tmp_path / "repo"
    _tenant(
        repo,
        tenant,
        f"{{name: {tenant}-iris, alias: staging}}",
        f"{{name: {model}, alias: staging}}",
    )
    _tenant(repo, f"{tenant}-w", f"{{name: {tenant}-w-wine, alias: staging}}")
    examples = tmp_path / "examples"
    shutil.copytree(CHURN, examples / "churn")
    (examples / "examples.yaml").write_text(
        f"examples:\n  {model}: {{tenant: {tenant}, folder: churn}}\n"
    )
    monkeypatch.setenv("TRAINING_OVERLAYS_ROOT", str(repo))
    monkeypatch.setenv("TRAINING_EXAMPLES_FILE", str(examples / "examples.yaml"))

    first = cli("seed-examples", "--cluster", "kind", "--tenant", tenant)
    assert first.code == 0, first.err
    assert "registered by" in first.out, first.out
    client = MlflowClient()
    [version] = client.search_model_versions(f"name = '{model}'")
    assert client.get_registered_model(model).aliases == {"staging": version.version}
    assert (
        version.tags[FINGERPRINT_TAG]
        == TeamExample(model, tenant, examples / "churn").fingerprint()
    )
    assert version.tags["registered_from"] == "team code"

    again = cli("seed-examples", "--cluster", "kind", "--tenant", tenant)
    assert "already set" in again.out, again.out

    # The alias gone (another cluster's, say): the version of the same code and data is reused.
    client.delete_registered_model_alias(model, "staging")
    reused = cli("seed-examples", "--cluster", "kind")
    assert "reused (same code and data), promoted" in reused.out, reused.out
    assert len(client.search_model_versions(f"name = '{model}'")) == 1

    # A tenant none of whose declared models an example trains: nothing to do, said so.
    other = cli("seed-examples", "--cluster", "kind", "--tenant", f"{tenant}-w")
    assert other.code == 0
    assert "no declared model" in other.out

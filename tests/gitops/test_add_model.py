"""`python -m gitops add-model` (`make model`): a model declared for a tenant on every cluster,
the dedicated Deployment's folder when asked, files edited in place, bad input refused with
exit code 2 and nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops.add_model import main
from gitops.validate import validate_repo
from tests.gitops.tree_copies import copy_real_tree, problems

KIND_A = Path("overlays/kind/tenants/tenant-a")
EKS_A = Path("overlays/eks/tenants/tenant-a")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return copy_real_tree(tmp_path / "repo")


def add(repo: Path, *args: str) -> int:
    return main(["--repo", str(repo), "--no-validate", *args])


def snapshot(repo: Path) -> dict[str, str]:
    return {
        str(p.relative_to(repo)): p.read_text(encoding="utf-8")
        for p in sorted((repo / "overlays").rglob("*"))
        if p.is_file()
    }


def test_a_shared_model_on_every_cluster_follows_each_cluster_s_alias(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = {c: (repo / c / "models.yaml").read_text() for c in (KIND_A, EKS_A)}
    assert add(repo, "tenant-a", "fraud", "--resources", "medium") == 0
    out = capsys.readouterr().out
    assert out.startswith("tenant-a-fraud declared for tenant-a (kind @staging, eks @production):")
    assert (
        "register a first version of tenant-a-fraud and set its alias, staging (kind) and " in out
    )
    assert "production (eks), before this is synced" in out
    assert "provision-tenant --models overlays/<cluster>/tenants/tenant-a/models.yaml" in out
    for folder, alias in ((KIND_A, "staging"), (EKS_A, "production")):
        text = (repo / folder / "models.yaml").read_text()
        # Appended: the header comment and the existing entries unchanged.
        assert text == before[folder] + (
            f"  - name: tenant-a-fraud\n    alias: {alias}\n    resources: medium\n"
        )
        assert not (repo / folder / "dedicated").exists()
    report = validate_repo(repo, ["render", "tenant-models", "rollout-policies", "capacity"])
    assert report.ok, "\n".join(map(str, report.findings))


def test_a_dedicated_model_gets_its_folder_listed_by_the_tenant(repo: Path) -> None:
    assert add(repo, "tenant-a", "fraud", "--dedicated", "--alias", "candidate") == 0
    for folder in (KIND_A, EKS_A):
        models = (repo / folder / "models.yaml").read_text()
        assert models.endswith(
            "  - name: tenant-a-fraud\n    alias: candidate\n    deployment: dedicated\n"
        )
        kustomization = (repo / folder / "kustomization.yaml").read_text()
        assert "\n  - dedicated/tenant-a-fraud\n" in kustomization
        own = (repo / folder / "dedicated/tenant-a-fraud/kustomization.yaml").read_text()
        assert "nameSuffix: -fraud" in own
        assert "value: tenant-a-fraud" in own
        # The Ingress paths only where the tenant's base has an Ingress (EKS).
        assert ("path: /models/tenant-a-fraud" in own) == (folder == EKS_A)
    report = validate_repo(repo, ["render", "tenant-models", "rollout-policies"])
    assert report.ok, "\n".join(map(str, report.findings))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["tenant-z", "churn"],
            "unknown tenant 'tenant-z': no overlays/<cluster>/tenants/tenant-z/",
        ),
        (["tenant-a", "iris"], "tenant-a-iris is already declared on kind"),
        (["tenant-a", "Churn"], "model name 'Churn': expected lowercase letters, digits and '-'"),
        (["tenant-a", "x" * 56], "at most 63"),
        (
            ["tenant-a", "y" * 46, "--dedicated"],
            f"inference-service-{'y' * 46}: a dedicated model's Service name has at most 63",
        ),
    ],
)
def test_bad_input_is_refused_and_nothing_written(
    repo: Path, args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = snapshot(repo)
    assert add(repo, *args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err
    assert snapshot(repo) == before


def test_an_unknown_resource_class_is_refused_by_the_parser(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_code:
        add(repo, "tenant-a", "fraud", "--resources", "huge")
    assert exit_code.value.code == 2
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_validation_runs_after_the_edit(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --no-validate the whole tree is validated: a model nobody registered yet keeps
    the tenant from getting ready in the simulated first sync, which is what the next steps
    say to do first."""
    code = main(["--repo", str(repo), "tenant-b", "churn"])
    out = capsys.readouterr().out
    assert code == 1
    assert "validation: FAILED" in out
    assert "models:/tenant-b-churn@staging does not resolve" in out
    assert problems(validate_repo(repo, ["tenant-models"]), "tenant-models") == ""

"""A pickle-free tenant (`pickleFree: true` in its models.yaml): `promote` and `rollout start`
refuse a version without a passed ONNX model for the alias it follows, --force or not, and so
does `rollback` to one; they let one with it through; a tenant without the switch takes either."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.models import iris_logistic, log_and_register
from tests.support.rollouts import policy_document, write_policy

pytestmark = pytest.mark.integration


def _overlay(root: Path, cluster: str, tenant: str, switch: str) -> Path:
    folder = root / "overlays" / cluster / "tenants" / tenant
    folder.mkdir(parents=True)
    (folder / "kustomization.yaml").write_text("resources: []\n")
    (folder / "models.yaml").write_text(
        "apiVersion: ml-platform.example.com/v1alpha1\nkind: TenantModels\n"
        f"{switch}models:\n  - {{name: {tenant}-iris, alias: staging, rollout: rollout.yaml}}\n"
    )
    write_policy(folder / "rollout.yaml", policy_document())
    return folder


def test_a_pickled_version_is_refused_for_a_pickle_free_tenant(
    cli, tenants_file, registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant = tenants_file[1]
    model = f"{tenant}-iris"
    root = tmp_path / "repo"
    _overlay(root, "kind", tenant, "")
    strict = _overlay(root, "eks", tenant, "pickleFree: true\n")
    monkeypatch.setenv("TRAINING_OVERLAYS_ROOT", str(root))

    # Version 1: trained by the platform, its ONNX gate passed (a linear model converts).
    trained = cli("train", "--tenant", tenant)
    assert trained.code == 0, trained.err
    assert "passed" in trained.out
    assert cli("promote", "--model", model, "--version", "1", "--alias", "staging").code == 0
    # Version 2: the scikit-learn pickle only.
    estimator, features = iris_logistic()
    pickled = log_and_register(registry.url, model, estimator, features)

    for argv in (
        ("promote", "--model", model, "--version", pickled, "--alias", "staging", "--force"),
        ("rollout", "start", "--model", model, "--version", pickled, "--alias", "staging"),
    ):
        refused = cli(*argv)
        assert refused.code == 1, argv
        message = " ".join(refused.err.split())
        assert f"{model} version {pickled} has no ONNX model that passed" in message
        assert "pickle-free tenants" in message
        assert str(strict.relative_to(root)) in message
        assert "/kind/" not in message
    from mlflow import MlflowClient

    assert MlflowClient(registry.url).get_registered_model(model).aliases["staging"] == "1"

    # Without the switch anywhere, the same version is only the quality gate's business.
    (strict / "models.yaml").write_text(
        (strict / "models.yaml").read_text().replace("pickleFree: true\n", "")
    )
    again = cli("promote", "--model", model, "--version", pickled, "--alias", "staging")
    assert "pickle-free" not in again.err
    # Then the alias went to the pickle and back, before the tenant turned pickle-free (moved
    # here as promote records moves: the pickle has no training run promote would accept).
    from training.lifecycle.aliases import Move, move_alias

    client = MlflowClient(registry.url)
    for version, previous in ((pickled, "1"), ("1", pickled)):
        move = Move("promote", version, previous, "test", "2026-12-07T00:00:00Z", "test")
        move_alias(client, model, "staging", move, 20)
    (strict / "models.yaml").write_text(
        (strict / "models.yaml").read_text().replace("models:", "pickleFree: true\nmodels:", 1)
    )
    refused = cli("rollback", "--model", model, "--alias", "staging")
    assert refused.code == 1
    assert f"{model} version {pickled} has no ONNX model that passed" in " ".join(
        refused.err.split()
    )
    assert MlflowClient(registry.url).get_registered_model(model).aliases["staging"] == "1"

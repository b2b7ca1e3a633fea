"""`python -m training rollout start|status|promote|abort` against a real `mlflow server`:
the policy comes from the overlay in git, the gate runs, the registry holds the state, a
promotion keeps `<alias>-previous`, and bad input names what was wrong."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.rollouts import policy_document, write_policy

pytestmark = pytest.mark.integration


@pytest.fixture
def overlays(tmp_path: Path, tenants_file, monkeypatch: pytest.MonkeyPatch) -> Path:
    """overlays/kind/tenants/<tenant>/ whose models.yaml serves <tenant>-iris@staging, under
    the policy rollout.yaml once `with_policy` is called (each test writes the file)."""
    tenant = tenants_file[1]
    folder = tmp_path / "repo" / "overlays" / "kind" / "tenants" / tenant
    folder.mkdir(parents=True)
    (folder / "kustomization.yaml").write_text("resources: []\n")
    (folder / "models.yaml").write_text(_models(tenant, ""))
    monkeypatch.setenv("TRAINING_OVERLAYS_ROOT", str(tmp_path / "repo"))
    return folder


def _models(tenant: str, extra: str) -> str:
    return (
        "apiVersion: ml-platform.example.com/v1alpha1\nkind: TenantModels\nmodels:\n"
        f"  - {{name: {tenant}-iris, alias: staging{extra}}}\n"
    )


def with_policy(folder: Path) -> None:
    """The model's entry names rollout.yaml as its policy."""
    (folder / "models.yaml").write_text(_models(folder.name, ", rollout: rollout.yaml"))


def _client(registry):
    from mlflow import MlflowClient

    return MlflowClient(registry.url)


def test_start_status_promote_keeps_previous_then_abort(
    cli, tenants_file, registry, overlays
) -> None:
    tenant = tenants_file[1]
    model = f"{tenant}-iris"
    client = _client(registry)
    for _ in range(3):
        assert cli("train", "--tenant", tenant).code == 0
    assert cli("promote", "--model", model, "--version", "1", "--alias", "staging").code == 0

    # Without a policy, the model promotes all at once.
    refused = cli("rollout", "start", "--model", model, "--version", "2", "--alias", "staging")
    assert refused.code == 1
    assert f"{model} names no rollout policy" in refused.err
    assert "python -m training promote" in refused.err

    write_policy(overlays / "rollout.yaml", policy_document())
    with_policy(overlays)
    started = cli(
        "rollout", "start", "--model", model, "--version", "2", "--alias", "staging",
        "--reason", "retrained", "--by", "ann",
    )  # fmt: skip
    assert started.code == 0, started.err
    assert "gate passed" in started.out
    assert "shadow for 4s, 10% for 4s, 50% for 4s" in started.out
    assert client.get_registered_model(model).aliases == {"staging": "1", "staging-candidate": "2"}
    tags = client.get_model_version(model, "2").tags
    state = json.loads(tags["rollout.state"])
    assert (state["status"], state["step"], state["mode"], state["weight"]) == (
        "running",
        0,
        "shadow",
        0,
    )
    assert (state["stable_version"], state["tenant"]) == ("1", tenant)
    snapshot = json.loads(tags["rollout.policy"])
    assert snapshot["source"] == f"overlays/kind/tenants/{tenant}/rollout.yaml"
    assert snapshot["policy"]["minRequests"] == 30
    assert [e["action"] for e in json.loads(tags["rollout.history"])] == ["start"]

    # While it runs: no plain promotion of the alias, no second rollout.
    blocked = cli("promote", "--model", model, "--version", "3", "--alias", "staging")
    assert blocked.code == 1
    assert "rollout promote" in blocked.err
    again = cli("rollout", "start", "--model", model, "--version", "3", "--alias", "staging")
    assert again.code == 1
    assert "is running; promote or abort it first" in again.err

    status = cli("rollout", "status", "--model", model, "--alias", "staging")
    assert status.code == 0, status.err
    assert "running" in status.out
    assert "1 of 3: shadow for 4s" in status.out
    assert "shadow (0%)" in status.out

    promoted = cli("rollout", "promote", "--model", model, "--alias", "staging", "--by", "bob")
    assert promoted.code == 0, promoted.err
    assert client.get_registered_model(model).aliases == {"staging": "2", "staging-previous": "1"}
    history = json.loads(client.get_registered_model(model).tags["alias_history.staging"])
    assert [(m["action"], m["version"], m["previous"]) for m in history][-1] == (
        "promote",
        "2",
        "1",
    )
    assert "promoted" in cli("rollout", "status", "--model", model, "--alias", "staging").out
    # `rollback` undoes a rollout's promotion like any other.
    assert cli("rollback", "--model", model, "--alias", "staging").code == 0
    assert client.get_registered_model(model).aliases["staging"] == "1"

    assert (
        cli("rollout", "start", "--model", model, "--version", "3", "--alias", "staging").code == 0
    )
    aborted = cli("rollout", "abort", "--model", model, "--alias", "staging", "--reason", "drill")
    assert aborted.code == 0, aborted.err
    assert "staging-candidate" not in client.get_registered_model(model).aliases
    state = json.loads(client.get_model_version(model, "3").tags["rollout.state"])
    assert state["status"] == "aborted"
    after = cli("rollout", "status", "--model", model, "--alias", "staging")
    assert "aborted" in after.out
    assert "drill" in after.out
    nothing = cli("rollout", "abort", "--model", model, "--alias", "staging")
    assert nothing.code == 1
    assert "no rollout of" in nothing.err


def test_bad_input_names_the_field_or_lists_the_choices(
    cli, tenants_file, registry, overlays
) -> None:
    tenant = tenants_file[1]
    model = f"{tenant}-iris"
    assert cli("train", "--tenant", tenant).code == 0
    assert cli("promote", "--model", model, "--version", "1", "--alias", "staging").code == 0

    with_policy(overlays)
    write_policy(overlays / "rollout.yaml", policy_document(minRequests="many"))
    bad = cli("rollout", "start", "--model", model, "--version", "1", "--alias", "staging")
    assert bad.code == 2
    assert (
        f"overlays/kind/tenants/{tenant}/rollout.yaml: minRequests: got 'many', expected an integer"
        in bad.err
    )
    assert "Traceback" not in bad.err

    write_policy(overlays / "rollout.yaml", policy_document(stable_alias="production"))
    other = cli("rollout", "start", "--model", model, "--version", "1", "--alias", "staging")
    assert other.code == 2
    assert "stableAlias: got 'production', expected 'staging'" in other.err

    write_policy(overlays / "rollout.yaml", policy_document())
    same = cli("rollout", "start", "--model", model, "--version", "1", "--alias", "staging")
    assert same.code == 1
    assert "already serves version 1" in same.err
    unknown = cli("rollout", "start", "--model", model, "--version", "9", "--alias", "staging")
    assert unknown.code == 2
    assert f"unknown version '9' of {model}; valid: 1" in unknown.err
    not_served = cli(
        "rollout", "start", "--model", model, "--version", "1", "--alias", "production"
    )
    assert not_served.code == 2
    assert f"no tenant overlay serves models:/{model}@production" in not_served.err
    no_model = cli("rollout", "status", "--model", "nope", "--alias", "staging")
    assert no_model.code == 2
    assert "unknown model 'nope'" in no_model.err
    assert cli("rollout", "status", "--model", model, "--alias", "staging").out.startswith(
        "no rollout"
    )
    bad_alias = cli("rollout", "status", "--model", model, "--alias", "prod")
    assert bad_alias.code == 2
    assert "valid: staging, production" in bad_alias.err

"""Registry isolation for every model of a tenant, on a real MLflow server running its
basic-auth app with `default_permission = NO_PERMISSIONS`, provisioned from the tenants'
models.yaml by `python -m training.registry_access provision-tenant`: the team's writer user
writes its tenant's models and nothing of another tenant's, the service's user reads all of
its tenant's models and none of another's, and a name another tenant's user holds is
refused."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import free_port, start_service
from tests.support.team_models import TARGET, churn_pipeline, customers, log_sklearn
from training.local_platform import processes, registry_server
from training.registry_access import RegistryAccess, main

pytestmark = pytest.mark.integration

PASSWORD = "password-for-tests"
ADMIN = ("admin", "admin-password-for-tests")
AUTH_INI = """[mlflow]
default_permission = NO_PERMISSIONS
database_uri = sqlite:///{db}
admin_username = admin
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
grant_default_workspace_access = false
"""
MODELS = {"tenant-a": ["tenant-a-iris", "tenant-a-churn"], "tenant-b": ["tenant-b-churn"]}
USERS = ["trainer", "rollout-judge", *(f"{t}{s}" for t in MODELS for s in ("", "-trainer"))]


def models_file(folder: Path, tenant: str, names: list[str]) -> Path:
    path = folder / tenant / "models.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    entries = "".join(f"  - name: {name}\n    alias: staging\n" for name in names)
    path.write_text(
        "apiVersion: ml-platform.example.com/v1alpha1\nkind: TenantModels\nmodels:\n" + entries
    )
    return path


@dataclass
class Registry:
    url: str
    overlays: Path

    def auth(self, user: str) -> tuple[str, str]:
        return ADMIN if user == "admin" else (user, PASSWORD)


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    data = tmp_path_factory.mktemp("auth-mlflow")
    ini = data / "basic_auth.ini"
    ini.write_text(AUTH_INI.format(db=(data / "basic_auth.db").resolve()))
    port = free_port()
    command = registry_server.command(data, port, str((data / "artifacts").resolve()))
    env = {
        **os.environ,
        **registry_server.SERVER_ENV,
        "MLFLOW_AUTH_CONFIG_PATH": str(ini),
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN[1],
        "MLFLOW_FLASK_SERVER_SECRET_KEY": "csrf-key-for-tests",
    }
    child = processes.start(
        "mlflow basic-auth", [*command, "--app-name", "basic-auth"], env, data / "mlflow.log"
    )
    url = f"http://127.0.0.1:{port}"
    try:
        processes.wait_until(child, lambda: processes.http_ok(f"{url}/health"), 300)
        admin = RegistryAccess(url, *ADMIN)
        for user in USERS:
            admin.ensure_user(user, PASSWORD)
        yield Registry(url, data / "overlays")
    finally:
        child.stop()


def provision(registry: Registry, tenant: str, names: list[str], monkeypatch) -> int:
    for name, value in zip(
        ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"),
        (registry.url, *ADMIN),
        strict=True,
    ):
        monkeypatch.setenv(name, value)
    return main(
        ["provision-tenant", "--models", str(models_file(registry.overlays, tenant, names))]
    )


def as_user(registry: Registry, user: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from training.settings import REPO_ROOT

    for variable, value in {
        "MLFLOW_TRACKING_URI": registry.url,
        "MLFLOW_TRACKING_USERNAME": user,
        "MLFLOW_TRACKING_PASSWORD": PASSWORD,
        "TRAINING_TENANTS_FILE": str(REPO_ROOT / "training" / "tenants.yaml"),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
    }.items():
        monkeypatch.setenv(variable, value)


def log_as(registry: Registry, user: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The team's own code as `user`: fit and log into its own experiment."""
    as_user(registry, user, monkeypatch)
    frame = customers(rows=200)
    features = frame.drop(columns=[TARGET])
    fitted = churn_pipeline().fit(features, frame[TARGET])
    return log_sklearn(registry.url, fitted, features, experiment=f"{user}-own")


def register_as(
    registry: Registry, user: str, tenant: str, name: str, logged: str, monkeypatch
) -> Any:
    """The registration step as `user`."""
    from training.lifecycle.register import register_model
    from training.settings import Settings

    as_user(registry, user, monkeypatch)
    sample = customers(rows=200)
    return register_model(tenant, name, logged, sample, TARGET, settings=Settings.from_env())


@pytest.fixture(scope="module")
def provisioned(auth_registry: Registry) -> Registry:
    with pytest.MonkeyPatch.context() as env:
        for tenant, names in MODELS.items():
            assert provision(auth_registry, tenant, names, env) == 0
    return auth_registry


def call(registry: Registry, user: str, method: str, path: str, **kwargs: object) -> httpx.Response:
    return httpx.request(
        method, f"{registry.url}{path}", auth=registry.auth(user), timeout=30, **kwargs
    )  # type: ignore[arg-type]


def alias_of(registry: Registry, user: str, model: str) -> int:
    params = {"name": model, "alias": "staging"}
    return call(
        registry, user, "GET", "/api/2.0/mlflow/registered-models/alias", params=params
    ).status_code


def test_provisioning_grants_exactly_the_table(provisioned: Registry) -> None:
    admin = RegistryAccess(provisioned.url, *ADMIN)
    for model in MODELS["tenant-a"]:
        assert admin.permission_of("tenant-a", "registered_model", model) == "READ"
        assert admin.permission_of("tenant-a-trainer", "registered_model", model) == "EDIT"
        assert admin.permission_of("trainer", "registered_model", model) == "MANAGE"
        assert admin.permission_of("rollout-judge", "registered_model", model) == "MANAGE"
        assert admin.permission_of("tenant-b", "registered_model", model) == "NO_PERMISSIONS"
        assert (
            admin.permission_of("tenant-b-trainer", "registered_model", model) == "NO_PERMISSIONS"
        )


def test_the_writer_writes_both_models_of_its_tenant_and_nothing_of_another(
    provisioned: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow import MlflowClient

    logged = log_as(provisioned, "tenant-a-trainer", monkeypatch)
    for name in ("iris", "churn"):
        done = register_as(provisioned, "tenant-a-trainer", "tenant-a", name, logged, monkeypatch)
        assert done.version == "1"
        MlflowClient(provisioned.url).set_registered_model_alias(done.model_name, "staging", "1")
    theirs = log_as(provisioned, "tenant-b-trainer", monkeypatch)
    other = register_as(provisioned, "tenant-b-trainer", "tenant-b", "churn", theirs, monkeypatch)
    assert other.model_name == "tenant-b-churn"

    # tenant-a's writer on tenant-b's model: no read, no new version, no alias.
    assert alias_of(provisioned, "tenant-a-trainer", "tenant-b-churn") == 403
    versions, aliases = "/api/2.0/mlflow/model-versions", "/api/2.0/mlflow/registered-models"
    mine = {"name": "tenant-a-churn", "version": "1"}
    found = call(provisioned, "tenant-a-trainer", "GET", f"{versions}/get", params=mine)
    source = found.json()["model_version"]["source"]
    copy = {"name": "tenant-b-churn", "source": source}
    created = call(provisioned, "tenant-a-trainer", "POST", f"{versions}/create", json=copy)
    assert created.status_code == 403
    move = {"name": "tenant-b-churn", "alias": "staging", "version": "1"}
    moved = call(provisioned, "tenant-a-trainer", "POST", f"{aliases}/alias", json=move)
    assert moved.status_code == 403
    # ...nor log into tenant-b's experiment, nor register through the documented step.
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException, match=r"403|PERMISSION_DENIED|Permission denied"):
        register_as(provisioned, "tenant-a-trainer", "tenant-b", "churn", logged, monkeypatch)
    # EDIT, not MANAGE: the writer cannot hand its models to anyone.
    share = {
        "username": "tenant-b",
        "resource_type": "registered_model",
        "resource_id": "tenant-a-churn",
        "permission": "READ",
    }
    grant = "/api/3.0/mlflow/users/permissions/grant"
    granted = call(provisioned, "tenant-a-trainer", "POST", grant, json=share)
    assert granted.status_code == 403

    # The service's user reads both of its models, artifacts included, and none of tenant-b's.
    for model in MODELS["tenant-a"]:
        assert alias_of(provisioned, "tenant-a", model) == 200
    assert alias_of(provisioned, "tenant-a", "tenant-b-churn") == 403
    found = call(provisioned, "tenant-a", "GET", "/api/2.0/mlflow/registered-models/search").json()
    assert sorted(m["name"] for m in found["registered_models"]) == sorted(MODELS["tenant-a"])

    service = start_service(
        {
            "MODEL_URI": "models:/tenant-a-churn@staging",
            "MLFLOW_TRACKING_URI": provisioned.url,
            "MLFLOW_TRACKING_USERNAME": "tenant-a",
            "MLFLOW_TRACKING_PASSWORD": PASSWORD,
        },
        tmp_path,
    )
    try:
        answer = service.post("/predict", {"plan": "basic", "tenure": 3, "charges": 61.0})
        assert answer.status_code == 200, answer.text
    finally:
        service.stop()


def test_the_platform_trainer_still_trains_into_the_shared_tenant_experiment(
    provisioned: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tenant-a's experiment now holds several of its models; training the catalog model there
    still grants the tenant READ (its own models may share an experiment, no other may)."""
    from training.lifecycle.catalog import TenantModel
    from training.lifecycle.train import train
    from training.settings import Settings

    monkeypatch.setenv("MLFLOW_TRACKING_URI", provisioned.url)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "trainer")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", PASSWORD)
    result = train(TenantModel("tenant-a", "iris", "logistic_regression"), Settings.from_env())
    assert result.model_name == "tenant-a-iris"
    response = call(provisioned, "tenant-a", "GET", "/api/2.0/mlflow/model-versions/get",
                    params={"name": "tenant-a-iris", "version": result.version})  # fmt: skip
    assert response.status_code == 200


def test_a_name_another_tenants_user_holds_is_refused(
    provisioned: Registry, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Any authenticated user may create a registered model, and becomes its MANAGEr.
    create = "/api/2.0/mlflow/registered-models/create"
    taken = {"name": "tenant-a-forecast"}
    squatted = call(provisioned, "tenant-b-trainer", "POST", create, json=taken)
    assert squatted.status_code == 200
    names = [*MODELS["tenant-a"], "tenant-a-forecast"]
    assert provision(provisioned, "tenant-a", names, monkeypatch) == 1
    error = capsys.readouterr().err
    assert (
        "refusing to provision tenant-a: tenant-b-trainer holds MANAGE on tenant-a-forecast"
        in error
    )
    # Nothing was granted on the squatted name.
    admin = RegistryAccess(provisioned.url, *ADMIN)
    assert (
        admin.permission_of("tenant-a", "registered_model", "tenant-a-forecast") == "NO_PERMISSIONS"
    )
    # The tenant's own declaration without that name still provisions (and is idempotent).
    assert provision(provisioned, "tenant-a", MODELS["tenant-a"], monkeypatch) == 0
    assert "already granted" in capsys.readouterr().out


def test_the_bootstrap_s_seed_examples_as_the_tenant_s_writer(
    provisioned: Registry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """What the bootstraps run after provision-tenant: `seed-examples` logged in as
    tenant-a-trainer runs the churn team's own script, which registers tenant-a-churn; the
    declared alias is set, the service's user reads it, and a second run adds nothing. Another
    tenant's writer is refused."""
    from mlflow import MlflowClient

    from training.cli import main as training

    folder = tmp_path / "repo" / "overlays" / "kind" / "tenants" / "tenant-a"
    folder.mkdir(parents=True)
    (folder / "kustomization.yaml").write_text("resources: []\n")
    # production: the writer test above set staging on this registry already.
    (folder / "models.yaml").write_text(
        "apiVersion: ml-platform.example.com/v1alpha1\nkind: TenantModels\nmodels:\n"
        "  - name: tenant-a-churn\n    alias: production\n"
    )
    monkeypatch.setenv("TRAINING_OVERLAYS_ROOT", str(tmp_path / "repo"))

    as_user(provisioned, "tenant-b-trainer", monkeypatch)
    assert training(["seed-examples", "--cluster", "kind", "--tenant", "tenant-a"]) == 1
    # Refused at its first read of tenant-a's model, before the team's script runs.
    assert "registered-models/get failed with error code 403" in capsys.readouterr().err

    as_user(provisioned, "tenant-a-trainer", monkeypatch)
    assert training(["seed-examples", "--cluster", "kind", "--tenant", "tenant-a"]) == 0
    assert "registered by training/examples/churn/train.py" in capsys.readouterr().out
    client = MlflowClient(provisioned.url)
    version = client.get_registered_model("tenant-a-churn").aliases["production"]
    assert client.get_model_version("tenant-a-churn", version).tags["registered_by"]
    count = len(client.search_model_versions("name = 'tenant-a-churn'"))
    params = {"name": "tenant-a-churn", "alias": "production"}
    path = "/api/2.0/mlflow/registered-models/alias"
    assert call(provisioned, "tenant-a", "GET", path, params=params).status_code == 200

    assert training(["seed-examples", "--cluster", "kind", "--tenant", "tenant-a"]) == 0
    assert "already set" in capsys.readouterr().out
    assert len(client.search_model_versions("name = 'tenant-a-churn'")) == count

"""Registry isolation between tenants on a real MLflow server running its basic-auth app with
`default_permission = NO_PERMISSIONS`, provisioned by training/registry_access.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.reliability.stack import copy_version, wait_for
from tests.support.models import iris_logistic, log_and_register
from tests.support.servers import free_port, start_service
from training.local_platform import processes, registry_server
from training.registry_access import MissingRegistryUser, RegistryAccess, SharedExperimentError

pytestmark = pytest.mark.integration

ADMIN = ("admin", "admin-password-for-tests")
TRAINER = ("trainer", "trainer-password-for-tests")
TENANT_A = ("tenant-a", "tenant-a-password-for-tests")
TENANT_B = ("tenant-b", "tenant-b-password-for-tests")
AUTH_INI = """[mlflow]
default_permission = NO_PERMISSIONS
database_uri = sqlite:///{db}
admin_username = admin
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
grant_default_workspace_access = false
"""


@dataclass
class AuthRegistry:
    url: str
    child: processes.Child


@pytest.fixture(scope="module")
def auth_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthRegistry]:
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
        yield AuthRegistry(url, child)
    finally:
        child.stop()


@dataclass
class Tenants:
    url: str
    a_version: str


@pytest.fixture(scope="module")
def tenants(auth_registry: AuthRegistry) -> Tenants:
    url = auth_registry.url
    admin = RegistryAccess(url, *ADMIN)
    for user, password in (TRAINER, TENANT_A, TENANT_B):
        assert admin.ensure_user(user, password) == "created"
    # Training logs in as its own user; creating a model or experiment makes it their MANAGEr.
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_USERNAME", TRAINER[0])
        env.setenv("MLFLOW_TRACKING_PASSWORD", TRAINER[1])
        version = log_and_register(
            url, "tenant-a-iris", *iris_logistic(), alias="staging", experiment="tenant-a"
        )
        log_and_register(
            url, "tenant-b-iris", *iris_logistic(), alias="staging", experiment="tenant-b"
        )
    trainer = RegistryAccess(url, *TRAINER)
    grants = trainer.grant_model_read(TENANT_A[0], "tenant-a-iris")
    assert {(g.resource_type, g.permission) for g in grants} == {
        ("registered_model", "READ"),
        ("experiment", "READ"),
    }
    trainer.grant_model_read(TENANT_B[0], "tenant-b-iris")
    return Tenants(url, version)


def call(
    tenants: Tenants, method: str, path: str, auth: tuple[str, str] | None, **kwargs: object
) -> httpx.Response:
    return httpx.request(method, f"{tenants.url}{path}", auth=auth, timeout=30, **kwargs)  # type: ignore[arg-type]


def alias_of(tenants: Tenants, model: str, auth: tuple[str, str] | None) -> httpx.Response:
    params = {"name": model, "alias": "staging"}
    return call(tenants, "GET", "/api/2.0/mlflow/registered-models/alias", auth, params=params)


def test_tenant_reads_its_own_model_only(tenants: Tenants) -> None:
    assert alias_of(tenants, "tenant-a-iris", TENANT_A).status_code == 200
    assert alias_of(tenants, "tenant-b-iris", TENANT_A).status_code == 403
    assert alias_of(tenants, "tenant-a-iris", TENANT_B).status_code == 403
    assert alias_of(tenants, "tenant-a-iris", None).status_code == 401
    assert alias_of(tenants, "tenant-a-iris", (TENANT_A[0], "wrong-password-x")).status_code == 401
    found = call(tenants, "GET", "/api/2.0/mlflow/registered-models/search", TENANT_A).json()
    assert [m["name"] for m in found["registered_models"]] == ["tenant-a-iris"]


def test_tenant_cannot_move_an_alias_or_grant_itself_more(tenants: Tenants) -> None:
    moved = call(
        tenants,
        "POST",
        "/api/2.0/mlflow/registered-models/alias",
        TENANT_A,
        json={"name": "tenant-a-iris", "alias": "production", "version": tenants.a_version},
    )
    assert moved.status_code == 403
    grabbed = call(
        tenants,
        "POST",
        "/api/3.0/mlflow/users/permissions/grant",
        TENANT_A,
        json={
            "username": TENANT_A[0],
            "resource_type": "registered_model",
            "resource_id": "tenant-b-iris",
            "permission": "READ",
        },
    )
    assert grabbed.status_code == 403
    assert alias_of(tenants, "tenant-b-iris", TENANT_A).status_code == 403


def test_tenant_cannot_download_another_tenants_artifacts(tenants: Tenants) -> None:
    experiment = call(
        tenants,
        "GET",
        "/api/2.0/mlflow/experiments/get-by-name",
        TRAINER,
        params={"experiment_name": "tenant-b"},
    ).json()["experiment"]["experiment_id"]
    listing = call(
        tenants,
        "GET",
        "/api/2.0/mlflow-artifacts/artifacts",
        TENANT_A,
        params={"path": f"{experiment}/models"},
    )
    assert listing.status_code == 403
    own = call(tenants, "GET", "/api/2.0/mlflow-artifacts/artifacts", TENANT_B,
               params={"path": f"{experiment}/models"})  # fmt: skip
    assert own.status_code == 200


def test_grant_refuses_an_experiment_shared_with_another_model(tenants: Tenants) -> None:
    from mlflow import MlflowClient

    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_USERNAME", TRAINER[0])
        env.setenv("MLFLOW_TRACKING_PASSWORD", TRAINER[1])
        MlflowClient(tenants.url).create_registered_model("shared-iris")
        # Same logged model, so its artifacts sit in tenant-a's experiment.
        copy_version(tenants.url, "tenant-a-iris", tenants.a_version, into="shared-iris")
    with pytest.raises(SharedExperimentError, match="tenant-a-iris"):
        RegistryAccess(tenants.url, *TRAINER).grant_model_read(TENANT_B[0], "shared-iris")
    assert alias_of(tenants, "tenant-a-iris", TENANT_B).status_code == 403


def service_settings(tenants: Tenants, model: str, auth: tuple[str, str]) -> dict[str, str]:
    return {
        "MODEL_URI": f"models:/{model}@staging",
        "MLFLOW_TRACKING_URI": tenants.url,
        "MLFLOW_TRACKING_USERNAME": auth[0],
        "MLFLOW_TRACKING_PASSWORD": auth[1],
        "RELOAD_INTERVAL_SECONDS": "1",
    }


def test_service_with_tenant_credentials_serves_its_model(tenants: Tenants, tmp_path: Path) -> None:
    service = start_service(service_settings(tenants, "tenant-a-iris", TENANT_A), tmp_path)
    try:
        assert service.get("/ready").json()["version"] == tenants.a_version
        response = service.post("/predict", [[5.1, 3.5, 1.4, 0.2]])
        assert response.status_code == 200, response.text
    finally:
        service.stop()


def test_service_pointed_at_another_tenants_model_never_becomes_ready(
    tenants: Tenants, tmp_path: Path
) -> None:
    service = start_service(
        service_settings(tenants, "tenant-b-iris", TENANT_A), tmp_path, wait_ready=False
    )
    try:

        def refused() -> str | None:
            body = service.get("/ready").json()
            return body.get("last_error") if "403" in (body.get("last_error") or "") else None

        reason = wait_for(refused, 60, "a 403 in /ready's last_error")
        assert "tenant-b-iris" in reason
        # Still refused after several retries, and still running.
        wait_for(lambda: "attempt 3)" in service.child.log_path.read_text(), 30, "3 attempts")
        assert service.get("/ready").status_code == 503
        assert service.child.alive()
        assert "403" in service.child.log_path.read_text()
    finally:
        service.stop()


def test_training_grants_its_tenant_read_on_what_it_trains(
    auth_registry: AuthRegistry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`python -m training train` as the trainer user leaves the tenant able to serve the new
    version: READ on the model and on the tenant's own experiment, granted by the trainer."""
    from training.lifecycle.catalog import TenantModel
    from training.lifecycle.train import train
    from training.settings import Settings

    url = auth_registry.url
    tenant = ("tenant-c", "tenant-c-password-for-tests")
    RegistryAccess(url, *ADMIN).ensure_user(*tenant)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", TRAINER[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", TRAINER[1])
    result = train(TenantModel("tenant-c", "iris", "logistic_regression"), Settings.from_env())
    RegistryAccess(url, *TRAINER).grant(
        TRAINER[0], "registered_model", result.model_name, "MANAGE"
    )  # already the creator's: a no-op that must not fail
    monkeypatch.delenv("MLFLOW_TRACKING_USERNAME")
    monkeypatch.delenv("MLFLOW_TRACKING_PASSWORD")

    service = start_service(
        {
            "MODEL_URI": f"models:/{result.model_name}/{result.version}",
            "MLFLOW_TRACKING_URI": url,
            "MLFLOW_TRACKING_USERNAME": tenant[0],
            "MLFLOW_TRACKING_PASSWORD": tenant[1],
        },
        tmp_path,
    )
    try:
        assert service.get("/ready").json()["version"] == result.version
    finally:
        service.stop()
    # ...and nothing of another tenant's.
    other = httpx.get(
        f"{url}/api/2.0/mlflow/registered-models/alias",
        params={"name": "tenant-a-iris", "alias": "staging"},
        auth=tenant,
        timeout=30,
    )
    assert other.status_code == 403


JUDGE = ("rollout-judge", "rollout-judge-password-for-tests")


def test_the_rollout_judge_manages_the_models_it_was_granted_and_no_other(
    tenants: Tenants,
) -> None:
    from tests.support.rollouts import policy_document
    from training.rollout import actions
    from training.rollout.mlflow_rest import MlflowRest, RegistryError
    from training.rollout.policy import parse_policy
    from training.rollout.state import Snapshot

    trainer = RegistryAccess(tenants.url, *TRAINER)
    with pytest.raises(MissingRegistryUser, match="registry user 'rollout-judge' does not exist"):
        trainer.grant_rollout_judge(JUDGE[0], "tenant-a-iris")  # no such user yet
    RegistryAccess(tenants.url, *ADMIN).ensure_user(*JUDGE)
    grant = trainer.grant_rollout_judge(JUDGE[0], "tenant-a-iris")
    assert (grant.resource_type, grant.permission) == ("registered_model", "MANAGE")

    judge = MlflowRest(tenants.url, *JUDGE)
    assert [m.name for m in judge.models()] == ["tenant-a-iris"]
    # What the judge does on a rollout: tags, the candidate alias, then abort (alias deleted).
    snapshot = Snapshot(parse_policy(policy_document()), "tenant-a", "tests", "")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("MLFLOW_TRACKING_USERNAME", TRAINER[0])
        env.setenv("MLFLOW_TRACKING_PASSWORD", TRAINER[1])
        candidate = copy_version(tenants.url, "tenant-a-iris", tenants.a_version)
    state = actions.start(judge, snapshot, "tenant-a-iris", candidate, tenants.a_version, "t", "")
    rollout = actions.current(judge, "tenant-a-iris", "staging")
    assert rollout is not None
    assert rollout.state == state
    actions.abort(judge, rollout, "rollout-judge", "isolation test")
    assert "staging-candidate" not in judge.model("tenant-a-iris").aliases
    with pytest.raises(RegistryError) as refused:
        judge.set_alias("tenant-b-iris", "staging-candidate", "1")
    assert refused.value.status == 403


def test_training_warns_loudly_when_the_judge_user_is_missing(
    tenants: Tenants, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A version trained while the judge's registry user is missing is registered and readable
    by its tenant, and training says on stderr that its rollouts would fail (never a silent
    skip)."""
    import dataclasses

    from training.lifecycle.catalog import TenantModel
    from training.lifecycle.train import grant_tenant_read
    from training.settings import Settings

    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", TRAINER[0])
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", TRAINER[1])
    settings = dataclasses.replace(
        Settings.from_env(), tracking_uri=tenants.url, rollout_judge_user="no-such-judge"
    )
    grant_tenant_read(settings, TenantModel("tenant-b", "iris", "logistic_regression"))
    warning = capsys.readouterr().err
    assert "WARNING: rollouts of tenant-b-iris will fail" in warning
    assert "registry user 'no-such-judge' does not exist" in warning
    assert "ensure-user --username no-such-judge" in warning

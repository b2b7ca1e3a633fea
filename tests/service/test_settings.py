from pathlib import Path

import pytest

from inference.contracts.model_uri import ModelUri
from inference.settings import Settings, SettingsError
from tests.support.servers import write_models_file

BASE = {"MODEL_URI": "models:/tenant-a-iris@staging", "MLFLOW_TRACKING_URI": "http://mlflow:5000"}


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert [m.uri for m in settings.models] == [ModelUri("tenant-a-iris", alias="staging")]
    assert settings.models_source == "MODEL_URI"
    assert settings.models[0].entry.resources == "small"
    assert settings.reload_interval_seconds == 30
    assert settings.max_rows_per_request == 1000
    assert settings.request_body_timeout_seconds == 30
    assert settings.max_json_depth == 32
    assert settings.model_cache_dir == Path("/var/cache/inference")
    assert settings.batch_enabled is True
    assert settings.port == 8080
    assert (settings.drift_enabled, settings.drift_max_features, settings.drift_max_bins) == (
        True,
        32,
        20,
    )


def test_pinned_version() -> None:
    settings = Settings.from_env({**BASE, "MODEL_URI": "models:/tenant-a-iris/7"})
    assert settings.models[0].uri == ModelUri("tenant-a-iris", version="7")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"MLFLOW_TRACKING_URI": "http://x"}, "MODEL_URI"),
        ({"MODEL_URI": "models:/m@staging"}, "MLFLOW_TRACKING_URI"),
        ({**BASE, "MODEL_URI": "runs:/abc/model"}, "MODEL_URI"),
        ({**BASE, "MLFLOW_TRACKING_URI": "mlflow:5000"}, "MLFLOW_TRACKING_URI"),
        ({**BASE, "RELOAD_INTERVAL_SECONDS": "soon"}, "RELOAD_INTERVAL_SECONDS"),
        ({**BASE, "RELOAD_INTERVAL_SECONDS": "-1"}, "RELOAD_INTERVAL_SECONDS"),
        ({**BASE, "MAX_ROWS_PER_REQUEST": "1.5"}, "MAX_ROWS_PER_REQUEST"),
        ({**BASE, "MAX_BODY_BYTES": "10"}, "MAX_BODY_BYTES"),
        ({**BASE, "REQUEST_BODY_TIMEOUT_SECONDS": "0"}, "REQUEST_BODY_TIMEOUT_SECONDS"),
        ({**BASE, "MAX_JSON_DEPTH": "7"}, "MAX_JSON_DEPTH"),
        ({**BASE, "MAX_JSON_DEPTH": "257"}, "MAX_JSON_DEPTH"),
        ({**BASE, "BATCH_ENABLED": "maybe"}, "BATCH_ENABLED"),
        ({**BASE, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
        ({**BASE, "DRIFT_ENABLED": "sometimes"}, "DRIFT_ENABLED"),
        ({**BASE, "DRIFT_MAX_FEATURES": "0"}, "DRIFT_MAX_FEATURES"),
        ({**BASE, "DRIFT_MAX_BINS": "1"}, "DRIFT_MAX_BINS"),
        ({**BASE, "MLFLOW_TRACKING_USERNAME": "tenant-a"}, "MLFLOW_TRACKING_PASSWORD"),
    ],
)
def test_bad_setting_names_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        Settings.from_env(env)


def test_json_depth_between_what_requests_need_and_what_the_parser_stands() -> None:
    assert Settings.from_env({**BASE, "MAX_JSON_DEPTH": "8"}).max_json_depth == 8
    assert Settings.from_env({**BASE, "MAX_JSON_DEPTH": "256"}).max_json_depth == 256
    with pytest.raises(SettingsError, match="MAX_JSON_DEPTH must be <= 256, got '1000'"):
        Settings.from_env({**BASE, "MAX_JSON_DEPTH": "1000"})


def test_reload_interval_zero_means_never() -> None:
    assert Settings.from_env({**BASE, "RELOAD_INTERVAL_SECONDS": "0"}).reload_interval_seconds == 0


# --- the tenant's models.yaml ---------------------------------------------------------------


def _policy(folder: Path, name: str, stable_alias: str, header: str = "x-routing-key") -> None:
    import yaml

    (folder / name).write_text(
        yaml.safe_dump(
            {
                "apiVersion": "ml-platform.example.com/v1alpha1",
                "kind": "RolloutPolicy",
                "stableAlias": stable_alias,
                "routingHeader": header,
                "steps": [{"mode": "shadow", "duration": "1m"}],
            }
        ),
        encoding="utf-8",
    )


def _files_env(models_file: Path, **extra: str) -> dict[str, str]:
    return {
        "MODELS_FILE": str(models_file),
        "MLFLOW_TRACKING_URI": "http://mlflow:5000",
        "ROLLOUT_POLICY_DIR": str(models_file.parent),
        "TENANT": "tenant-a",
        **extra,
    }


def test_a_models_file_serves_its_shared_models_with_their_policies(tmp_path: Path) -> None:
    _policy(tmp_path, "iris-rollout.yaml", "staging", "x-user")
    _policy(tmp_path, "churn-rollout.yaml", "production", "x-session")
    models_file = write_models_file(
        tmp_path,
        {"name": "tenant-a-iris", "alias": "staging", "rollout": "iris-rollout.yaml"},
        {"name": "tenant-a-churn", "alias": "production", "rollout": "churn-rollout.yaml"},
        {"name": "tenant-a-wine", "version": 3, "resources": "medium"},
        {"name": "tenant-a-big", "alias": "staging", "deployment": "dedicated"},
    )
    settings = Settings.from_env(_files_env(models_file))
    assert settings.names == ("tenant-a-iris", "tenant-a-churn", "tenant-a-wine")
    assert settings.models_source == f"MODELS_FILE {models_file}"
    iris, churn, wine = settings.models
    assert iris.rollout is not None
    assert iris.rollout.routing_header == "x-user"
    assert churn.rollout is not None
    assert churn.rollout.candidate_alias == "production-candidate"
    assert churn.rollout.routing_header == "x-session"
    assert wine.rollout is None
    assert wine.uri == ModelUri("tenant-a-wine", version="3")
    assert wine.memory_bytes == 64 * 1024 * 1024
    assert settings.model("tenant-a-big") is None  # dedicated: another Deployment serves it


def test_a_dedicated_deployment_serves_its_model_alone(tmp_path: Path) -> None:
    models_file = write_models_file(
        tmp_path,
        {"name": "tenant-a-iris", "alias": "staging"},
        {"name": "tenant-a-big", "alias": "staging", "deployment": "dedicated"},
    )
    settings = Settings.from_env(_files_env(models_file, MODEL_DEPLOYMENT="tenant-a-big"))
    assert settings.names == ("tenant-a-big",)
    assert settings.deployment == "tenant-a-big"


@pytest.mark.parametrize(
    ("models", "extra", "message"),
    [
        # A dedicated Deployment named after no dedicated model.
        (
            [{"name": "tenant-a-iris", "alias": "staging"}],
            {"MODEL_DEPLOYMENT": "tenant-a-iris"},
            r"MODEL_DEPLOYMENT: got 'tenant-a-iris', expected 'shared' or the name of a model "
            r"declared with deployment: dedicated \(none\)",
        ),
        (
            [{"name": "tenant-a-iris", "alias": "staging"}],
            {"MODEL_DEPLOYMENT": "tenant-a-nothing"},
            r"MODEL_DEPLOYMENT: got 'tenant-a-nothing'",
        ),
        # A malformed declaration names the file and the field.
        (
            [{"name": "tenant-a-iris", "alias": "staging", "replicas": 2}],
            {},
            r"MODELS_FILE '.*models.yaml': models\[0\]\.replicas: unknown field",
        ),
        (
            [{"name": "tenant-b-iris", "alias": "staging"}],
            {},
            r"MODELS_FILE .*models\[0\]\.name: got 'tenant-b-iris', expected a name starting "
            r"with tenant-a-",
        ),
        # A policy the entry names must exist and follow the entry's alias.
        (
            [{"name": "tenant-a-iris", "alias": "staging", "rollout": "missing.yaml"}],
            {},
            r"model tenant-a-iris: rollout policy '.*missing.yaml' \(ROLLOUT_POLICY_DIR\) does "
            r"not exist",
        ),
        (
            [{"name": "tenant-a-iris", "alias": "staging", "rollout": "prod.yaml"}],
            {},
            r"model tenant-a-iris: rollout policy '.*prod.yaml' \(ROLLOUT_POLICY_DIR\): "
            r"stableAlias: got 'production', expected 'staging' \(the alias its entry in "
            r"models.yaml \(models:/tenant-a-iris@staging\) follows\)",
        ),
    ],
)
def test_a_bad_declaration_stops_the_start_naming_what_is_wrong(
    tmp_path: Path, models: list[dict[str, object]], extra: dict[str, str], message: str
) -> None:
    _policy(tmp_path, "prod.yaml", "production")
    with pytest.raises(SettingsError, match=message):
        Settings.from_env(_files_env(write_models_file(tmp_path, *models), **extra))


def test_a_bad_policy_of_another_deployments_model_does_not_stop_this_one(tmp_path: Path) -> None:
    _policy(tmp_path, "prod.yaml", "production")
    models_file = write_models_file(
        tmp_path,
        {"name": "tenant-a-iris", "alias": "staging"},
        {
            "name": "tenant-a-big",
            "alias": "staging",
            "rollout": "prod.yaml",
            "deployment": "dedicated",
        },
    )
    assert Settings.from_env(_files_env(models_file)).names == ("tenant-a-iris",)
    with pytest.raises(SettingsError, match="model tenant-a-big: rollout policy"):
        Settings.from_env(_files_env(models_file, MODEL_DEPLOYMENT="tenant-a-big"))


def test_a_models_file_and_model_uri_together_are_refused_naming_both(tmp_path: Path) -> None:
    models_file = write_models_file(tmp_path, {"name": "tenant-a-iris", "alias": "staging"})
    env = _files_env(models_file, MODEL_URI="models:/tenant-a-iris@staging")
    with pytest.raises(SettingsError, match=r"MODELS_FILE '.*models.yaml' and MODEL_URI"):
        Settings.from_env(env)


def test_an_explicit_models_file_that_does_not_exist_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"MODELS_FILE '.*absent.yaml' does not exist"):
        Settings.from_env(_files_env(tmp_path / "absent.yaml"))


def test_without_models_file_or_model_uri_the_message_names_both() -> None:
    with pytest.raises(SettingsError, match=r"MODELS_FILE\) and MODEL_URI is not set"):
        Settings.from_env({"MLFLOW_TRACKING_URI": "http://x"})


def test_a_shared_deployment_may_serve_nothing_when_every_model_is_dedicated(
    tmp_path: Path,
) -> None:
    models_file = write_models_file(
        tmp_path, {"name": "tenant-a-big", "alias": "staging", "deployment": "dedicated"}
    )
    assert Settings.from_env(_files_env(models_file)).names == ()


def test_what_a_version_must_be_comes_from_the_models_file_and_the_limits(
    tmp_path: Path,
) -> None:
    plain = Settings.from_env(BASE).load_policy
    assert (plain.require_digests, plain.pickle_free) == (False, False)
    assert (plain.max_bytes, plain.max_files, plain.check_timeout_seconds) == (
        512 * 1024 * 1024,
        64,
        60,
    )
    models = write_models_file(
        tmp_path,
        {"name": "tenant-a-iris", "alias": "staging"},
        pickleFree=True,
        requireFileDigests=True,
    )
    limits = {"MODEL_MAX_MIB": "8", "MODEL_MAX_FILES": "12", "MODEL_CHECK_TIMEOUT_SECONDS": "5"}
    strict = Settings.from_env(_files_env(models, **limits)).load_policy
    assert (strict.require_digests, strict.pickle_free) == (True, True)
    assert (strict.max_bytes, strict.max_files, strict.check_timeout_seconds) == (8 << 20, 12, 5)
    # The environment can make a MODEL_URI service stricter, never a tenant's file laxer.
    tightened = Settings.from_env({**BASE, "PICKLE_FREE": "true", "REQUIRE_FILE_DIGESTS": "1"})
    assert (tightened.load_policy.pickle_free, tightened.load_policy.require_digests) == (
        True,
        True,
    )
    kept = Settings.from_env(_files_env(models, PICKLE_FREE="false")).load_policy
    assert kept.pickle_free is True


def test_a_pickle_free_tenant_cannot_force_the_pickle(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="MODEL_RUNTIME=sklearn unpickles every version"):
        Settings.from_env({**BASE, "PICKLE_FREE": "true", "MODEL_RUNTIME": "sklearn"})
    with pytest.raises(SettingsError, match="MODEL_MAX_FILES must be >= 2"):
        Settings.from_env({**BASE, "MODEL_MAX_FILES": "1"})

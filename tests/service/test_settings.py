from pathlib import Path

import pytest

from inference.contracts.model_uri import ModelUri
from inference.settings import Settings, SettingsError

BASE = {"MODEL_URI": "models:/tenant-a-iris@staging", "MLFLOW_TRACKING_URI": "http://mlflow:5000"}


def test_defaults() -> None:
    settings = Settings.from_env(BASE)
    assert settings.model == ModelUri("tenant-a-iris", alias="staging")
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
    assert settings.model == ModelUri("tenant-a-iris", version="7")


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

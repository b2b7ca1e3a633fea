"""`python -m training.registry_access`: bad input exits 2 with a message, no traceback."""

from __future__ import annotations

import pytest

from tests.support.servers import free_port
from training.registry_access import RegistryAccess, main

CONNECTION = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


@pytest.fixture
def no_connection(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (*CONNECTION, "REGISTRY_USER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_connection")
def test_missing_connection_settings_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["grant-read", "--username", "tenant-a", "--model", "tenant-a-iris"]) == 2
    assert "MLFLOW_TRACKING_URI" in capsys.readouterr().err


def test_ensure_user_needs_the_password_from_the_environment(
    no_connection: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in CONNECTION:
        monkeypatch.setenv(name, "http://127.0.0.1:1" if name.endswith("URI") else "admin")
    assert main(["ensure-user", "--username", "tenant-a"]) == 2
    assert "REGISTRY_USER_PASSWORD" in capsys.readouterr().err


def test_short_password_is_refused_before_any_call(
    no_connection: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in CONNECTION:
        monkeypatch.setenv(name, "http://127.0.0.1:1" if name.endswith("URI") else "admin")
    monkeypatch.setenv("REGISTRY_USER_PASSWORD", "short")
    assert main(["ensure-user", "--username", "tenant-a"]) == 2
    assert "at least 12 characters" in capsys.readouterr().err


def test_unreachable_registry_exits_1(
    no_connection: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", "admin-password-x")
    assert main(["grant-read", "--username", "tenant-a", "--model", "tenant-a-iris"]) == 1
    assert "not reachable" in capsys.readouterr().err


def test_unknown_permission_is_refused() -> None:
    with pytest.raises(ValueError, match="one of READ"):
        RegistryAccess("http://127.0.0.1:1", "admin", "x").grant("u", "experiment", "1", "ALL")

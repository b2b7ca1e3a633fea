"""Every setting of the judge, read from the environment in one place."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class JudgeSettings:
    tracking_uri: str
    username: str | None
    password: str | None
    prometheus_url: str
    # Seconds between two rounds over the registry (each evaluates every active rollout).
    interval_seconds: float
    # Where /metrics and /healthz listen; 0 turns the listener off.
    host: str
    metrics_port: int
    # The scrape job of the services' series (the ServiceMonitor names it after the Service).
    scrape_job: str
    # Only these registered models (comma-separated); empty: every model the user may read.
    models: tuple[str, ...]
    log_level: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> JudgeSettings:
        env = os.environ if env is None else env

        def text(name: str, default: str | None = None) -> str:
            value = env.get(name, "").strip()
            if value:
                return value
            if default is None:
                raise SettingsError(f"{name} is required but not set")
            return default

        def number(name: str, default: float, minimum: float) -> float:
            raw = env.get(name, "").strip()
            try:
                value = float(raw) if raw else default
            except ValueError:
                raise SettingsError(f"{name} must be a number, got {raw!r}") from None
            if value < minimum:
                raise SettingsError(f"{name} must be >= {minimum:g}, got {raw!r}")
            return value

        username = env.get("MLFLOW_TRACKING_USERNAME", "").strip() or None
        password = env.get("MLFLOW_TRACKING_PASSWORD", "").strip() or None
        if (username is None) != (password is None):
            raise SettingsError(
                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD must be set together"
            )
        for name in ("MLFLOW_TRACKING_URI", "PROMETHEUS_URL"):
            if not text(name).startswith(("http://", "https://")):
                raise SettingsError(f"{name} must be an http(s):// URL, got {text(name)!r}")
        port = number("JUDGE_METRICS_PORT", 9110, 0)
        if port != int(port) or port > 65535:
            raise SettingsError(f"JUDGE_METRICS_PORT must be a port number, got {port:g}")
        level = text("LOG_LEVEL", "INFO").upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise SettingsError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level!r}")
        return cls(
            tracking_uri=text("MLFLOW_TRACKING_URI"),
            username=username,
            password=password,
            prometheus_url=text("PROMETHEUS_URL"),
            interval_seconds=number("JUDGE_INTERVAL_SECONDS", 30, 0.1),
            host=text("JUDGE_HOST", "0.0.0.0"),
            metrics_port=int(port),
            scrape_job=text("JUDGE_SCRAPE_JOB", "inference-service"),
            models=tuple(m.strip() for m in env.get("JUDGE_MODELS", "").split(",") if m.strip()),
            log_level=level,
        )

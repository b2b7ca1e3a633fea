"""Every setting of the service, read from environment variables in one place.

A missing or malformed value stops the start with a message naming the variable.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from inference.contracts.model_uri import ModelUri, ModelUriError
from inference.contracts.mounted_policy import PolicyFileError, RolloutConfig, read_rollout_config


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


_RUNTIMES = ("auto", "sklearn", "onnx")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Where the Deployment mounts the ConfigMap rollout-policy (optional: absent = no policy).
DEFAULT_ROLLOUT_POLICY_FILE = "/etc/inference/rollout/rollout.yaml"


class _Reader:
    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def text(self, name: str, default: str | None = None) -> str:
        value = self.env.get(name, "").strip()
        if value:
            return value
        if default is None:
            raise SettingsError(f"{name} is required but not set")
        return default

    def optional(self, name: str) -> str | None:
        return self.env.get(name, "").strip() or None

    def number(
        self,
        name: str,
        default: float,
        *,
        minimum: float,
        maximum: float | None = None,
        kind: type = float,
    ) -> float:
        raw = self.env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = kind(raw)
        except ValueError:
            expected = "an integer" if kind is int else "a number"
            raise SettingsError(f"{name} must be {expected}, got {raw!r}") from None
        if value < minimum:
            raise SettingsError(f"{name} must be >= {minimum}, got {raw!r}")
        if maximum is not None and value > maximum:
            raise SettingsError(f"{name} must be <= {maximum}, got {raw!r}")
        return value

    def flag(self, name: str, default: bool) -> bool:
        raw = self.env.get(name, "").strip().lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        raise SettingsError(f"{name} must be true or false, got {raw!r}")


@dataclass(frozen=True)
class Settings:
    model: ModelUri
    tracking_uri: str
    tracking_username: str | None
    tracking_password: str | None
    reload_interval_seconds: float
    tenant: str
    model_cache_dir: Path
    max_rows_per_request: int
    max_body_bytes: int
    request_body_timeout_seconds: float
    # Arrays and objects in a request body nest at most this deep (inference/api/json_rules.py).
    max_json_depth: int
    log_level: str
    shutdown_grace_seconds: float
    batch_enabled: bool
    batch_max_rows: int
    batch_max_wait_seconds: float
    queue_max_requests: int
    host: str
    port: int
    # auto: the version's ONNX model when it passed training's equivalence gate, else the
    # scikit-learn pickle; sklearn: always the pickle; onnx: refuse a version without one.
    model_runtime: str = "auto"
    # The tenant's rollout policy (ROLLOUT_POLICY_FILE, docs/rollouts.md); None: no rollouts.
    rollout: RolloutConfig | None = None
    # Requests whose rows may wait for the candidate in shadow mode; more are skipped, counted.
    shadow_queue_max_requests: int = 64
    # Drift monitoring (inference/monitoring/drift.py): count rows per feature bin against the
    # version's reference. The caps bound the series per pod and metric to
    # drift_max_features x (drift_max_bins + 1).
    drift_enabled: bool = True
    drift_max_features: int = 32
    drift_max_bins: int = 20

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings in `env` (default: the process environment), every value checked."""
        read = _Reader(os.environ if env is None else env)

        model_uri = read.text("MODEL_URI")
        try:
            model = ModelUri.parse(model_uri)
        except ModelUriError as exc:
            raise SettingsError(f"MODEL_URI: {exc}") from None

        tracking_uri = read.text("MLFLOW_TRACKING_URI")
        if not re.match(r"^(https?|file|sqlite|databricks)[:+]", tracking_uri):
            raise SettingsError(
                "MLFLOW_TRACKING_URI must be the http(s):// URL of an MLflow server, "
                f"got {tracking_uri!r}"
            )
        username = read.optional("MLFLOW_TRACKING_USERNAME")
        password = read.optional("MLFLOW_TRACKING_PASSWORD")
        if (username is None) != (password is None):
            raise SettingsError(
                "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD must be set together"
            )

        runtime = read.text("MODEL_RUNTIME", "auto").lower()
        if runtime not in _RUNTIMES:
            raise SettingsError(
                f"MODEL_RUNTIME must be one of {', '.join(_RUNTIMES)}, got {runtime!r}"
            )

        log_level = read.text("LOG_LEVEL", "INFO").upper()
        if log_level not in _LOG_LEVELS:
            raise SettingsError(
                f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, got {log_level!r}"
            )

        policy_file = Path(read.text("ROLLOUT_POLICY_FILE", DEFAULT_ROLLOUT_POLICY_FILE))
        try:
            rollout = read_rollout_config(policy_file, model.alias)
        except PolicyFileError as exc:
            raise SettingsError(f"ROLLOUT_POLICY_FILE {str(policy_file)!r}: {exc}") from None

        return cls(
            model=model,
            tracking_uri=tracking_uri,
            tracking_username=username,
            tracking_password=password,
            reload_interval_seconds=read.number("RELOAD_INTERVAL_SECONDS", 30.0, minimum=0),
            tenant=read.text("TENANT", "default"),
            model_cache_dir=Path(read.text("MODEL_CACHE_DIR", "/var/cache/inference")),
            max_rows_per_request=int(
                read.number("MAX_ROWS_PER_REQUEST", 1000, minimum=1, kind=int)
            ),
            max_body_bytes=int(read.number("MAX_BODY_BYTES", 1_048_576, minimum=1024, kind=int)),
            request_body_timeout_seconds=read.number(
                "REQUEST_BODY_TIMEOUT_SECONDS", 30.0, minimum=1
            ),
            # Every accepted request nests at most 5 levels (a v2 tensor's nested rows); the
            # ceiling keeps the parser, which recurses once per level, far from the
            # interpreter's recursion limit (1000).
            max_json_depth=int(read.number("MAX_JSON_DEPTH", 32, minimum=8, maximum=256, kind=int)),
            log_level=log_level,
            shutdown_grace_seconds=read.number("SHUTDOWN_GRACE_SECONDS", 20.0, minimum=0),
            batch_enabled=read.flag("BATCH_ENABLED", True),
            # A scikit-learn call costs about the same for 1 or 1000 rows (RandomForest(100):
            # 10-14 ms here), so a batch may hold a whole maximal request plus a few small ones.
            batch_max_rows=int(read.number("BATCH_MAX_ROWS", 1024, minimum=1, kind=int)),
            batch_max_wait_seconds=read.number("BATCH_MAX_WAIT_MS", 2.0, minimum=0) / 1000.0,
            queue_max_requests=int(read.number("QUEUE_MAX_REQUESTS", 512, minimum=1, kind=int)),
            host=read.text("HOST", "0.0.0.0"),
            port=int(read.number("PORT", 8080, minimum=1, kind=int)),
            model_runtime=runtime,
            rollout=rollout,
            shadow_queue_max_requests=int(
                read.number("ROLLOUT_SHADOW_QUEUE", 64, minimum=1, kind=int)
            ),
            drift_enabled=read.flag("DRIFT_ENABLED", True),
            drift_max_features=int(read.number("DRIFT_MAX_FEATURES", 32, minimum=1, kind=int)),
            drift_max_bins=int(read.number("DRIFT_MAX_BINS", 20, minimum=2, kind=int)),
        )

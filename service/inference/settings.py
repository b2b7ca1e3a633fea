"""Every setting of the service, read from environment variables in one place.

A missing or malformed value stops the start with a message naming the variable.

What the service serves comes from one of two places, never both: the tenant's models.yaml
(MODELS_FILE, mounted from the ConfigMap `tenant-models`; MODEL_DEPLOYMENT picks the entries
this Deployment serves, ROLLOUT_POLICY_DIR holds the policy files they name), or MODEL_URI for
one model (development, tests, the bench), whose policy is ROLLOUT_POLICY_FILE.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from inference.contracts.model_uri import ModelUri, ModelUriError
from inference.contracts.mounted_policy import PolicyFileError, RolloutConfig, read_rollout_config
from inference.contracts.tenant_models import (
    SHARED,
    ModelEntry,
    ModelsError,
    TenantModels,
    load_file,
    one_model,
)

MIB = 1024 * 1024


@dataclass(frozen=True)
class LoadPolicy:
    """The rules every version of a served model is loaded under (docs/serving.md, "What a
    version must be"); applied by inference/models/load_policy.py."""

    # Refuse a version that records no file digests (TenantModels requireFileDigests).
    require_digests: bool = False
    # Serve only versions whose ONNX gate passed; never unpickle (TenantModels pickleFree).
    pickle_free: bool = False
    # The most one version's downloaded files may add up to, and how many it may have.
    max_bytes: int = 512 * MIB
    max_files: int = 64
    # The longest loading a version and its self-check may take before it is refused.
    check_timeout_seconds: float = 60.0


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable."""


_RUNTIMES = ("auto", "sklearn", "onnx")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
# Where the Deployment mounts the ConfigMap rollout-policy (optional: absent = no policy).
DEFAULT_ROLLOUT_POLICY_DIR = "/etc/inference/rollout"
DEFAULT_ROLLOUT_POLICY_FILE = f"{DEFAULT_ROLLOUT_POLICY_DIR}/rollout.yaml"
# Where the Deployment mounts the ConfigMap tenant-models (the tenant's models.yaml).
DEFAULT_MODELS_FILE = "/etc/inference/models/models.yaml"


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
class ModelSettings:
    """One model this Deployment serves: its declaration and its rollout policy, if any."""

    entry: ModelEntry
    # Its rollout policy (docs/rollouts.md); None: promotions move every replica at once.
    rollout: RolloutConfig | None = None

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def uri(self) -> ModelUri:
        return self.entry.uri

    @property
    def memory_bytes(self) -> int:
        """The most one loaded version may measure (its resource class)."""
        return self.entry.memory_bytes


@dataclass(frozen=True)
class Settings:
    # The models this Deployment serves, in declaration order (at least one).
    models: tuple[ModelSettings, ...]
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
    # Where the models came from, for messages: "MODEL_URI" or "MODELS_FILE <path>".
    models_source: str = "MODEL_URI"
    # MODEL_DEPLOYMENT: "shared", or the dedicated model this Deployment serves alone.
    deployment: str = SHARED
    # What a version must be before it is loaded (inference/models/load_policy.py): the
    # tenant's switches from models.yaml (or REQUIRE_FILE_DIGESTS / PICKLE_FREE, which can
    # only make them stricter) and the limits on one version.
    load_policy: LoadPolicy = field(default_factory=LoadPolicy)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(model.name for model in self.models)

    def model(self, name: str) -> ModelSettings | None:
        return next((model for model in self.models if model.name == name), None)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings in `env` (default: the process environment), every value checked."""
        read = _Reader(os.environ if env is None else env)

        models, source, deployment, declared = _read_models(read)

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

        load_policy = LoadPolicy(
            require_digests=declared.require_file_digests
            or read.flag("REQUIRE_FILE_DIGESTS", False),
            pickle_free=declared.pickle_free or read.flag("PICKLE_FREE", False),
            max_bytes=int(read.number("MODEL_MAX_MIB", 512, minimum=1, kind=int)) * MIB,
            max_files=int(read.number("MODEL_MAX_FILES", 64, minimum=2, kind=int)),
            check_timeout_seconds=read.number("MODEL_CHECK_TIMEOUT_SECONDS", 60.0, minimum=0.1),
        )
        if load_policy.pickle_free and runtime == "sklearn":
            raise SettingsError(
                "MODEL_RUNTIME=sklearn unpickles every version, but this tenant is pickle-free "
                "(pickleFree in models.yaml, or PICKLE_FREE): unset MODEL_RUNTIME"
            )

        log_level = read.text("LOG_LEVEL", "INFO").upper()
        if log_level not in _LOG_LEVELS:
            raise SettingsError(
                f"LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}, got {log_level!r}"
            )

        return cls(
            models=models,
            models_source=source,
            deployment=deployment,
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
            shadow_queue_max_requests=int(
                read.number("ROLLOUT_SHADOW_QUEUE", 64, minimum=1, kind=int)
            ),
            drift_enabled=read.flag("DRIFT_ENABLED", True),
            drift_max_features=int(read.number("DRIFT_MAX_FEATURES", 32, minimum=1, kind=int)),
            drift_max_bins=int(read.number("DRIFT_MAX_BINS", 20, minimum=2, kind=int)),
            load_policy=load_policy,
        )


def _read_models(
    read: _Reader,
) -> tuple[tuple[ModelSettings, ...], str, str, TenantModels]:
    """(the models this Deployment serves, where they are declared, MODEL_DEPLOYMENT, the
    whole declaration)."""
    model_uri = read.optional("MODEL_URI")
    explicit_file = read.optional("MODELS_FILE")
    models_file = Path(explicit_file or DEFAULT_MODELS_FILE)
    deployment = read.text("MODEL_DEPLOYMENT", SHARED)
    if model_uri is not None and (explicit_file is not None or models_file.is_file()):
        raise SettingsError(
            f"MODELS_FILE {str(models_file)!r} and MODEL_URI {model_uri!r} both declare what "
            "to serve: keep the models file (one entry per model) and unset MODEL_URI, or "
            "serve one model with MODEL_URI alone"
        )
    if model_uri is not None:
        try:
            declared = one_model(ModelUri.parse(model_uri))
        except ModelUriError as exc:
            raise SettingsError(f"MODEL_URI: {exc}") from None
        served = _served_by(declared, deployment)
        policy_file = Path(read.text("ROLLOUT_POLICY_FILE", DEFAULT_ROLLOUT_POLICY_FILE))
        try:
            rollout = read_rollout_config(policy_file, served[0].alias)
        except PolicyFileError as exc:
            raise SettingsError(f"ROLLOUT_POLICY_FILE {str(policy_file)!r}: {exc}") from None
        return (ModelSettings(served[0], rollout),), "MODEL_URI", deployment, declared
    if not models_file.is_file():
        raise SettingsError(
            f"MODELS_FILE {str(models_file)!r} does not exist"
            if explicit_file is not None
            else f"nothing to serve: no models file at {str(models_file)!r} (MODELS_FILE) and "
            "MODEL_URI is not set"
        )
    # The tenant's names carry its prefix; checked when TENANT says which tenant this is.
    tenant = read.optional("TENANT")
    try:
        declared = load_file(models_file, tenant)
    except ModelsError as exc:
        raise SettingsError(f"MODELS_FILE {str(models_file)!r}: {exc}") from None
    policy_dir = Path(read.text("ROLLOUT_POLICY_DIR", DEFAULT_ROLLOUT_POLICY_DIR))
    models = tuple(
        ModelSettings(entry, _entry_policy(entry, policy_dir))
        for entry in _served_by(declared, deployment)
    )
    return models, f"MODELS_FILE {models_file}", deployment, declared


def _served_by(declared: TenantModels, deployment: str) -> tuple[ModelEntry, ...]:
    try:
        return declared.served_by(deployment)
    except ModelsError as exc:  # its message starts with MODEL_DEPLOYMENT
        raise SettingsError(str(exc)) from None


def _entry_policy(entry: ModelEntry, policy_dir: Path) -> RolloutConfig | None:
    """The policy a served entry names, read as the service reads any: a named file that is
    missing or wrong stops the start. Only served entries are read, so a dedicated model's
    bad policy never stops the shared Deployment (and the other way round)."""
    if entry.rollout is None:
        return None
    path = policy_dir / entry.rollout
    where = f"model {entry.name}: rollout policy {str(path)!r} (ROLLOUT_POLICY_DIR)"
    if not path.is_file():
        raise SettingsError(f"{where} does not exist; its entry names {entry.rollout!r}")
    try:
        return read_rollout_config(path, entry.alias, f"its entry in models.yaml ({entry.uri})")
    except PolicyFileError as exc:
        raise SettingsError(f"{where}: {exc}") from None

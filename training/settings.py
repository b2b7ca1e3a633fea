"""Every setting of the training tools, read from the environment in one place."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from training.errors import UsageError

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_TRACKING_URI = "http://127.0.0.1:5000"


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r}: expected a number") from None


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise UsageError(f"{name}={raw!r}: expected an integer") from None


@dataclass(frozen=True)
class DriftSettings:
    """The drift reference recorded with every version (training/lifecycle/reference_stats.py)."""

    # Quantile bins per numeric feature, values per categorical one (the last is "other"),
    # buckets per text feature; every feature has one more bin for missing values.
    bins: int = 10
    # Features monitored: the most important ones (Prometheus series grow with features x bins).
    max_features: int = 32
    # The fewest rows an alert window must hold; the chance levels are computed at this size.
    window_rows: int = 300
    bootstrap_samples: int = 1000


@dataclass(frozen=True)
class Settings:
    tracking_uri: str
    # Each tenant trains into `<prefix>/<tenant>`: MLflow authorizes artifact reads per
    # experiment, so a shared experiment would let one tenant read another's models.
    experiment_prefix: str
    # Largest drop in accuracy or macro F1 (absolute, 0..1) the gate accepts.
    tolerance: float
    split_seed: int
    test_size: float
    # Entries kept per alias in the registered model's `alias_history.<alias>` tag.
    history_limit: int
    # Seconds to wait for the tracking server before calling it unreachable.
    connect_timeout: float
    tenants_file: Path
    # Where overlays/<cluster>/tenants/ is read from (`seed`, `status`, `rollout start`); the
    # repository by default.
    overlays_root: Path
    # Aliases `promote` may move; `staging` is what Kind serves, `production` what EKS serves.
    aliases: tuple[str, ...]
    # Largest absolute probability difference the ONNX equivalence gate accepts between the
    # ONNX model (float32) and the scikit-learn pipeline (float64) on the same rows. float32
    # keeps ~7 significant digits (machine epsilon 6e-8), and rounding accumulates over a
    # scaler, a dot product, a softmax or a sum over 100 trees to 1e-7..1e-6 on this
    # repository's datasets; 1e-5 leaves ten times that as headroom while a real conversion
    # error (a dropped step, classes out of order) differs by 1e-3 or more.
    onnx_tolerance: float
    # The registry user of the rollout judge, granted MANAGE on every model `train` registers
    # when the registry has basic auth (TRAINING_ROLLOUT_JUDGE_USER; empty: no grant).
    rollout_judge_user: str = "rollout-judge"
    # Basic auth for the REST calls of `rollout` (MLflow's client reads the same variables).
    tracking_username: str | None = None
    tracking_password: str | None = None
    drift: DriftSettings = DriftSettings()
    # Team models whose training code the repository bundles (`seed-examples`, `make up`).
    examples_file: Path = REPO_ROOT / "training" / "examples" / "examples.yaml"

    @classmethod
    def from_env(cls) -> Settings:
        tolerance = _float("TRAINING_TOLERANCE", 0.01)
        test_size = _float("TRAINING_TEST_SIZE", 0.25)
        if not 0 <= tolerance < 1:
            raise UsageError(f"TRAINING_TOLERANCE={tolerance}: expected 0 <= value < 1")
        if not 0 < test_size < 1:
            raise UsageError(f"TRAINING_TEST_SIZE={test_size}: expected 0 < value < 1")
        onnx_tolerance = _float("TRAINING_ONNX_TOLERANCE", 1e-5)
        if not 0 <= onnx_tolerance < 1:
            raise UsageError(f"TRAINING_ONNX_TOLERANCE={onnx_tolerance}: expected 0 <= value < 1")
        return cls(
            tracking_uri=os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI,
            experiment_prefix=os.environ.get("TRAINING_EXPERIMENT_PREFIX", "tenant-models"),
            tolerance=tolerance,
            split_seed=_int("TRAINING_SPLIT_SEED", 42),
            test_size=test_size,
            history_limit=_int("TRAINING_HISTORY_LIMIT", 20),
            connect_timeout=_float("TRAINING_CONNECT_TIMEOUT", 3.0),
            tenants_file=Path(
                os.environ.get("TRAINING_TENANTS_FILE", REPO_ROOT / "training" / "tenants.yaml")
            ),
            overlays_root=Path(os.environ.get("TRAINING_OVERLAYS_ROOT", REPO_ROOT)),
            aliases=tuple(
                a.strip()
                for a in os.environ.get("TRAINING_ALIASES", "staging,production").split(",")
                if a.strip()
            ),
            onnx_tolerance=onnx_tolerance,
            rollout_judge_user=os.environ.get("TRAINING_ROLLOUT_JUDGE_USER", "rollout-judge"),
            tracking_username=os.environ.get("MLFLOW_TRACKING_USERNAME") or None,
            tracking_password=os.environ.get("MLFLOW_TRACKING_PASSWORD") or None,
            drift=_drift_settings(),
            examples_file=Path(
                os.environ.get(
                    "TRAINING_EXAMPLES_FILE", REPO_ROOT / "training" / "examples" / "examples.yaml"
                )
            ),
        )


# field of DriftSettings -> (variable, lowest, highest). Two bins are the fewest that can show a
# shift; the service exports at most DRIFT_MAX_BINS (default 20) bins per feature.
_DRIFT_VARIABLES = {
    "bins": ("TRAINING_DRIFT_BINS", 2, 64),
    "max_features": ("TRAINING_DRIFT_MAX_FEATURES", 1, 256),
    "window_rows": ("TRAINING_DRIFT_WINDOW_ROWS", 10, 10_000_000),
    "bootstrap_samples": ("TRAINING_DRIFT_BOOTSTRAP_SAMPLES", 100, 100_000),
}


def _drift_settings() -> DriftSettings:
    defaults = DriftSettings()
    values = {}
    for field, (variable, lowest, highest) in _DRIFT_VARIABLES.items():
        value = _int(variable, getattr(defaults, field))
        if not lowest <= value <= highest:
            raise UsageError(f"{variable}={value}: expected {lowest} <= value <= {highest}")
        values[field] = value
    return DriftSettings(**values)


@dataclass(frozen=True)
class LocalPlatformSettings:
    """The `up` command: where the local registry and services run."""

    run_dir: Path
    mlflow_port: int
    base_port: int
    reload_interval_seconds: int
    cluster: str
    # s3://bucket/prefix when MLFLOW_S3_ENDPOINT_URL is set; a local folder otherwise.
    artifacts_destination: str | None
    ready_timeout: float
    # 0 turns the local Prometheus off.
    prometheus_port: int
    scrape_interval: str
    # The rollout judge (needs Prometheus): its metrics port (0 turns it off) and how often
    # it evaluates the rollouts.
    judge_port: int = 9110
    judge_interval_seconds: float = 5.0

    @classmethod
    def from_env(cls) -> LocalPlatformSettings:
        return cls(
            run_dir=Path(os.environ.get("UP_RUN_DIR", REPO_ROOT / ".run" / "local")),
            mlflow_port=_int("UP_MLFLOW_PORT", 5000),
            base_port=_int("UP_BASE_PORT", 8081),
            reload_interval_seconds=_int("UP_RELOAD_INTERVAL_SECONDS", 5),
            cluster=os.environ.get("UP_CLUSTER", "kind"),
            artifacts_destination=os.environ.get("MLFLOW_ARTIFACTS_DESTINATION") or None,
            ready_timeout=_float("UP_READY_TIMEOUT", 180.0),
            prometheus_port=_int("UP_PROMETHEUS_PORT", 9090),
            scrape_interval=os.environ.get("UP_SCRAPE_INTERVAL", "5s"),
            judge_port=_int("UP_JUDGE_PORT", 9110),
            judge_interval_seconds=_float("UP_JUDGE_INTERVAL_SECONDS", 5.0),
        )

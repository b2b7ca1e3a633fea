"""`python -m training up`: the platform on one machine. Starts MLflow; for every model each
tenant's models.yaml declares on the chosen cluster (UP_CLUSTER) registers a version (the
catalog's models trained, a bundled team example's registered by the team's own script, each
reusing a version of the same code and data) and promotes it to the alias the declaration
follows; starts one inference service per tenant serving its models.yaml as the cluster mounts
it, checks every model answers on its own paths, then Prometheus scraping the services and the
rollout judge reading it."""

from __future__ import annotations

import argparse
import signal
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from types import FrameType

from gitops.tree.tenant_models import models_file
from inference.contracts.model_uri import ModelUri
from training import output
from training.errors import OperationError, UsageError, one_of
from training.lifecycle import registry
from training.lifecycle.catalog import TenantModel, load_catalog
from training.lifecycle.overlays import cluster_tenants
from training.lifecycle.team_examples import TeamExample, load_examples
from training.local_platform import (
    ports,
    processes,
    prometheus_server,
    registry_server,
    rollout_judge,
)
from training.local_platform.inference_services import LocalService
from training.local_platform.prometheus_server import LocalPrometheus, ScrapeTarget
from training.rollout.policy import FILE_NAME as POLICY_FILE
from training.settings import REPO_ROOT, LocalPlatformSettings, Settings


class _Stop(Exception):
    """SIGINT/SIGTERM arrived: unwind and stop the children."""


@dataclass(frozen=True)
class PlannedModel:
    """One declared model and what registers its versions: training's catalog, or a team
    example of the repository (exactly one of the two)."""

    uri: ModelUri  # models:/<name>@<alias> or /<version>, as the declaration follows
    catalog: TenantModel | None = None
    example: TeamExample | None = None

    @property
    def name(self) -> str:
        return self.uri.name


@dataclass(frozen=True)
class PlannedTenant:
    tenant: str
    # The tenant's overlay folder: its models.yaml is the service's MODELS_FILE and the folder
    # its ROLLOUT_POLICY_DIR, as the ConfigMaps tenant-models and rollout-policy are mounted.
    overlay: Path
    models: tuple[PlannedModel, ...]
    port: int

    @property
    def models_file(self) -> Path:
        return models_file(self.overlay)

    @property
    def has_policy(self) -> bool:
        return (self.overlay / POLICY_FILE).is_file()


def _local_settings(args: argparse.Namespace) -> LocalPlatformSettings:
    local = LocalPlatformSettings.from_env()
    overrides = {
        "run_dir": args.run_dir,
        "mlflow_port": args.mlflow_port,
        "base_port": args.base_port,
        "cluster": args.cluster,
        "prometheus_port": getattr(args, "prometheus_port", None),
    }
    return replace(local, **{k: v for k, v in overrides.items() if v is not None})


def plan(
    local: LocalPlatformSettings,
    catalog: dict[str, TenantModel],
    examples: dict[str, TeamExample] | None = None,
) -> list[PlannedTenant]:
    """The tenants the cluster's overlays declare, each declared model matched with what
    registers it: the tenant's catalog model (training/tenants.yaml) or a team example of
    the tenant (training/examples/examples.yaml). Anything else is bad input: its service
    would never be ready."""
    overlays = cluster_tenants(local.cluster)
    if not overlays:
        raise UsageError(
            f"no tenant overlays under overlays/{local.cluster}/tenants/ "
            "(folders with kustomization.yaml and models.yaml); set --cluster or UP_CLUSTER"
        )
    examples = examples or {}
    planned = []
    for index, overlay in enumerate(overlays):
        if overlay.tenant not in catalog:
            raise UsageError(
                f"{overlay.path}: {one_of('tenant', overlay.tenant, list(catalog))} "
                "in training/tenants.yaml; add it there"
            )
        entry = catalog[overlay.tenant]
        models = []
        for declared in overlay.declaration().models:
            example = examples.get(declared.name)
            if declared.name == entry.model_name:
                models.append(PlannedModel(declared.uri, catalog=entry))
            elif example is not None and example.tenant == overlay.tenant:
                models.append(PlannedModel(declared.uri, example=example))
            else:
                raise UsageError(
                    f"{overlay.models_file}: declares {declared.name}, which make up cannot "
                    f"register: training/tenants.yaml trains {entry.model_name} for "
                    f"{overlay.tenant}, and no team example of training/examples/examples.yaml "
                    "registers it"
                )
        planned.append(
            PlannedTenant(overlay.tenant, overlay.path, tuple(models), local.base_port + index)
        )
    return planned


def _check_ports(local: LocalPlatformSettings, planned: list[PlannedTenant]) -> None:
    ports.require_free(
        local.mlflow_port, "MLflow", "choose another with --mlflow-port or UP_MLFLOW_PORT"
    )
    if local.prometheus_port:
        ports.require_free(
            local.prometheus_port,
            "Prometheus",
            "choose another with --prometheus-port or UP_PROMETHEUS_PORT (0 turns it off)",
        )
    if local.prometheus_port and local.judge_port:
        ports.require_free(
            local.judge_port,
            "rollout judge",
            "choose another with UP_JUDGE_PORT (0 turns the judge off)",
        )
    for tenant in planned:
        ports.require_free(
            tenant.port,
            f"inference service of {tenant.tenant}",
            "choose another first port with --base-port or UP_BASE_PORT "
            f"(tenants use {planned[0].port}..{planned[-1].port})",
        )


def _reusable_version(client, entry: TenantModel, settings: Settings) -> str | None:
    """The newest version trained from the same code, data and split, if any."""
    from training.lifecycle.train import fingerprint

    wanted = fingerprint(entry, settings)
    found = registry.versions(client, entry.model_name)
    matching = [v for v in found if v.tags.get("training_fingerprint") == wanted]
    return matching[-1].version if matching else None


def _import_heavy_modules() -> None:
    import mlflow.sklearn  # noqa: F401
    import onnxruntime  # noqa: F401
    import skl2onnx  # noqa: F401
    import sklearn.ensemble
    import sklearn.linear_model  # noqa: F401


def _handle_signals() -> dict[int, object]:
    def stop(signum: int, _frame: FrameType | None) -> None:
        raise _Stop(signal.Signals(signum).name)

    previous = {}
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, signal.SIGTERM):
            previous[signum] = signal.signal(signum, stop)
    return previous


def run_up(args: argparse.Namespace, settings: Settings) -> int:
    local = _local_settings(args)
    catalog = load_catalog(settings.tenants_file)
    planned = plan(local, catalog, load_examples(settings.examples_file))
    _check_ports(local, planned)
    progress = output.Progress()
    server = None
    prometheus = None
    judge: processes.Child | None = None
    services: list[LocalService] = []
    previous_handlers = _handle_signals()
    try:
        # Importing MLflow, scikit-learn and skl2onnx takes ~10 s; overlap it with the server start.
        registry.configure_mlflow(settings)
        warm_up = threading.Thread(target=_import_heavy_modules, daemon=True)
        warm_up.start()
        with progress.step(f"starting MLflow on 127.0.0.1:{local.mlflow_port}"):
            server = registry_server.start(
                local.run_dir / "mlflow", local.mlflow_port, local.artifacts_destination
            )
        destination = server.artifacts_destination
        if not destination.startswith("s3://"):
            destination = output.shown_path(destination)
        progress.note(f"MLflow at {server.url}, artifacts in {destination}")
        settings = replace(settings, tracking_uri=server.url)
        warm_up.join()
        client = registry.connect(settings)
        versions = _register_models(client, settings, planned, args.retrain, progress)
        services = _start_services(server.url, local, planned, progress)
        rows = _sample_predictions(planned, versions, services)
        output.table(
            f"{len(services)} tenant(s) serving {len(rows)} model(s) "
            f"(cluster overlays: {local.cluster})",
            ["tenant", "model", "version", "serves", "URL", "sample prediction", "v2"],
            rows,
        )
        prometheus = _start_prometheus(local, services, progress)
        if prometheus is not None and local.judge_port:
            with progress.step(f"starting the rollout judge on 127.0.0.1:{local.judge_port}"):
                judge = rollout_judge.start(
                    server.url,
                    prometheus.url,
                    local.judge_port,
                    local.judge_interval_seconds,
                    local.run_dir,
                )
            with_policy = [t.tenant for t in planned if t.has_policy]
            progress.note(
                f"rollout judge every {local.judge_interval_seconds:g}s; tenants with a rollout "
                f"policy: {', '.join(with_policy) or 'none'} (docs/rollouts.md)"
            )
        logs = output.shown_path(local.run_dir / "logs")
        progress.note(f"logs in {logs}, registry UI at {server.url}")
        if args.once:
            return 0
        progress.note("running; Ctrl-C stops the services and MLflow")
        _watch(services, judge)
        return 1
    except _Stop as stop:
        progress.note(f"{stop}: stopping")
        return 0
    except RuntimeError as error:
        raise OperationError(str(error)) from None
    finally:
        # Stopping must not be interrupted by a second Ctrl-C half-way.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if judge is not None:
            judge.stop()
        if prometheus is not None:
            prometheus.stop()
        for service in services:
            service.child.stop()
        if server is not None:
            server.stop()
        if services or server is not None:
            progress.note("stopped all services and MLflow")
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)


def _register_models(
    client, settings: Settings, planned: list[PlannedTenant], retrain: bool, progress
) -> dict[str, str]:
    """model -> the version registered or reused for it; each declared alias moved there
    through the gate (a no-op when it points there already)."""
    from training.lifecycle import promote

    versions: dict[str, str] = {}
    for tenant in planned:
        for model in tenant.models:
            if model.catalog is not None:
                version = _catalog_version(client, settings, model.catalog, retrain, progress)
            else:
                assert model.example is not None
                version = _example_version(client, settings, model.example, progress)
            versions[model.name] = version
            if model.uri.alias is None:
                progress.note(f"{model.name}: overlay pins version {model.uri.version}")
                continue
            try:
                change = promote.promote(
                    client,
                    settings,
                    model.name,
                    version,
                    model.uri.alias,
                    reason="make up",
                    by="make up",
                )
                for note in change.notes:
                    progress.note(f"{model.name}@{model.uri.alias}: {note}")
            except OperationError as refused:
                # The alias keeps its current version, which the service will serve.
                progress.note(f"{model.name}@{model.uri.alias}: not moved: {refused}")
    return versions


def _catalog_version(
    client, settings: Settings, entry: TenantModel, retrain: bool, progress
) -> str:
    from training.lifecycle.train import train

    version = None if retrain else _reusable_version(client, entry, settings)
    if version is not None:
        progress.note(f"{entry.model_name}: version {version} matches code and data, reusing")
        return version
    with progress.step(f"training {entry.model_name} ({entry.estimator} on {entry.dataset})"):
        result = train(entry, settings, by="make up")
    scores = result.metrics
    progress.note(
        f"{entry.model_name}: registered version {result.version} (accuracy "
        f"{scores['accuracy']:.4f}, f1_macro {scores['f1_macro']:.4f}, onnx {result.onnx_gate})"
    )
    return result.version


def _example_version(client, settings: Settings, example: TeamExample, progress) -> str:
    """The team's script registers it, as the bootstraps do (team_examples.py); a version of
    the same code and data is reused (--retrain does not apply: the team's code decides)."""
    from training.lifecycle.team_examples import ensure_version, reusable_version

    script = example.script.relative_to(REPO_ROOT).as_posix()
    if reusable_version(client, example) is None:
        with progress.step(f"registering {example.model} with the team's {script}"):
            version, _ = ensure_version(client, settings, example)
        progress.note(f"{example.model}: registered version {version} by {script}")
        return version
    version, _ = ensure_version(client, settings, example)
    progress.note(f"{example.model}: version {version} matches code and data, reusing")
    return version


def _start_services(
    tracking_uri: str, local: LocalPlatformSettings, planned: list[PlannedTenant], progress
) -> list[LocalService]:
    from training.local_platform import inference_services, processes

    services = []
    with progress.step(f"starting {len(planned)} inference service(s), waiting for /ready"):
        for tenant in planned:
            services.append(
                inference_services.start(
                    tenant.tenant,
                    tenant.models_file,
                    tenant.overlay,
                    tenant.port,
                    tracking_uri,
                    local.run_dir,
                    local.reload_interval_seconds,
                )
            )
        deadline = time.monotonic() + local.ready_timeout
        for service in services:
            processes.wait_until(
                service.child, service.ready, max(1.0, deadline - time.monotonic())
            )
            progress.note(f"{service.tenant} ready at {service.url}")
    return services


def _start_prometheus(
    local: LocalPlatformSettings, services: list[LocalService], progress
) -> LocalPrometheus | None:
    """Prometheus scraping every service with the platform's rules; skipped when turned off or
    not installed (the services do not need it)."""
    if not local.prometheus_port:
        return None
    targets = [ScrapeTarget(s.tenant, f"127.0.0.1:{s.port}") for s in services]
    # The judge starts once Prometheus is up; its target is scraped as soon as it listens.
    judge = {"rollout-judge": [f"127.0.0.1:{local.judge_port}"]} if local.judge_port else {}
    try:
        with progress.step(f"starting Prometheus on 127.0.0.1:{local.prometheus_port}"):
            prometheus = prometheus_server.start(
                local.run_dir / "prometheus",
                local.prometheus_port,
                targets,
                local.scrape_interval,
                extra_jobs=judge,
            )
    except prometheus_server.PrometheusMissing as missing:
        progress.note(f"no local Prometheus: {missing}")
        return None
    try:
        # Proof the scrape works, not only that Prometheus started: every service answered.
        prometheus.wait_for_targets(len(targets), timeout=30)
    except BaseException:
        prometheus.stop()
        raise
    progress.note(
        f"Prometheus at {prometheus.url} scraped all {len(targets)} service(s); it scrapes every "
        f"{local.scrape_interval} and evaluates the rules of base/monitoring"
    )
    progress.note(_drift_note(prometheus))
    return prometheus


def _drift_note(prometheus: LocalPrometheus) -> str:
    """Which tenants' services export a drift reference, as Prometheus scraped it."""
    found = prometheus.query("count by (tenant) (inference_drift_feature_importance)")
    if not found:
        return "drift monitoring: no service exports a drift reference"
    monitored = sorted((s["metric"]["tenant"], int(float(s["value"][1]))) for s in found)
    listed = ", ".join(f"{tenant} {count} features" for tenant, count in monitored)
    return f"drift monitoring: {listed} (docs/drift.md)"


def _sample_predictions(
    planned: list[PlannedTenant], versions: dict[str, str], services: list[LocalService]
) -> list[list[object]]:
    """One row per served model: its input example from the registry sent to the model's own
    routes, /models/<name>/predict and the v2 /v2/models/<name>/infer, which must agree."""
    from training.lifecycle import input_examples
    from training.local_platform import inference_services

    rows: list[list[object]] = []
    for tenant, service in zip(planned, services, strict=True):
        for model in tenant.models:
            records = input_examples.records(model.name, versions[model.name])
            try:
                answer = inference_services.predict(service, model.name, records)
                labels = inference_services.predict_v2(service, model.name, records)
            except OSError as error:
                raise OperationError(
                    f"{service.tenant}: sample prediction of {model.name} failed: {error}"
                ) from None
            served = answer.get("model", {})
            same = "same" if labels == answer.get("predictions") else f"differs: {labels}"
            rows.append(
                [
                    tenant.tenant,
                    model.name,
                    served.get("version", "?"),
                    str(model.uri),
                    f"{service.url}/models/{model.name}",
                    f"{len(records)} rows -> {answer.get('predictions')}",
                    same,
                ]
            )
    return rows


def _watch(services: list[LocalService], judge: processes.Child | None) -> None:
    """Block until a signal arrives (raises _Stop) or a service or the judge dies
    (RuntimeError)."""
    while True:
        if judge is not None and not judge.alive():
            raise RuntimeError(
                f"the rollout judge exited with code {judge.process.returncode}:\n"
                f"{judge.log_tail()}"
            )
        for service in services:
            if not service.child.alive():
                raise RuntimeError(
                    f"{service.tenant}'s service exited with code "
                    f"{service.child.process.returncode}:\n{service.child.log_tail()}"
                )
        time.sleep(1)

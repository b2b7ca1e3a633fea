"""Fit a tenant's pipeline, log it to MLflow and register it as a new model version."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.lifecycle import (
    datasets,
    estimators,
    evaluate,
    file_digests,
    onnx_export,
    provenance,
    reference_stats,
)
from training.lifecycle.catalog import TenantModel
from training.settings import Settings

MODEL_ARTIFACT = "model"


@dataclass(frozen=True)
class TrainResult:
    model_name: str
    version: str
    run_id: str
    metrics: dict[str, float]
    estimator: str
    dataset: str
    # The ONNX equivalence gate: passed, failed or unsupported, and why.
    onnx_gate: str
    onnx_detail: str
    # The drift reference recorded with the version (training/lifecycle/reference_stats.py), in
    # one line.
    drift_reference: str


def fingerprint(entry: TenantModel, settings: Settings) -> str:
    """Identifies what decides the fitted model and its ONNX copy: estimator code, dataset code
    and version, split, the export code and its converter and runtime, the gate's tolerance.
    Two trainings with the same fingerprint give the same model, so `up` may reuse a version."""
    from importlib.metadata import version

    import sklearn

    material = {
        "dataset": entry.dataset,
        "estimator": entry.estimator,
        "estimator_source": inspect.getsource(estimators.BUILDERS[entry.estimator]),
        "dataset_source": Path(datasets.__file__).read_text(),
        "split_seed": settings.split_seed,
        "test_size": settings.test_size,
        "sklearn": sklearn.__version__,
        "onnx_export_source": Path(onnx_export.__file__).read_text(),
        "skl2onnx": version("skl2onnx"),
        "onnxruntime": version("onnxruntime"),
        "onnx_tolerance": settings.onnx_tolerance,
        "drift_reference_source": Path(reference_stats.__file__).read_text(),
        "drift": dataclasses.asdict(settings.drift),
        # Versions from before file digests were recorded are trained again, not reused.
        "file_digests_source": Path(file_digests.__file__).read_text(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def pip_requirements() -> list[str]:
    # Given explicitly: MLflow's inference of requirements costs ~10 s per model here.
    import cloudpickle
    import numpy
    import pandas
    import sklearn

    return [
        f"scikit-learn=={sklearn.__version__}",
        f"numpy=={numpy.__version__}",
        f"pandas=={pandas.__version__}",
        f"cloudpickle=={cloudpickle.__version__}",
    ]


def train(entry: TenantModel, settings: Settings, by: str | None = None) -> TrainResult:
    """Fit, evaluate, log and register; the client must already point at the tracking server."""
    import mlflow
    import mlflow.sklearn
    import sklearn
    from mlflow import MlflowClient
    from mlflow.models import Model, infer_signature

    from training.lifecycle.file_digests import Digested
    from training.lifecycle.onnx_flavor import FLAVOR_NAME, SklearnWithOnnx

    data = datasets.split(entry.dataset, settings.split_seed, settings.test_size)
    pipeline = estimators.build(entry.estimator, settings.split_seed)
    pipeline.fit(data.x_train, data.y_train)
    metrics = evaluate.scores(pipeline, data.x_test, data.y_test)
    signature = infer_signature(data.x_train, pipeline.predict(data.x_train))
    input_example = data.x_train.head(3)
    exported = onnx_export.export(
        pipeline, signature, data.x_test, input_example, settings.onnx_tolerance
    )
    reference = drift_reference(pipeline, data, settings)
    commit = provenance.git_commit()
    tags = {
        "tenant": entry.tenant,
        "dataset": entry.dataset,
        "estimator": entry.estimator,
        "git_commit": commit,
        "git_dirty": str(provenance.git_dirty()).lower(),
        "training_fingerprint": fingerprint(entry, settings),
        "trained_by": provenance.actor(by),
        "onnx_gate": exported.outcome,
        "onnx_gate_detail": exported.detail,
        "drift_reference": reference_stats.summary(reference),
    }

    mlflow.set_experiment(f"{settings.experiment_prefix}/{entry.tenant}")
    with mlflow.start_run(run_name=f"{entry.model_name}-{entry.estimator}") as run:
        mlflow.log_params(
            {
                "tenant": entry.tenant,
                "dataset": entry.dataset,
                "estimator": entry.estimator,
                "split_seed": settings.split_seed,
                "test_size": settings.test_size,
                "n_train": len(data.x_train),
                "n_test": len(data.x_test),
                "classes": ",".join(data.class_names),
                "sklearn_version": sklearn.__version__,
            }
        )
        mlflow.log_metrics(metrics)
        mlflow.log_metric("onnx_export_seconds", exported.seconds)
        mlflow.set_tags(tags)
        # What mlflow.sklearn.log_model does (Model.log with the sklearn flavor), through a
        # flavor that also writes model.onnx into the same version when the gate passed.
        # cloudpickle, not MLflow's default skops: skops is not in the service image
        # (mlflow-skinny), and its allow-list of trusted types is read from the model itself,
        # so it would add no protection for models from this registry.
        # MLflow prints "Successfully registered model" to stderr itself; the table says it.
        # Digested records the sha256 of every file written, before the upload.
        flavor = Digested(
            SklearnWithOnnx(
                exported.model,
                drift_reference=reference_stats.to_json(reference),
                drift_reference_file=reference_stats.REFERENCE_FILE,
            )
        )
        with contextlib.redirect_stderr(io.StringIO()):
            info = Model.log(
                name=MODEL_ARTIFACT,
                artifact_path=None,
                flavor=flavor,
                flavor_name=FLAVOR_NAME,
                registered_model_name=entry.model_name,
                metadata={
                    "onnx": exported.metadata,
                    "drift_reference": reference_stats.metadata(reference),
                },
                sk_model=pipeline,
                serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
                signature=signature,
                input_example=input_example,
                pip_requirements=pip_requirements(),
            )
    version = str(info.registered_model_version)
    client = MlflowClient()
    # The file digests go in with the provenance tags, before any alias can point here.
    for key, value in {**tags, **flavor.tags()}.items():
        client.set_model_version_tag(entry.model_name, version, key, value)
    grant_tenant_read(settings, entry)
    return TrainResult(
        entry.model_name,
        version,
        run.info.run_id,
        metrics,
        entry.estimator,
        entry.dataset,
        exported.outcome,
        exported.detail,
        tags["drift_reference"],
    )


def drift_reference(pipeline: Any, data: datasets.Split, settings: Settings) -> dict[str, Any]:
    """The reference statistics of the training inputs and of the pipeline's predictions on
    them, with each feature weighted by its permutation importance on the held-out rows."""
    importance = reference_stats.importances(
        pipeline, data.x_test, data.y_test, settings.split_seed
    )
    classes = getattr(pipeline, "classes_", None)
    return reference_stats.build(
        data.x_train,
        pipeline.predict(data.x_train),
        None if classes is None else list(classes),
        importance,
        settings.drift,
        settings.split_seed,
    )


def grant_tenant_read(settings: Settings, entry: TenantModel) -> None:
    """With the registry's basic-auth on, let the tenant's own user read what was just trained.

    The creator of the model and the experiment holds MANAGE on them, so the training user can
    grant READ itself. Without credentials (a local registry with no auth) there is nothing to do.
    """
    username = os.environ.get("MLFLOW_TRACKING_USERNAME")
    password = os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if not (username and password):
        return
    from training.registry_access import MissingRegistryUser, RegistryAccess

    access = RegistryAccess(settings.tracking_uri, username, password)
    access.grant_model_read(entry.tenant, entry.model_name)
    if settings.rollout_judge_user:
        try:
            access.grant_rollout_judge(settings.rollout_judge_user, entry.model_name)
        except MissingRegistryUser as error:
            # The version is registered and the tenant can read it; only rollouts of it would
            # fail. Said loudly, never skipped in silence.
            print(f"WARNING: rollouts of {entry.model_name} will fail: {error}", file=sys.stderr)

"""Register a model a team logged with its own training code: `python -m training register`
and `training.register_model(...)`, the one documented step (docs/models.md).

It gives the version what `python -m training train` gives the platform's own: the ONNX copy
behind the equivalence gate (onnx_export.py; a pipeline that cannot be exported is served as
its pickle, and the registration says so), the drift reference (reference_stats.py) computed
from the team's sample, scores and the quality gate against the alias's current version on
the sample's labelled rows (evaluate.py, gate.py via promote.run_gate), and provenance tags
(who, the team's git commit when its run recorded one, the source run). It is logged into the
tenant's experiment as a new version of `<tenant>-<name>`, with the sample's labelled rows
stored beside it: every later `promote` of the version scores it on those rows again.

Nothing is written before the contract holds (team_contract.py): every problem with the model
or the sample is reported at once, as bad input (exit 2).
"""

from __future__ import annotations

import contextlib
import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from training.errors import OperationError, UsageError
from training.lifecycle import (
    onnx_export,
    promote,
    provenance,
    reference_stats,
    registry,
    service_check,
    team_model,
    team_onnx,
    team_sample,
)
from training.lifecycle.catalog import load_catalog, tenant_model
from training.lifecycle.evaluate import EVALUATION_SAMPLE, scores
from training.lifecycle.team_contract import (
    ONNX,
    SKLEARN,
    ContractError,
    InputColumn,
    classifier_problems,
    input_example_problems,
    served_flavor,
    signature_columns,
)
from training.settings import Settings

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

MODEL_ARTIFACT = "model"
# Run tags MLflow records when a run starts from a script in a git checkout.
GIT_COMMIT_TAG = "mlflow.source.git.commit"
SOURCE_NAME_TAG = "mlflow.source.name"
USER_TAG = "mlflow.user"


@dataclass(frozen=True)
class Registration:
    model_name: str
    version: str
    run_id: str
    flavor: str  # what the team logged: sklearn or onnx
    runtime: str  # what the service runs: onnx, or sklearn (the pickle)
    estimator: str
    metrics: dict[str, float]
    sample_rows: int  # labelled rows: the evaluation sample
    onnx_gate: str
    onnx_detail: str
    drift_reference: str
    gate: str  # the quality gate against the alias's current version, in one line
    notes: tuple[str, ...] = ()


@dataclass
class _Candidate:
    """What is registered, once the contract holds."""

    flavor: str
    model: Any  # the scikit-learn estimator, or the ONNX graph as a classifier
    columns: list[InputColumn]
    example: pd.DataFrame
    sample: team_sample.Sample
    onnx_graph: Any = None  # the team's own onnx.ModelProto
    notes: list[str] = field(default_factory=list)

    @property
    def estimator_name(self) -> str:
        if self.flavor == ONNX:
            return "onnx graph"
        steps = getattr(self.model, "steps", None)
        return type(steps[-1][1] if steps else self.model).__name__


def model_name(tenant: str, name: str) -> str:
    """`<tenant>-<name>` (a name that already carries the prefix is kept), checked with the
    rules every declared model name follows (inference.contracts.tenant_models)."""
    from inference.contracts import tenant_models

    full = name if name.startswith(f"{tenant}-") else f"{tenant}-{name}"
    document = {
        "apiVersion": tenant_models.API_VERSION,
        "kind": tenant_models.KIND,
        "models": [{"name": full, "alias": "staging"}],
    }
    try:
        tenant_models.parse(document, tenant)
    except tenant_models.ModelsError as error:
        raise UsageError(f"--name {name}: {str(error).removeprefix('models[0].name: ')}") from None
    return full


def register_model(
    tenant: str,
    name: str,
    model: str,
    sample: Path | str | pd.DataFrame,
    target: str,
    *,
    alias: str | None = None,
    by: str | None = None,
    git_commit: str | None = None,
    settings: Settings | None = None,
) -> Registration:
    """Register the model a team logged at `model` (runs:/<run>/model, models:/m-<id>, ...) as a
    new version of `<tenant>-<name>`, with `sample` (a CSV file or a DataFrame: the signature's
    columns and `target`) as its evaluation sample and drift reference. `alias` is the one the
    quality gate compares with (default: the first of TRAINING_ALIASES, staging). Raises
    UsageError (ContractError) for bad input, OperationError when the registry refuses."""
    settings = settings or Settings.from_env()
    tenant_model(load_catalog(settings.tenants_file), tenant)
    registered_name = model_name(tenant, name)
    alias = alias or settings.aliases[0]
    registry.check_alias_allowed(settings, alias)
    source = Path(sample) if isinstance(sample, str) else sample
    client = registry.connect(settings)
    with tempfile.TemporaryDirectory(prefix="register-") as folder:
        logged = team_model.fetch(model, Path(folder))
        candidate = check_contract(logged, source, target)
        return _register(
            client, settings, registered_name, tenant, logged, candidate, alias, by, git_commit
        )


def check_contract(
    logged: team_model.LoggedModel, source: Path | pd.DataFrame, target: str
) -> _Candidate:
    """Every rule of the contract on the logged model and the sample; ContractError listing
    every problem, or what to register."""
    problems: list[str] = []
    flavor, found = served_flavor(logged.flavors)
    problems += found
    columns, found = signature_columns(logged.signature)
    problems += found
    try:
        example = logged.input_example()
    except Exception as error:
        example = None
        first = str(error).strip().splitlines()[0] if str(error).strip() else ""
        problems.append(f"the input example does not load: {type(error).__name__}: {first}")
    else:
        problems += input_example_problems(example, columns)

    model: Any = None
    graph: Any = None
    if flavor == SKLEARN:
        model, found = team_model.load_sklearn(logged)
        problems += found
        if model is not None:
            problems += classifier_problems(model)
    elif flavor == ONNX:
        graph, found = team_model.load_onnx(logged)
        problems += found
        if graph is not None and columns:
            described, found = team_onnx.describe(graph, columns)
            problems += found
            if described is not None:
                model = team_onnx.OnnxClassifier(graph.SerializeToString(), described)

    sample = None
    if columns:
        frame, shown, found = team_sample.read(source, columns)
        problems += found
        if frame is not None:
            features, labels, found = team_sample.check(frame, shown, columns, target)
            problems += found
            classes = getattr(model, "classes_", None)
            if labels is not None and classes is not None:
                labels, found = team_sample.labels_as_classes(labels, list(classes))
                problems += found
            if features is not None and labels is not None:
                digest = team_sample.digest_of(source)
                sample = team_sample.Sample(features, labels, shown, digest)
    if problems:
        raise ContractError(logged.uri, problems)
    # No problem means every piece was read.
    assert model is not None
    assert sample is not None
    assert example is not None
    example = example[[c.name for c in columns]]
    for rows, what in ((example, "input example"), (sample.features, "sample")):
        try:
            model.predict(rows)
        except Exception as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise ContractError(
                logged.uri, [f"the model fails on the {what}: {type(error).__name__}: {first}"]
            ) from None
    candidate = _Candidate(flavor or "", model, columns, example, sample, graph)
    classes = ", ".join(map(str, model.classes_))
    candidate.notes.append(
        f"the service answers with a class of {classes} and its probabilities"
        if hasattr(model, "predict_proba")
        else f"the service answers with a class of {classes}, without probabilities "
        "(the model has no predict_proba)"
    )
    if flavor == SKLEARN and (logged.flavors[SKLEARN] or {}).get("serialization_format") == "skops":
        candidate.notes.append(
            "logged with skops, registered with cloudpickle: the service image has no skops"
        )
    return candidate


def _register(
    client: MlflowClient,
    settings: Settings,
    name: str,
    tenant: str,
    logged: team_model.LoggedModel,
    candidate: _Candidate,
    alias: str,
    by: str | None,
    git_commit: str | None,
) -> Registration:
    import mlflow
    import sklearn
    from mlflow.models import Model

    from training.lifecycle.file_digests import Digested
    from training.lifecycle.onnx_flavor import (
        FLAVOR_NAME,
        TEAM_ONNX_FLAVOR_NAME,
        SklearnWithOnnx,
        TeamOnnx,
    )
    from training.lifecycle.train import pip_requirements

    sample, model = candidate.sample, candidate.model
    metrics = scores(model, sample.x, sample.y)
    reference = _drift_reference(model, sample, settings)
    stored = ((team_sample.SAMPLE_FILE, sample.stored()),)
    described_sample = {
        "file": team_sample.SAMPLE_FILE,
        "target": str(sample.target.name),
        "target_type": "string" if all(isinstance(c, str) for c in model.classes_) else "other",
        "rows": len(sample.y),
        "sha256": sample.sha256,
        "columns": [{"name": c.name, "type": c.type} for c in candidate.columns],
    }
    metadata: dict[str, Any] = {
        "drift_reference": reference_stats.metadata(reference),
        EVALUATION_SAMPLE: described_sample,
    }
    drift_json = reference_stats.to_json(reference)
    if candidate.flavor == SKLEARN:
        exported = onnx_export.export(
            model, logged.signature, sample.x, candidate.example, settings.onnx_tolerance
        )
        outcome, detail, seconds = exported.outcome, exported.detail, exported.seconds
        metadata["onnx"] = exported.metadata
        flavor: Any = SklearnWithOnnx(exported.model, drift_json, extra_files=stored)
        flavor_name = FLAVOR_NAME
        saved_with = {
            "sk_model": model,
            "serialization_format": mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
            "pip_requirements": pip_requirements(),
        }
    else:
        outcome = "native"
        detail = (
            f"the team's own ONNX graph, nothing converted; ran on {len(sample.features)} "
            "sample rows and the input example"
        )
        seconds = 0.0
        metadata["onnx"] = model.metadata(candidate.example, detail)
        flavor = TeamOnnx(drift_json, extra_files=stored)
        flavor_name = TEAM_ONNX_FLAVOR_NAME
        saved_with = {"onnx_model": candidate.onnx_graph, "pip_requirements": _onnx_requirements()}
    saved_with |= {"signature": logged.signature, "input_example": candidate.example}
    runtime = _served_by(logged.uri, name, flavor, metadata, saved_with)

    source = _source_run(client, logged)
    tags = {
        "tenant": tenant,
        "registered_from": "team code",
        "source_model": logged.uri,
        "source_model_id": logged.model_id or "",
        "source_run": logged.run_id or "",
        "source_code": source.get(SOURCE_NAME_TAG, ""),
        "git_commit": git_commit or source.get(GIT_COMMIT_TAG) or "unknown",
        "trained_by": source.get(USER_TAG) or provenance.actor(by),
        "registered_by": provenance.actor(by),
        "dataset": sample.name,
        "sample_sha256": sample.sha256,
        "estimator": candidate.estimator_name,
        "onnx_gate": outcome,
        "onnx_gate_detail": detail,
        "drift_reference": reference_stats.summary(reference),
    }
    tags = {key: value for key, value in tags.items() if value}
    mlflow.set_experiment(f"{settings.experiment_prefix}/{tenant}")
    with mlflow.start_run(run_name=f"{name}-register") as run:
        mlflow.log_params(
            {
                "tenant": tenant,
                "flavor": candidate.flavor,
                "source_model": logged.uri,
                "source_run": logged.run_id or "",
                "sample": sample.name,
                "sample_sha256": sample.sha256,
                "target": str(sample.target.name),
                "n_sample": len(sample.features),
                "n_labelled": len(sample.y),
                "classes": ",".join(map(str, model.classes_)),
                "sklearn_version": sklearn.__version__,
            }
        )
        mlflow.log_metrics(metrics)
        mlflow.log_metric("onnx_export_seconds", seconds)
        mlflow.set_tags(tags)
        digested = Digested(flavor)  # the sha256 of every file, before the upload
        info = Model.log(
            name=MODEL_ARTIFACT,
            artifact_path=None,
            flavor=digested,
            flavor_name=flavor_name,
            metadata=metadata,
            **saved_with,
        )
    # Registered with its tags in one request (one per tag otherwise: each costs a password
    # check on a basic-auth server). MLflow prints "Successfully registered model" to stderr
    # itself; the table says it.
    with contextlib.redirect_stderr(io.StringIO()):
        version = str(
            mlflow.register_model(info.model_uri, name, tags={**tags, **digested.tags()}).version
        )
    gate_note = quality_gate(client, settings, name, version, alias)
    client.set_model_version_tag(name, version, "registration_gate", gate_note[:400])
    return Registration(
        name,
        version,
        run.info.run_id,
        candidate.flavor,
        runtime,
        candidate.estimator_name,
        metrics,
        len(sample.y),
        outcome,
        detail,
        tags["drift_reference"],
        gate_note,
        tuple(candidate.notes),
    )


def _served_by(
    uri: str, name: str, flavor: Any, metadata: dict[str, Any], saved_with: dict[str, Any]
) -> str:
    """Write the version's folder here and load it with the service's own loader in a clean
    process (service_check.py): the runtime it serves the version with, or ContractError."""
    from mlflow.models import Model

    with tempfile.TemporaryDirectory(prefix="version-") as scratch:
        folder = Path(scratch, MODEL_ARTIFACT)
        flavor.save_model(str(folder), Model(metadata=metadata), **saved_with)
        try:
            return service_check.load_as_the_service(folder, name)
        except service_check.ServiceCannotLoad as error:
            raise ContractError(uri, [f"the inference service cannot load it: {error}"]) from None


def _drift_reference(model: Any, sample: team_sample.Sample, settings: Settings) -> dict[str, Any]:
    """Bins and shares of every sample row (labelled or not) and of the model's predictions on
    them; features weighted by permutation importance on the labelled rows."""
    importance = reference_stats.importances(model, sample.x, sample.y, settings.split_seed)
    return reference_stats.build(
        sample.features,
        model.predict(sample.features),
        list(model.classes_),
        importance,
        settings.drift,
        settings.split_seed,
    )


def _source_run(client: MlflowClient, logged: team_model.LoggedModel) -> dict[str, str]:
    """The tags of the run that logged the model: MLflow records the git commit, the script
    and the user there. Empty when there is no run or it cannot be read."""
    from mlflow.exceptions import MlflowException

    if not logged.run_id:
        return {}
    try:
        return dict(client.get_run(logged.run_id).data.tags)
    except MlflowException:
        return {}


def _onnx_requirements() -> list[str]:
    from importlib.metadata import version

    return [f"onnx=={version('onnx')}", f"onnxruntime=={version('onnxruntime')}", "numpy"]


def quality_gate(
    client: MlflowClient, settings: Settings, name: str, version: str, alias: str
) -> str:
    """The gate `promote` runs, now, against the alias's current version, in one line. It
    refuses nothing here: nothing serves a new version until it is promoted, and promote runs
    the gate again."""
    current = registry.alias_version(client, name, alias)
    if current is None:
        return f"{alias} is not set: a first version, nothing to compare with"
    change = promote.AliasChange(name, alias, current, version)
    candidate = registry.model_version(client, name, version)
    try:
        promote.run_gate(
            client,
            change,
            candidate,
            force=False,
            allow_signature_change=False,
            tolerance=settings.tolerance,
        )
    except OperationError as error:
        return f"promote to {alias} would refuse it: {error}"
    return "; ".join(note.removeprefix("gate ") for note in change.notes)

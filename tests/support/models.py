"""Models registered in a real MLflow registry for tests: iris, a text pipeline, broken ones."""

from __future__ import annotations

from pathlib import Path
from typing import Any

IRIS_COLUMNS = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def iris_frame() -> tuple[Any, Any]:
    from sklearn.datasets import load_iris

    features, target = load_iris(return_X_y=True, as_frame=True)
    features.columns = IRIS_COLUMNS
    return features, target


def log_and_register(
    tracking_uri: str,
    name: str,
    estimator: Any,
    features: Any,
    *,
    alias: str | None = None,
    experiment: str = "service-tests",
    with_signature: bool = True,
    onnx: bool = False,
    drift_reference: dict[str, Any] | None = None,
    digests: bool = True,
) -> str:
    """Log `estimator` (fitted) with signature and input example; return the new version.
    `onnx`: also its ONNX copy, converted and gated by training's own export (on `features`),
    as `python -m training train` logs it. `drift_reference`: a reference document
    (training/lifecycle/reference_stats.py) stored with the version as training stores it.
    `digests`: record the sha256 of its files as training does (file_digests.py)."""
    import os

    import mlflow
    import mlflow.sklearn
    import sklearn
    from mlflow.models import Model, infer_signature

    from training.lifecycle import onnx_export, reference_stats
    from training.lifecycle.file_digests import Digested
    from training.lifecycle.onnx_flavor import FLAVOR_NAME, SklearnWithOnnx

    # As training's configure_mlflow: MLmodel stays what the flavor wrote (file_digests.py).
    os.environ["MLFLOW_RECORD_ENV_VARS_IN_MODEL_LOGGING"] = "false"

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    signature = infer_signature(features, estimator.predict(features)) if with_signature else None
    exported = None
    if onnx:
        exported = onnx_export.export(estimator, signature, features, features.head(3), 1e-5)
        assert exported.outcome == "passed", exported.detail
    metadata: dict[str, Any] = {}
    if exported:
        metadata["onnx"] = exported.metadata
    if drift_reference:
        metadata["drift_reference"] = reference_stats.metadata(drift_reference)
    flavor = Digested(
        SklearnWithOnnx(
            exported.model if exported else None,
            drift_reference=reference_stats.to_json(drift_reference) if drift_reference else None,
        )
    )
    with mlflow.start_run():
        info = Model.log(
            name="model",
            artifact_path=None,
            flavor=flavor,
            flavor_name=FLAVOR_NAME,
            registered_model_name=name,
            metadata=metadata or None,
            sk_model=estimator,
            serialization_format="cloudpickle",
            signature=signature,
            input_example=features.head(3),
            # Explicit requirements: inferring them costs 10-15 s per model on a small machine.
            pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
        )
    version = str(info.registered_model_version)
    if digests:
        client = mlflow.MlflowClient(tracking_uri)
        for key, value in flavor.tags().items():
            client.set_model_version_tag(name, version, key, value)
    if alias:
        set_alias(tracking_uri, name, alias, version)
    return version


def s3_key_of_version_file(
    tracking_uri: str, name: str, version: str, file: str
) -> tuple[str, str]:
    """Bucket and key of one file of a registered version whose artifacts the server proxies
    to S3 (the test registry's artifact root, s3://mlflow/artifacts)."""
    import mlflow

    location = mlflow.MlflowClient(tracking_uri).get_model_version_download_uri(name, version)
    # Proxied locations look like mlflow-artifacts:/<experiment>/models/m-<id>/artifacts
    path = location.split(":", 1)[1].lstrip("/")
    return "mlflow", f"artifacts/{path}/{file}"


def recorded_and_stored(
    tracking_uri: str, name: str, version: str, dest: Path
) -> tuple[dict[str, str] | None, dict[str, str]]:
    """(the digests the version's tags record, the digests of its files as the artifact store
    holds them now): equal for a version registered as training registers it."""
    import mlflow

    from inference.contracts import model_files

    tags = mlflow.MlflowClient(tracking_uri).get_model_version(name, version).tags
    folder = Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{name}/{version}", dst_path=str(dest)
        )
    )
    stored = {
        path: digest
        for path, digest in model_files.folder_digests(folder).items()
        if path not in model_files.CLIENT_WRITTEN
    }
    return model_files.from_tags(tags), stored


def set_alias(tracking_uri: str, name: str, alias: str, version: str) -> None:
    import mlflow

    mlflow.MlflowClient(tracking_uri).set_registered_model_alias(name, alias, version)


def iris_logistic() -> tuple[Any, Any]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, target = iris_frame()
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
        features, target
    ), features


def iris_reference(estimator: Any, features: Any, window_rows: int = 300) -> dict[str, Any]:
    """A drift reference of an iris model fitted on all of `features`, as training builds one
    (importance measured on the same rows: there is no held-out split here)."""
    from training.lifecycle import reference_stats
    from training.settings import DriftSettings

    _, target = iris_frame()
    importance = reference_stats.importances(estimator, features, target, 0)
    return reference_stats.build(
        features,
        estimator.predict(features),
        list(estimator.classes_),
        importance,
        DriftSettings(window_rows=window_rows),
        0,
    )


def iris_forest() -> tuple[Any, Any]:
    from sklearn.ensemble import RandomForestClassifier

    features, target = iris_frame()
    return RandomForestClassifier(n_estimators=20, random_state=0).fit(features, target), features


def iris_two_features() -> tuple[Any, Any]:
    """Same model name, different signature: must never replace the served version."""
    from sklearn.linear_model import LogisticRegression

    features, target = iris_frame()
    narrow = features[["petal_length", "petal_width"]]
    return LogisticRegression(max_iter=500).fit(narrow, target), narrow


def text_pipeline() -> tuple[Any, Any]:
    """One string column -> tf-idf -> classifier: the schema is a single text field."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    texts = pd.DataFrame(
        {
            "review": [
                "great product, works well",
                "awful, broke after a day",
                "love it, would buy again",
                "terrible quality, do not buy",
                "very good value",
                "bad support and bad build",
            ]
        }
    )
    labels = ["positive", "negative", "positive", "negative", "positive", "negative"]
    pipeline = make_pipeline(
        ColumnTransformer([("tfidf", TfidfVectorizer(), "review")]), LogisticRegression()
    )
    return pipeline.fit(texts, labels), texts


def save_model_folder(estimator: Any, features: Any, path: Path, fmt: str = "cloudpickle") -> Path:
    """An MLflow model folder as mlflow.sklearn writes it (signature, input example)."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    mlflow.sklearn.save_model(
        estimator,
        str(path),
        serialization_format=fmt,
        signature=infer_signature(features, estimator.predict(features)),
        input_example=features.head(3),
        pip_requirements=["scikit-learn"],
    )
    return path


def save_onnx_model_folder(estimator: Any, features: Any, path: Path) -> Path:
    """A model folder as `python -m training train` writes it for a version whose ONNX gate
    passed: the pickle, model.onnx, the `onnx` flavor and metadata.onnx."""
    import sklearn
    from mlflow.models import Model, infer_signature

    from training.lifecycle import onnx_export
    from training.lifecycle.onnx_flavor import SklearnWithOnnx

    signature = infer_signature(features, estimator.predict(features))
    exported = onnx_export.export(estimator, signature, features, features.head(3), 1e-5)
    assert exported.outcome == "passed", exported.detail
    SklearnWithOnnx(exported.model).save_model(
        str(path),
        Model(metadata={"onnx": exported.metadata}),
        sk_model=estimator,
        serialization_format="cloudpickle",
        signature=signature,
        input_example=features.head(3),
        pip_requirements=[f"scikit-learn=={sklearn.__version__}"],
    )
    return path


def sleep_when_asked(features: Any) -> Any:
    """A pipeline step that sleeps HANG_SECONDS (when set) before passing its input on: a
    model whose self-check hangs, in a process that sets it."""
    import os
    import time

    time.sleep(float(os.environ.get("HANG_SECONDS", "0")))
    return features


def iris_hanging() -> tuple[Any, Any]:
    """iris_logistic behind sleep_when_asked."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    features, target = iris_frame()
    pipeline = make_pipeline(
        FunctionTransformer(sleep_when_asked), LogisticRegression(max_iter=500)
    )
    return pipeline.fit(features, target), features


def refuse_long_sepals(features: Any) -> Any:
    """A pipeline step that fails on some inputs (sepal length above 7 cm, 8% of iris)."""
    import numpy as np

    values = np.asarray(features, dtype=float)
    if (values[:, 0] > 7.0).any():
        raise ValueError("sepal length above 7 cm")
    return values


def iris_failing_on_long_sepals() -> tuple[Any, Any]:
    """Same schema and answers as iris_logistic, but fails on 8% of the rows."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    features, target = iris_frame()
    pipeline = make_pipeline(
        FunctionTransformer(refuse_long_sepals),
        StandardScaler(),
        LogisticRegression(max_iter=500),
    )
    # Fitted on the rows it accepts; answers like iris_logistic on them.
    accepted = features["sepal_length"] <= 7.0
    return pipeline.fit(features[accepted], target[accepted]), features[accepted]


def iris_disagreeing_on_a_third() -> tuple[Any, Any]:
    """Same schema, but trained with virginica relabelled versicolor: it disagrees with
    iris_logistic on the third of the rows that are virginica."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    features, target = iris_frame()
    relabelled = target.where(target != 2, 1)
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(
        features, relabelled
    ), features


def iris_oversized(megabytes: int) -> tuple[Any, Any]:
    """Same schema, predictions like iris, but about `megabytes` MiB once loaded: a
    nearest-neighbour model keeps its training rows (brute force: no tree beside them), fitted
    here on the iris rows repeated with a little noise. Returned with the plain iris rows, so
    signature and input example stay small."""
    import numpy as np
    from sklearn.neighbors import KNeighborsClassifier

    features, target = iris_frame()
    # Each training row costs its 4 float64 features and its int64 label: 40 bytes.
    repeats = max(1, megabytes * 1024 * 1024 // (40 * len(features)))
    noise = np.random.default_rng(0).normal(0, 0.01, (len(features) * repeats, 4))
    rows = features.loc[features.index.repeat(repeats)].reset_index(drop=True) + noise
    labels = target.loc[target.index.repeat(repeats)].reset_index(drop=True)
    return KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(rows, labels), features

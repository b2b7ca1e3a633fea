"""A model registered from a team's own code goes through the rest of the lifecycle unchanged:
promote (its gate scored on the evaluation sample stored with the version), rollback, and
serving, against a real MLflow server; a team's own ONNX graph is served by onnxruntime."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.models import recorded_and_stored
from tests.support.servers import start_service
from tests.support.team_models import (
    TARGET,
    churn_pipeline,
    customers,
    log_onnx,
    log_sklearn,
    write_sample,
)

pytestmark = pytest.mark.integration


def register(cli, tenant: str, model: str, sample: Path, *extra: str):
    return cli(
        "register",
        "--tenant", tenant,
        "--name", "churn",
        "--model", model,
        "--sample", str(sample),
        "--target", TARGET,
        *extra,
    )  # fmt: skip


def test_promote_scores_on_the_stored_sample_and_rollback_undoes(
    cli, tenants_file, registry, tmp_path
):
    from mlflow import MlflowClient
    from sklearn.dummy import DummyClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score

    tenant = tenants_file[1]
    model = f"{tenant}-churn"
    client = MlflowClient(registry.url)
    train, test = customers(rows=400, seed=3), customers(rows=200, seed=4)
    features, target = train.drop(columns=[TARGET]), train[TARGET]
    sample = write_sample(test, tmp_path / "test.csv")

    good = log_sklearn(registry.url, churn_pipeline().fit(features, target), features)
    first = register(cli, tenant, good, sample, "--by", "ann", "--git-commit", "abc1234")
    assert first.code == 0, first.err
    assert "staging is not set: a first version, nothing to compare with" in first.out
    version = client.get_model_version(model, "1")
    assert version.tags["registered_by"] == "ann"
    assert version.tags["git_commit"] == "abc1234"
    assert version.tags["source_run"] == good.split("/")[1]
    assert version.tags["registered_from"] == "team code"
    assert version.tags["onnx_gate"] == "unsupported"
    assert version.tags["dataset"] == "test.csv"
    recorded, stored = recorded_and_stored(registry.url, model, "1", tmp_path / "stored")
    assert recorded == stored
    assert {"MLmodel", "model.pkl", "evaluation_sample.csv"} <= set(stored)
    run = client.get_run(version.run_id)
    assert run.data.params["n_labelled"] == "200"
    assert {"accuracy", "f1_macro", "log_loss"} <= run.data.metrics.keys()
    assert cli("promote", "--model", model, "--version", "1", "--alias", "staging").code == 0

    dummy = churn_pipeline(DummyClassifier(strategy="constant", constant="yes"))
    worse = log_sklearn(registry.url, dummy.fit(features, target), features)
    second = register(cli, tenant, worse, sample)
    assert second.code == 0, second.err  # registering is not promoting
    assert "promote to staging would refuse it" in second.out
    refused = cli("promote", "--model", model, "--version", "2", "--alias", "staging")
    assert refused.code == 1
    # The gate's number is the dummy's accuracy on the stored sample, not on any catalog data.
    expected = accuracy_score(test[TARGET], ["yes"] * len(test))
    assert f"accuracy {expected:.4f}" in refused.err, refused.err

    better = log_sklearn(
        registry.url, churn_pipeline(LogisticRegression(C=0.5)).fit(features, target), features
    )
    assert register(cli, tenant, better, sample).code == 0
    promoted = cli("promote", "--model", model, "--version", "3", "--alias", "staging")
    assert promoted.code == 0, promoted.err
    assert "on 200 rows of the evaluation sample" in promoted.out
    assert client.get_registered_model(model).aliases["staging"] == "3"

    back = cli("rollback", "--model", model, "--alias", "staging", "--reason", "tests")
    assert back.code == 0, back.err
    assert client.get_registered_model(model).aliases["staging"] == "1"


def test_a_team_onnx_graph_is_registered_gated_and_served_by_onnxruntime(
    cli, tenants_file, registry, tmp_path
):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from tests.support.models import iris_frame

    tenant = tenants_file[1]
    model = f"{tenant}-churn"
    features, target = iris_frame()
    sample = write_sample(features.assign(**{TARGET: target}), tmp_path / "iris.csv")
    for c in (1.0, 0.8):
        fitted = make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=500))
        graph = log_onnx(registry.url, fitted.fit(features, target), features, zipmap=False)
        result = register(cli, tenant, graph, sample)
        assert result.code == 0, result.err
        assert "onnx native: the team's own ONNX graph" in result.out
        assert "│ onnx graph │ onnx" in result.out
    assert cli("promote", "--model", model, "--version", "1", "--alias", "staging").code == 0
    # The gate loads both ONNX-only versions and scores them on the stored sample.
    promoted = cli("promote", "--model", model, "--version", "2", "--alias", "staging")
    assert promoted.code == 0, promoted.err
    assert "on 150 rows of the evaluation sample" in promoted.out

    service = start_service(
        {"MODEL_URI": f"models:/{model}@staging", "MLFLOW_TRACKING_URI": registry.url}, tmp_path
    )
    try:
        assert service.get("/model/info").json()["runtime"] == "onnx"
        answer = service.post("/predict", [[5.1, 3.5, 1.4, 0.2]])
        assert answer.status_code == 200, answer.text
        assert answer.json()["predictions"] == [0]
    finally:
        service.stop()


def test_a_numeric_pipeline_gets_the_onnx_copy_behind_the_gate(
    cli, tenants_file, registry, tmp_path
):
    from sklearn.ensemble import RandomForestClassifier

    from tests.support.models import iris_frame

    tenant = tenants_file[1]
    features, target = iris_frame()
    forest = RandomForestClassifier(n_estimators=20, random_state=0).fit(features, target)
    sample = write_sample(features.assign(**{TARGET: target}), tmp_path / "iris.csv")
    # skops, MLflow's default, refuses to save trees unless the team trusts their node type.
    logged = log_sklearn(
        registry.url, forest, features, skops_trusted_types=["sklearn.tree._tree.Tree"]
    )
    result = register(cli, tenant, logged, sample)
    assert result.code == 0, result.err
    assert "onnx passed: labels identical on 153 rows" in result.out  # 150 + the example's 3
    assert "│ RandomForestClassifier │ onnx" in result.out

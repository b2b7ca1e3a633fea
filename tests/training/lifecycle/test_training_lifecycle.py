"""train -> register -> promote (gate) -> rollback -> status against a real `mlflow server`
whose artifacts go through the server's proxy to an S3 endpoint (moto on 127.0.0.1)."""

from __future__ import annotations

import json
import subprocess

import pytest

pytestmark = pytest.mark.integration


def _client(registry):
    from mlflow import MlflowClient

    return MlflowClient(registry.url)


def test_train_registers_a_version_with_provenance_in_s3(
    cli, tenants_file, registry, s3_env, tmp_path
):
    tenant = tenants_file[1]
    model = f"{tenant}-iris"
    result = cli("train", "--tenant", tenant)
    assert result.code == 0, result.err
    assert model in result.out
    assert "accuracy" in result.out

    client = _client(registry)
    version = client.get_model_version(model, "1")
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    expected_commit = head.stdout.strip() if head.returncode == 0 else "unknown"
    assert version.tags["git_commit"] == expected_commit
    assert version.tags["dataset"] == "iris"
    assert version.tags["estimator"] == "logistic_regression"
    # The sha256 of every file, recorded in the registry's database, is what the store holds.
    from tests.support.models import recorded_and_stored

    recorded, stored = recorded_and_stored(registry.url, model, "1", tmp_path / "stored")
    assert recorded == stored
    assert {"MLmodel", "model.pkl", "model.onnx", "input_example.json"} <= set(stored)
    params = client.get_run(version.run_id).data.params
    assert (params["dataset"], params["split_seed"], params["test_size"]) == ("iris", "42", "0.25")
    metrics = client.get_run(version.run_id).data.metrics
    assert {"accuracy", "f1_macro", "log_loss"} <= metrics.keys()

    from mlflow.models import get_model_info

    info = get_model_info(f"models:/{model}/1")
    assert info.signature.inputs.input_names() == [
        "sepal_length_cm",
        "sepal_width_cm",
        "petal_length_cm",
        "petal_width_cm",
    ]
    assert info.saved_input_example_info is not None

    # The model file really landed in the S3 bucket behind the server's artifact proxy.
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=s3_env["MLFLOW_S3_ENDPOINT_URL"],
        aws_access_key_id=s3_env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=s3_env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    model_id = version.source.removeprefix("models:/")
    keys = [
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket="mlflow")
        for obj in page.get("Contents", [])
    ]
    assert any(key.endswith(f"{model_id}/artifacts/model.pkl") for key in keys), keys[:20]


def test_gate_refuses_a_worse_model_force_overrides_and_rollback_undoes(
    cli, tenants_file, registry
):
    tenant = tenants_file[1]
    model = f"{tenant}-iris"
    client = _client(registry)
    assert cli("train", "--tenant", tenant).code == 0
    first = cli("promote", "--model", model, "--version", "1", "--alias", "staging", "--by", "ann")
    assert first.code == 0, first.err
    assert "nothing to compare" in first.out
    assert client.get_registered_model(model).aliases == {"staging": "1"}

    assert cli("train", "--tenant", tenant, "--estimator", "dummy").code == 0
    refused = cli("promote", "--model", model, "--version", "2", "--alias", "staging")
    assert refused.code == 1
    assert "accuracy" in refused.err
    assert "f1_macro" in refused.err
    assert "--force" in refused.err
    assert "Traceback" not in refused.err
    assert client.get_registered_model(model).aliases == {"staging": "1"}

    forced = cli(
        "promote", "--model", model, "--version", "2", "--alias", "staging",
        "--force", "--reason", "incident drill", "--by", "bob",
    )  # fmt: skip
    assert forced.code == 0, forced.err
    assert client.get_registered_model(model).aliases == {"staging": "2"}
    history = json.loads(client.get_registered_model(model).tags["alias_history.staging"])
    assert [(m["version"], m["previous"], m["by"]) for m in history] == [
        ("1", None, "ann"),
        ("2", "1", "bob"),
    ]
    assert "incident drill" in history[-1]["reason"]
    assert "forced" in history[-1]["reason"]
    assert history[-1]["at"].endswith("+00:00")

    back = cli("rollback", "--model", model, "--alias", "staging", "--reason", "bad model")
    assert back.code == 0, back.err
    assert client.get_registered_model(model).aliases == {"staging": "1"}
    nothing = cli("rollback", "--model", model, "--alias", "staging")
    assert nothing.code == 1
    assert "no earlier version" in nothing.err
    history = json.loads(client.get_registered_model(model).tags["alias_history.staging"])
    assert history[-1]["action"] == "rollback"
    assert (history[-1]["version"], history[-1]["previous"]) == ("1", "2")

    # An equally good retrain passes the gate on the same held-out rows.
    assert cli("train", "--tenant", tenant).code == 0
    passed = cli("promote", "--model", model, "--version", "3", "--alias", "staging")
    assert passed.code == 0, passed.err
    assert "gate passed" in passed.out
    assert client.get_registered_model(model).aliases == {"staging": "3"}

    status = cli("status")
    assert status.code == 0, status.err
    rows = [line for line in status.out.splitlines() if model in line]
    assert any("staging" in row and " 3 " in row and "0.9" in row for row in rows), rows
    assert any("latest" not in row for row in rows)


def test_signature_change_needs_its_own_flag(cli, tenants_file, registry):
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from training.lifecycle.datasets import split
    from training.lifecycle.estimators import build

    tenant = tenants_file[1]
    model = f"{tenant}-iris"
    assert cli("train", "--tenant", tenant).code == 0
    assert cli("promote", "--model", model, "--version", "1", "--alias", "staging").code == 0

    # A version that no longer reads sepal_width_cm, logged like `train` logs its runs.
    data = split("iris", 42, 0.25)
    x_train = data.x_train.drop(columns=["sepal_width_cm"])
    pipeline = build("logistic_regression", 42).fit(x_train, data.y_train)
    mlflow.set_tracking_uri(registry.url)
    with mlflow.start_run():
        mlflow.log_params({"dataset": "iris", "split_seed": 42, "test_size": 0.25})
        mlflow.sklearn.log_model(
            pipeline,
            name="model",
            serialization_format="cloudpickle",
            signature=infer_signature(x_train, pipeline.predict(x_train)),
            registered_model_name=model,
        )

    refused = cli("promote", "--model", model, "--version", "2", "--alias", "staging", "--force")
    assert refused.code == 1
    assert "removed sepal_width_cm (double)" in refused.err
    assert "--allow-signature-change" in refused.err

    allowed = cli(
        "promote", "--model", model, "--version", "2", "--alias", "staging",
        "--allow-signature-change", "--tolerance", "0.5",
    )  # fmt: skip
    assert allowed.code == 0, allowed.err
    assert "signature change allowed: removed sepal_width_cm" in allowed.out
    assert _client(registry).get_registered_model(model).aliases == {"staging": "2"}


def test_bad_input_exits_2_listing_the_valid_choices(cli, tenants_file, registry):
    tenant = tenants_file[1]
    model = f"{tenant}-iris"
    unknown_tenant = cli("train", "--tenant", "nobody")
    assert unknown_tenant.code == 2
    assert f"unknown tenant 'nobody'; valid: {tenant}, {tenant}-w" in unknown_tenant.err

    assert cli("train", "--tenant", tenant).code == 0
    unknown_model = cli("promote", "--model", "nope", "--version", "1", "--alias", "staging")
    assert unknown_model.code == 2
    assert "unknown model 'nope'" in unknown_model.err
    assert model in unknown_model.err

    unknown_version = cli("promote", "--model", model, "--version", "9", "--alias", "staging")
    assert unknown_version.code == 2
    assert f"unknown version '9' of {model}; valid: 1" in unknown_version.err

    unknown_alias = cli("promote", "--model", model, "--version", "1", "--alias", "prod")
    assert unknown_alias.code == 2
    assert "valid: staging, production" in unknown_alias.err

    unset_alias = cli("rollback", "--model", model, "--alias", "production")
    assert unset_alias.code == 2
    assert f"unknown alias 'production' of {model}; valid: (none)" in unset_alias.err

    for argv in (["promote", "--model", model], ["promote", "--tolerance", "2", "--model", model]):
        with pytest.raises(SystemExit) as exited:
            cli(*argv)
        assert exited.value.code == 2

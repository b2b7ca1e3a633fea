"""`python -m training register`: the contract, against a real MLflow server. Each rule has a
planted fault (a model or sample that breaks it) that must exit 2 with a message naming what
is wrong and register nothing; the same model and sample without the fault must register."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.team_models import (
    TARGET,
    churn_pipeline,
    customers,
    log_onnx,
    log_pyfunc,
    log_sklearn,
    write_sample,
)

pytestmark = pytest.mark.integration


@dataclass
class Logged:
    """What the team logged, once per module: the URIs and the data behind them."""

    good: str
    no_signature: str
    no_example: str
    pyfunc: str
    regressor: str
    onnx_zipmap: str
    frame: Any

    @property
    def features(self) -> Any:
        return self.frame.drop(columns=[TARGET])


@pytest.fixture(scope="module")
def logged(registry) -> Logged:
    from sklearn.linear_model import LinearRegression, LogisticRegression

    frame = customers()
    features, target = frame.drop(columns=[TARGET]), frame[TARGET]
    pipeline = churn_pipeline().fit(features, target)
    numbers = features[["tenure", "charges"]].astype("float64")
    regressor = churn_pipeline(LinearRegression()).fit(features, (target == "yes").astype(float))
    return Logged(
        good=log_sklearn(registry.url, pipeline, features),
        no_signature=log_sklearn(registry.url, pipeline, features, signature=False),
        no_example=log_sklearn(registry.url, pipeline, features, example=False),
        pyfunc=log_pyfunc(registry.url, features),
        regressor=log_sklearn(registry.url, regressor, features),
        onnx_zipmap=log_onnx(
            registry.url, LogisticRegression().fit(numbers, target), numbers, zipmap=True
        ),
        frame=frame,
    )


def register(cli, tenant: str, model: str, sample: Path, target: str = TARGET):
    return cli(
        "register",
        "--tenant", tenant,
        "--name", "churn",
        "--model", model,
        "--sample", str(sample),
        "--target", target,
    )  # fmt: skip


def assert_refused(result, tenant: str, registry, *expected: str) -> None:
    from mlflow import MlflowClient

    assert result.code == 2, result.out + result.err
    assert "cannot be registered" in result.err
    for text in expected:
        assert text in result.err, result.err
    assert "Traceback" not in result.err
    names = [m.name for m in MlflowClient(registry.url).search_registered_models()]
    assert f"{tenant}-churn" not in names  # nothing was written


def test_the_model_and_sample_without_a_fault_register(cli, tenants_file, logged, tmp_path):
    tenant = tenants_file[1]
    sample = write_sample(logged.frame, tmp_path / "sample.csv")
    result = register(cli, tenant, logged.good, sample)
    assert result.code == 0, result.err
    assert f"{tenant}-churn" in result.out
    assert "onnx unsupported: non-numeric signature: plan (string)" in result.out
    assert "logged with skops, registered with cloudpickle" in result.out


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("no_signature", "no signature: log the model with signature=infer_signature("),
        ("no_example", "no input example: log the model with input_example="),
        ("pyfunc", "flavor python_function is not one the service runs"),
        ("regressor", "LinearRegression is not a fitted classifier"),
        ("onnx_zipmap", 'convert with skl2onnx options={"zipmap": False}'),
    ],
)
def test_a_model_that_breaks_the_contract_is_refused(
    cli, tenants_file, logged, tmp_path, registry, fault, expected
):
    tenant = tenants_file[1]
    frame = logged.frame
    if fault == "onnx_zipmap":
        frame = frame[["tenure", "charges", TARGET]]
    sample = write_sample(frame, tmp_path / "sample.csv")
    result = register(cli, tenant, getattr(logged, fault), sample)
    assert_refused(result, tenant, registry, expected)


def _missing_column(frame: Any) -> Any:
    return frame.drop(columns=["tenure"])


def _no_target(frame: Any) -> Any:
    return frame.drop(columns=[TARGET])


def _extra_column(frame: Any) -> Any:
    return frame.assign(customer_id=range(len(frame)))


def _text_in_a_number_column(frame: Any) -> Any:
    broken = frame.astype({"charges": object})
    broken.loc[5, "charges"] = "about 50"
    return broken


def _too_few_labels(frame: Any) -> Any:
    return frame.assign(**{TARGET: [None] * (len(frame) - 10) + ["yes", "no"] * 5})


def _unknown_label(frame: Any) -> Any:
    relabelled = frame.copy()
    relabelled.loc[:3, TARGET] = "maybe"
    return relabelled


@pytest.mark.parametrize(
    ("plant", "expected"),
    [
        (_missing_column, "sample.csv lacks signature columns tenure"),
        (_no_target, "sample.csv has no target column 'churned'"),
        (_extra_column, "sample.csv has columns the signature does not name: customer_id"),
        (_text_in_a_number_column, "column charges (double) holds 'about 50' (line 7)"),
        (_too_few_labels, "sample.csv has 10 labelled rows"),
        (_unknown_label, "the target holds labels the model does not predict: maybe"),
    ],
    ids=lambda value: getattr(value, "__name__", "")[1:],
)
def test_a_sample_that_breaks_the_contract_is_refused(
    cli, tenants_file, logged, tmp_path, registry, plant, expected
):
    tenant = tenants_file[1]
    sample = write_sample(plant(logged.frame), tmp_path / "sample.csv")
    result = register(cli, tenant, logged.good, sample)
    assert_refused(result, tenant, registry, expected)


def test_every_problem_is_reported_at_once(cli, tenants_file, logged, tmp_path, registry):
    tenant = tenants_file[1]
    sample = write_sample(_no_target(_missing_column(logged.frame)), tmp_path / "sample.csv")
    result = register(cli, tenant, logged.no_example, sample)
    assert_refused(
        result,
        tenant,
        registry,
        "no input example",
        "lacks signature columns tenure",
        "no target column 'churned'",
    )


def test_bad_names_are_refused_before_the_registry_is_asked(cli, tenants_file, tmp_path):
    tenant = tenants_file[1]
    sample = tmp_path / "absent.csv"
    unknown = cli("register", "--tenant", "nobody", "--name", "churn", "--model", "runs:/x/model",
                  "--sample", str(sample), "--target", TARGET)  # fmt: skip
    assert unknown.code == 2
    assert "unknown tenant 'nobody'" in unknown.err
    bad = cli("register", "--tenant", tenant, "--name", "Churn_Model", "--model", "runs:/x/m",
              "--sample", str(sample), "--target", TARGET)  # fmt: skip
    assert bad.code == 2
    assert "lowercase letters, digits and '-'" in bad.err
    missing = cli("register", "--tenant", tenant, "--name", "churn", "--model",
                  "runs:/0123456789abcdef0123456789abcdef/model", "--sample", str(sample),
                  "--target", TARGET)  # fmt: skip
    assert missing.code == 2
    assert "cannot download it" in missing.err


def test_a_model_needing_the_teams_own_module_is_refused(
    cli, tenants_file, tmp_path, registry, monkeypatch
):
    """The team's module imports where the team registers, not in the service: the version's
    folder is loaded by the service's own loader in a clean process first."""
    import importlib

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    tenant = tenants_file[1]
    (tmp_path / "team_features.py").write_text(
        "def clipped(frame):\n    return frame.clip(lower=0)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    team_features = importlib.import_module("team_features")
    frame = customers()
    numbers = frame[["tenure", "charges"]]
    pipeline = make_pipeline(FunctionTransformer(team_features.clipped), LogisticRegression())
    pipeline.fit(numbers, frame[TARGET])
    logged = log_sklearn(registry.url, pipeline, numbers, serialization_format="cloudpickle")
    sample = write_sample(frame[["tenure", "charges", TARGET]], tmp_path / "sample.csv")
    result = register(cli, tenant, logged, sample)
    assert_refused(
        result,
        tenant,
        registry,
        "the inference service cannot load it:",
        "No module named 'team_features'",
    )

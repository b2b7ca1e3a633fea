"""The one MODEL_URI parser (service/inference/contracts/model_uri.py), shared by the service
and training.

Its alias and name rules are MLflow's: the cases below are also put to the installed MLflow's own
validation, so a change on either side fails here.
"""

from __future__ import annotations

import pytest
from mlflow.exceptions import MlflowException
from mlflow.utils.validation import _validate_model_alias_name, _validate_model_name

from inference.contracts.model_uri import ModelUri, ModelUriError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models:/tenant-a-iris@staging", ModelUri("tenant-a-iris", alias="staging")),
        ("models:/tenant-a-iris/7", ModelUri("tenant-a-iris", version="7")),
        ("  models:/m@production\n", ModelUri("m", alias="production")),
        ("models:/M.v2_x@Prod-2", ModelUri("M.v2_x", alias="Prod-2")),
        ("models:/m@latest", ModelUri("m", alias="latest")),
    ],
)
def test_accepts_both_forms(text: str, expected: ModelUri) -> None:
    assert ModelUri.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["models:/tenant-a-iris@staging", "models:/tenant-a-iris/12", "models:/x@a_b-c"]
)
def test_round_trip(text: str) -> None:
    parsed = ModelUri.parse(text)
    assert parsed.uri == text
    assert str(parsed) == text
    assert f"MODEL_URI={parsed}" == f"MODEL_URI={text}"
    assert ModelUri.parse(parsed.uri) == parsed


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("runs:/abc/model", "expected models:/<name>@<alias> or models:/<name>/<version>"),
        ("models:/m", "expected models:/<name>@<alias>"),
        ("models:/m@", "expected models:/<name>@<alias>"),
        ("models:/m/", "expected models:/<name>@<alias>"),
        ("models:/m@staging/3", "expected models:/<name>@<alias>"),
        ("models:/a/b/3", "expected models:/<name>@<alias>"),
        ("models:/m/latest", "version 'latest'"),
        ("models:/m/0", "version '0'"),
        ("models:/m/07", "version '07'"),
        ("models:/m@sta ging", "alias 'sta ging'"),
        ("models:/m@a.b", "alias 'a.b'"),
        (f"models:/m@{'a' * 256}", "at most 255"),
        ("models:/tenant a@staging", "model name 'tenant a'"),
        ("models:/a:b@staging", "model name 'a:b'"),
        ("models:/..m@staging", "model name '..m'"),
    ],
)
def test_refuses_with_what_was_expected(text: str, names: str) -> None:
    with pytest.raises(ModelUriError, match="expected models:/<name>@<alias>") as refused:
        ModelUri.parse(text)
    assert names in str(refused.value)


def _mlflow_accepts(validate, value: str) -> bool:
    try:
        validate(value)
    except MlflowException:
        return False
    return True


@pytest.mark.parametrize(
    "alias",
    [
        *("staging", "Prod_2", "a-b", "v3", "latest", "é", "a" * 255),
        *("a" * 256, "a.b", "a+b", "a b", "a:b", "a@b", "a/b", "a%20"),
    ],
)
def test_alias_rules_are_mlflows(alias: str) -> None:
    try:
        ModelUri.parse(f"models:/m@{alias}")
        accepted = True
    except ModelUriError:
        accepted = False
    assert accepted == _mlflow_accepts(_validate_model_alias_name, alias)


@pytest.mark.parametrize(
    "name",
    ["tenant-a-iris", "M.v2", ".hidden", "Übung", "a:b", ".", "..", "..x", "x..", "a\\b"],
)
def test_name_rules_are_mlflows_apart_from_whitespace(name: str) -> None:
    try:
        ModelUri.parse(f"models:/{name}/1")
        accepted = True
    except ModelUriError:
        accepted = False
    assert accepted == _mlflow_accepts(_validate_model_name, name)


def test_whitespace_in_a_name_is_refused_though_mlflow_allows_it() -> None:
    assert _mlflow_accepts(_validate_model_name, "tenant a")
    with pytest.raises(ModelUriError, match="whitespace"):
        ModelUri.parse("models:/tenant a/1")

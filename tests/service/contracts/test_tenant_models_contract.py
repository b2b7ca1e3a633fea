"""A tenant's models.yaml (service/inference/contracts/tenant_models.py): what it accepts, and
that each malformed declaration is refused with the field it is about."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mlflow.utils.validation import _validate_model_name

from inference.contracts.model_uri import ModelUri
from inference.contracts.tenant_models import (
    API_VERSION,
    KIND,
    MAX_MODELS,
    ModelEntry,
    ModelsError,
    load_file,
    one_model,
    parse,
)


def declaration(*models: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": API_VERSION, "kind": KIND, "models": list(models)}


def test_reads_every_field_and_the_defaults() -> None:
    models = parse(
        declaration(
            {"name": "tenant-a-iris", "alias": "staging", "rollout": "rollout.yaml"},
            {
                "name": "tenant-a-churn",
                "version": 3,
                "resources": "large",
                "deployment": "dedicated",
            },
        ),
        tenant="tenant-a",
    )
    iris, churn = models.models
    assert iris == ModelEntry(
        "tenant-a-iris", ModelUri("tenant-a-iris", alias="staging"), "rollout.yaml"
    )
    assert (iris.resources, iris.deployment, iris.dedicated) == ("small", "shared", False)
    assert churn.uri.uri == "models:/tenant-a-churn/3"
    assert (churn.version, churn.alias, churn.dedicated) == ("3", None, True)
    assert churn.memory_bytes > iris.memory_bytes
    assert models.names == ("tenant-a-iris", "tenant-a-churn")
    assert models.served_by("shared") == (iris,)
    assert models.served_by("tenant-a-churn") == (churn,)
    assert models.get("tenant-a-wine") is None


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ([], "expected a mapping"),
        ({"apiVersion": "v1", "kind": KIND, "models": []}, "apiVersion/kind"),
        ({**declaration(), "spec": {}}, "spec: unknown field"),
        (declaration(), "models: expected a list of at least one"),
        (declaration("tenant-a-iris"), "models[0]: expected a mapping"),
        (declaration({"alias": "staging"}), "models[0].name: required"),
        (
            declaration({"name": "Tenant-A-Iris", "alias": "x"}),
            "models[0].name: got 'Tenant-A-Iris'",
        ),
        (declaration({"name": "tenant-a-" + "x" * 60, "alias": "x"}), "at most 63"),
        (declaration({"name": "tenant-b-wine", "alias": "x"}), "starting with tenant-a-"),
        (declaration({"name": "tenant-a-iris"}), "exactly one of alias"),
        (
            declaration({"name": "tenant-a-iris", "alias": "a", "version": 2}),
            "exactly one of alias",
        ),
        (
            declaration({"name": "tenant-a-iris", "alias": "st aging"}),
            "models[0].alias (tenant-a-iris)",
        ),
        (declaration({"name": "tenant-a-iris", "version": "0"}), "models[0].version"),
        (
            declaration({"name": "tenant-a-iris", "alias": True}),
            "models[0].alias: expected a string",
        ),
        (
            declaration({"name": "tenant-a-iris", "alias": "a", "Alias": "b"}),
            "models[0].Alias: unknown",
        ),
        (
            declaration({"name": "tenant-a-iris", "version": 2, "rollout": "rollout.yaml"}),
            "pins a version",
        ),
        (
            declaration({"name": "tenant-a-iris", "alias": "a", "rollout": "../x.yaml"}),
            "models[0].rollout",
        ),
        (
            declaration({"name": "tenant-a-iris", "alias": "a", "resources": "huge"}),
            "small, medium, large",
        ),
        (
            declaration({"name": "tenant-a-iris", "alias": "a", "deployment": "own"}),
            "shared or dedicated",
        ),
        (
            declaration(
                {"name": "tenant-a-iris", "alias": "a"}, {"name": "tenant-a-iris", "version": 1}
            ),
            "models[1].name: 'tenant-a-iris' is already declared at models[0]",
        ),
        (
            declaration(*({"name": f"tenant-a-m{i}", "alias": "a"} for i in range(MAX_MODELS + 1))),
            f"at most {MAX_MODELS}",
        ),
    ],
)
def test_refuses_a_malformed_declaration_naming_the_field(document: Any, field: str) -> None:
    with pytest.raises(ModelsError) as raised:
        parse(document, tenant="tenant-a")
    assert field in str(raised.value)


def test_without_a_tenant_any_valid_name_is_accepted() -> None:
    assert parse(declaration({"name": "churn", "alias": "production"})).names == ("churn",)


def test_a_dedicated_deployment_names_a_dedicated_model() -> None:
    models = parse(
        declaration(
            {"name": "tenant-a-iris", "alias": "staging"},
            {"name": "tenant-a-churn", "alias": "staging", "deployment": "dedicated"},
        )
    )
    for wrong in ("tenant-a-iris", "tenant-a-fraud", ""):
        with pytest.raises(ModelsError, match=r"MODEL_DEPLOYMENT: .*tenant-a-churn"):
            models.served_by(wrong)


def test_every_valid_name_is_one_mlflow_accepts() -> None:
    # Names end up as registered model names: one MLflow refuses could never be registered.
    for name in ("a", "tenant-a-iris", "t-" + "x" * 61):
        entry = parse(declaration({"name": name, "alias": "a"})).models[0]
        _validate_model_name(entry.name)


def test_load_file_reports_yaml_errors_as_models_errors(tmp_path: Path) -> None:
    path = tmp_path / "models.yaml"
    path.write_text("models: [\n", encoding="utf-8")
    with pytest.raises(ModelsError, match="cannot read it"):
        load_file(path)
    with pytest.raises(ModelsError, match="cannot read it"):
        load_file(tmp_path / "absent.yaml")
    path.write_text(
        f"apiVersion: {API_VERSION}\nkind: {KIND}\n"
        "models:\n  - name: tenant-a-iris\n    alias: staging\n",
        encoding="utf-8",
    )
    assert load_file(path, "tenant-a").names == ("tenant-a-iris",)


def test_model_uri_stands_for_one_shared_model() -> None:
    models = one_model(ModelUri.parse("models:/tenant-a-iris@staging"))
    assert models.served_by("shared")[0].uri.alias == "staging"


def test_memory_needed_counts_rollouts_twice_and_one_swap() -> None:
    from inference.contracts.tenant_models import MIB, SERVICE_BASE_BYTES, memory_needed

    models = parse(
        declaration(
            {"name": "tenant-a-iris", "alias": "staging", "rollout": "rollout.yaml"},
            {"name": "tenant-a-churn", "alias": "staging", "resources": "medium"},
        )
    ).models
    assert memory_needed(()) == SERVICE_BASE_BYTES
    assert memory_needed(models) == SERVICE_BASE_BYTES + (2 * 16 + 64 + 64) * MIB


def test_the_tenant_wide_switches_default_off_and_must_be_booleans() -> None:
    entry = {"name": "tenant-a-iris", "alias": "staging"}
    plain = parse(declaration(entry), "tenant-a")
    assert (plain.require_file_digests, plain.pickle_free) == (False, False)
    strict = parse(
        {**declaration(entry), "requireFileDigests": True, "pickleFree": True}, "tenant-a"
    )
    assert (strict.require_file_digests, strict.pickle_free) == (True, True)
    with pytest.raises(ModelsError, match="pickleFree: expected true or false, got 'yes'"):
        parse({**declaration(entry), "pickleFree": "yes"}, "tenant-a")

"""Pure logic of the training tools: no server, no network."""

from __future__ import annotations

from pathlib import Path

import pytest

from inference.contracts.model_uri import ModelUri
from training.errors import UsageError
from training.lifecycle import aliases, gate
from training.lifecycle.catalog import load_catalog
from training.lifecycle.datasets import column_name, load, split
from training.lifecycle.overlays import tenant_overlay
from training.lifecycle.train import fingerprint
from training.local_platform import ports
from training.settings import Settings


@pytest.mark.parametrize(
    ("feature", "expected"),
    [
        ("sepal length (cm)", "sepal_length_cm"),
        ("od280/od315_of_diluted_wines", "od280_od315_of_diluted_wines"),
        ("mean radius", "mean_radius"),
        ("pixel_0_0", "pixel_0_0"),
        ("2nd", "f_2nd"),
    ],
)
def test_column_names_are_identifiers(feature: str, expected: str) -> None:
    assert column_name(feature) == expected


@pytest.mark.parametrize("dataset", ["iris", "wine", "breast_cancer", "digits"])
def test_every_dataset_loads_with_identifier_columns(dataset: str) -> None:
    features, target, classes = load(dataset)
    assert all(c.isidentifier() for c in features.columns)
    assert len(set(features.columns)) == features.shape[1]
    assert set(target.unique()) == set(range(len(classes)))


def test_split_is_reproducible_and_stratified() -> None:
    first, second = split("iris", 42, 0.25), split("iris", 42, 0.25)
    assert first.x_test.index.tolist() == second.x_test.index.tolist()
    assert split("iris", 7, 0.25).x_test.index.tolist() != first.x_test.index.tolist()
    assert first.y_test.value_counts().max() - first.y_test.value_counts().min() <= 1


def test_repository_catalog_is_valid() -> None:
    catalog = load_catalog(Path(__file__).resolve().parents[3] / "training" / "tenants.yaml")
    assert catalog
    for tenant, entry in catalog.items():
        assert entry.model_name == f"{tenant}-{entry.dataset}"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("tenants:\n  x: {dataset: mnist, estimator: svc}\n", "tenants.x.dataset"),
        ("tenants:\n  x: {dataset: iris, estimator: xgb}\n", "tenants.x.estimator"),
        ("tenants:\n  x: {dataset: iris}\n", "expected keys"),
        ("tenant: {}\n", "expected a mapping"),
    ],
)
def test_catalog_rejects_bad_entries(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "tenants.yaml"
    path.write_text(body)
    with pytest.raises(UsageError, match=message):
        load_catalog(path)


def test_gate_fails_only_beyond_tolerance() -> None:
    current = {"accuracy": 0.90, "f1_macro": 0.90}
    assert gate.metric_failures({"accuracy": 0.895, "f1_macro": 0.95}, current, 0.01) == []
    failures = gate.metric_failures({"accuracy": 0.85, "f1_macro": 0.95}, current, 0.01)
    assert len(failures) == 1
    assert failures[0].startswith("accuracy")
    assert len(gate.metric_failures({"accuracy": 0.5, "f1_macro": 0.5}, current, 0.0)) == 2


@pytest.mark.filterwarnings("ignore:Hint. Inferred schema contains integer")
def test_signature_diff_names_added_removed_and_retyped_columns() -> None:
    import pandas as pd
    from mlflow.models import infer_signature

    before = infer_signature(pd.DataFrame({"a": [1.0], "b": [2.0], "c": [1.0]}), [0])
    after = infer_signature(pd.DataFrame({"a": [1.0], "b": [2], "d": [1.0]}), [0])
    diff = gate.signature_diff(before, after)
    assert diff.added == {"d": "double"}
    assert diff.removed == {"c": "double"}
    assert diff.retyped == {"b": ("double", "long")}
    assert not gate.signature_diff(before, before)


def _move(action: str, version: str, previous: str | None) -> aliases.Move:
    return aliases.Move(action, version, previous, "me", "2024-01-01T00:00:00+00:00", "")


def test_rollback_walks_back_through_promotions() -> None:
    history = [_move("promote", "1", None), _move("promote", "2", "1"), _move("promote", "3", "2")]
    assert aliases.rollback_target(history)[0] == "2"
    history.append(_move("rollback", "2", "3"))
    assert aliases.rollback_target(history)[0] == "1"
    history.append(_move("rollback", "1", "2"))
    # Back at the first promotion, whose alias had no earlier version.
    assert aliases.rollback_target(history)[0] is None
    assert aliases.rollback_target([]) == (None, None)


def test_history_tag_stays_under_mlflow_limit() -> None:
    moves = [_move("promote", str(i), str(i - 1)) for i in range(1, 200)]
    encoded = aliases._encode(moves, limit=1000)
    assert len(encoded) <= aliases.MAX_TAG_CHARS
    assert '"version":"199"' in encoded


def _models(*entries: str) -> str:
    listed = "".join(f"  - {entry}\n" for entry in entries)
    return f"apiVersion: ml-platform.example.com/v1alpha1\nkind: TenantModels\nmodels:\n{listed}"


def _tenant_x(tmp_path: Path, models: str) -> Path:
    folder = tmp_path / "overlays" / "kind" / "tenants" / "tenant-x"
    folder.mkdir(parents=True)
    (folder / "kustomization.yaml").write_text("resources: []\n")
    (folder / "models.yaml").write_text(models)
    return folder


def test_overlay_models_are_read_and_a_bad_file_is_bad_input(tmp_path: Path) -> None:
    folder = _tenant_x(tmp_path, _models("{name: tenant-x-iris, alias: staging}"))
    assert tenant_overlay(folder).model_uri() == ModelUri("tenant-x-iris", alias="staging")
    (folder / "models.yaml").write_text(_models("{name: tenant-y-iris, alias: staging}"))
    with pytest.raises(
        UsageError,
        match=r"models\.yaml: models\[0\]\.name: got 'tenant-y-iris', expected a name starting "
        r"with tenant-x-",
    ):
        tenant_overlay(folder).model_uri()


def test_one_model_of_several_is_named_or_listed(tmp_path: Path) -> None:
    folder = _tenant_x(
        tmp_path,
        _models("{name: tenant-x-iris, alias: staging}", "{name: tenant-x-churn, version: 2}"),
    )
    overlay = tenant_overlay(folder)
    assert overlay.entry("tenant-x-churn").uri == ModelUri("tenant-x-churn", version="2")
    with pytest.raises(
        UsageError, match=r"declares several models \(tenant-x-iris, tenant-x-churn\); name one"
    ):
        overlay.entry(None)
    with pytest.raises(
        UsageError,
        match=r"--model tenant-x-wine: .*models\.yaml does not declare it \(it declares "
        r"tenant-x-iris, tenant-x-churn\)",
    ):
        overlay.entry("tenant-x-wine")


def test_tenant_overlay_refuses_other_folders(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="tenant folder"):
        tenant_overlay(tmp_path)
    folder = tmp_path / "tenants" / "t"
    folder.mkdir(parents=True)
    with pytest.raises(UsageError, match=r"missing kustomization\.yaml, models\.yaml"):
        tenant_overlay(folder)


def test_fingerprint_changes_with_what_decides_the_model() -> None:
    from dataclasses import replace

    from training.lifecycle.catalog import TenantModel

    settings = Settings.from_env()
    entry = TenantModel("t", "iris", "logistic_regression")
    assert fingerprint(entry, settings) == fingerprint(entry, settings)
    assert fingerprint(entry, settings) != fingerprint(replace(entry, estimator="svc"), settings)
    assert fingerprint(entry, settings) != fingerprint(replace(entry, dataset="wine"), settings)
    assert fingerprint(entry, settings) != fingerprint(entry, replace(settings, split_seed=1))


def test_port_in_use_is_reported_with_the_way_out() -> None:
    import socket

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        assert not ports.is_free(port)
        with pytest.raises(UsageError, match=rf"port {port} .*UP_MLFLOW_PORT"):
            ports.require_free(port, "MLflow", "set UP_MLFLOW_PORT")

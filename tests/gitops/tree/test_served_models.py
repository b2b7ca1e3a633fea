"""gitops/tree/tenant_models.py: a tenant's models.yaml read with the contract parser, and what
a rendered inference pod serves (the ConfigMap key behind the file it reads, MODEL_DEPLOYMENT)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gitops import paths
from gitops.tree.render import render
from gitops.tree.tenant_models import (
    DEFAULT_MODELS_FILE,
    MountedFile,
    configmaps_by_name,
    declarations,
    inference_workloads,
    mounted_configmap_file,
    read_declaration,
)
from inference.contracts.tenant_models import ModelsError

CONFIGMAP_VOLUME = {"name": "models", "configMap": {"name": "tenant-models-abc"}}


def spec_with(mount: dict[str, Any], volume: dict[str, Any] = CONFIGMAP_VOLUME) -> tuple:
    container = {"name": "main", "volumeMounts": [{"name": volume["name"], **mount}]}
    return {"volumes": [volume], "containers": [container]}, container


@pytest.mark.parametrize(
    ("mount", "volume", "expected"),
    [
        pytest.param(
            {"mountPath": "/etc/inference/models"},
            CONFIGMAP_VOLUME,
            MountedFile("models", "tenant-models-abc", "models.yaml", False),
            id="the whole ConfigMap as a folder",
        ),
        pytest.param(
            {"mountPath": "/etc/inference/models/models.yaml", "subPath": "declared.yaml"},
            CONFIGMAP_VOLUME,
            MountedFile("models", "tenant-models-abc", "declared.yaml", False),
            id="one key as the file (subPath)",
        ),
        pytest.param(
            {"mountPath": "/etc/inference/models"},
            {
                "name": "models",
                "configMap": {
                    "name": "tenant-models-abc",
                    "optional": True,
                    "items": [{"key": "kind.yaml", "path": "models.yaml"}],
                },
            },
            MountedFile("models", "tenant-models-abc", "kind.yaml", True),
            id="items map a key to the file",
        ),
        pytest.param(
            {"mountPath": "/etc/inference"},
            CONFIGMAP_VOLUME,
            None,
            id="a parent folder: the file is not there",
        ),
        pytest.param(
            {"mountPath": "/etc/inference/models"},
            {"name": "models", "emptyDir": {}},
            None,
            id="not a ConfigMap",
        ),
        pytest.param(
            {"mountPath": "/etc/inference/models"},
            {
                "name": "models",
                "configMap": {"name": "x", "items": [{"key": "a", "path": "other.yaml"}]},
            },
            None,
            id="items without the file",
        ),
    ],
)
def test_the_configmap_key_behind_a_file(
    mount: dict[str, Any], volume: dict[str, Any], expected: MountedFile | None
) -> None:
    spec, container = spec_with(mount, volume)
    assert mounted_configmap_file(spec, container, DEFAULT_MODELS_FILE) == expected


def test_every_real_tenant_declares_its_models_with_its_own_prefix() -> None:
    for cluster in paths.CLUSTERS:
        found = declarations(paths.REPO_ROOT, cluster)
        assert set(found) == {"tenant-a", "tenant-b"}
        for tenant, declaration in found.items():
            assert not isinstance(declaration, ModelsError), declaration
            assert all(name.startswith(f"{tenant}-") for name in declaration.names)


def test_a_folder_without_models_yaml_is_a_models_error(tmp_path: Path) -> None:
    with pytest.raises(ModelsError, match=r"no models\.yaml: every tenant declares"):
        read_declaration(tmp_path / "tenant-x")


def test_the_real_shared_deployment_serves_what_the_tenant_declares() -> None:
    objects = render(paths.tenants_dir("kind") / "tenant-a")
    [workload] = inference_workloads(objects)
    assert workload.name == "inference-service"
    assert workload.serving.deployment == "shared"
    assert workload.serving.model_uri is None
    assert workload.env["TENANT"] == "tenant-a"
    declaration = workload.declaration(configmaps_by_name(objects), "tenant-a")
    assert [str(m.uri) for m in declaration.served_by("shared")] == [
        "models:/tenant-a-iris@staging",
        "models:/tenant-a-churn@staging",
    ]

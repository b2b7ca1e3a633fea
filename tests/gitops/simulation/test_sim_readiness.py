"""What each platform image needs before its readiness probe passes
(gitops/simulation/readiness.py): the inference service (service/inference/api/app.py `/ready`)
needs MLflow ready, a registry user with its password, READ on every model it serves and each
of them resolving: the models of the mounted models.yaml its Deployment serves
(MODEL_DEPLOYMENT), or without one the model MODEL_URI names; the MLflow server on EKS its
database; MinIO's bucket Job MinIO."""

from __future__ import annotations

from typing import Any

import pytest

from gitops.simulation.cluster import Cluster
from gitops.simulation.readiness import not_ready_reason
from gitops.simulation.world import Registry, World
from tests.gitops.simulation.support import (
    OWN,
    config_map,
    container,
    crds,
    namespace,
    pod_spec,
    secret,
)

NS = "tenant-a"
SERVICE_IMAGE = f"{OWN}inference-service:dev"
RIGHT = "right"  # the registry user's password


def cluster_with(*objects: dict[str, Any]) -> Cluster:
    cluster = Cluster(crds())
    cluster.create_or_update(namespace(NS))
    for obj in objects:
        cluster.create_or_update(obj)
    return cluster


def registry() -> Registry:
    return Registry(
        users={"tenant-a": RIGHT},
        aliases={"iris": {"champion": "3"}, "tenant-a-wine": {"staging": "1"}},
        versions={"iris": 3, "tenant-a-wine": 1},
        readers={"iris": {"tenant-a"}, "tenant-a-wine": {"tenant-a"}},
    )


Pod = tuple[dict[str, Any], dict[str, Any]]  # (container, the Secret it reads)


def inference(uri: str = "models:/iris@champion", password: str = RIGHT) -> Pod:
    """The service's container: MODEL_URI as a value, the password read from a Secret."""
    return container(
        image=SERVICE_IMAGE,
        env=[
            {"name": "MODEL_URI", "value": uri},
            {"name": "MLFLOW_TRACKING_USERNAME", "value": "tenant-a"},
            {
                "name": "MLFLOW_TRACKING_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "mlflow", "key": "password"}},
            },
        ],
    ), secret("mlflow", NS, {"password": password})


def reason(
    spec: Pod,
    mlflow_ready: bool = True,
    world: World | None = None,
) -> str:
    main, credentials = spec
    world = world or World("kind", registry=registry())
    return not_ready_reason(
        main,
        NS,
        cluster_with(credentials),
        world,
        lambda namespace, name: mlflow_ready and (namespace, name) == ("mlflow", "mlflow"),
    )


def test_the_inference_service_is_ready_with_everything_in_place() -> None:
    assert reason(inference()) == ""


def test_the_inference_service_waits_for_mlflow() -> None:
    assert reason(inference(), mlflow_ready=False) == "/ready 503: the MLflow server is not ready"


def test_the_inference_service_needs_its_users_password() -> None:
    assert reason(inference(password="wrong")) == (
        "/ready 503: MLflow refuses user 'tenant-a' (401: no such user or another password)"
    )
    world = World(
        "kind", registry=Registry(aliases=registry().aliases, versions=registry().versions)
    )
    assert reason(inference(), world=world) == (
        "/ready 503: MLflow refuses user 'tenant-a' (401: no such user or another password)"
    )


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        pytest.param("models:/iris@champion", "", id="alias set"),
        pytest.param("models:/iris/3", "", id="registered version"),
        pytest.param(
            "models:/iris@challenger",
            "/ready 503: models:/iris@challenger does not resolve (no version registered or "
            "alias not set)",
            id="alias not set",
        ),
        pytest.param(
            "models:/iris/4",
            "/ready 503: models:/iris/4 does not resolve (no version registered or alias not set)",
            id="version not registered",
        ),
        pytest.param(
            "models:/wine@champion",
            "/ready 503: MLflow refuses user 'tenant-a' READ on wine (403: no permission; "
            "provision-tenant in clusters/platform-steps.sh)",
            id="a model it was not granted",
        ),
        pytest.param(
            "runs:/abc/model",
            "/ready 503: MODEL_URI 'runs:/abc/model' is not models:/<name>@<alias> or "
            "models:/<name>/<version>",
            id="not a registry URI",
        ),
    ],
)
def test_the_inference_service_needs_a_model_uri_that_resolves(uri: str, expected: str) -> None:
    assert reason(inference(uri=uri)) == expected


def test_the_inference_service_needs_read_on_its_model() -> None:
    world = World("kind", registry=registry())
    world.registry.readers = {}
    assert reason(inference(), world=world) == (
        "/ready 503: MLflow refuses user 'tenant-a' READ on iris (403: no permission; "
        "provision-tenant in clusters/platform-steps.sh)"
    )


MODELS = """apiVersion: ml-platform.example.com/v1alpha1
kind: TenantModels
models:
  - name: tenant-a-iris
    alias: staging
  - name: tenant-a-wine
    alias: staging
    deployment: dedicated
"""


def served_from_file(deployment: str | None, models: str = MODELS) -> str:
    """The service's container reading models.yaml from the ConfigMap tenant-models mounted
    where the service looks (/etc/inference/models), as base/inference mounts it."""
    env = [
        {"name": "MLFLOW_TRACKING_USERNAME", "value": "tenant-a"},
        {"name": "MLFLOW_TRACKING_PASSWORD", "value": RIGHT},
    ]
    if deployment is not None:
        env.append({"name": "MODEL_DEPLOYMENT", "value": deployment})
    main = container(
        image=SERVICE_IMAGE,
        env=env,
        volumeMounts=[{"name": "models", "mountPath": "/etc/inference/models", "readOnly": True}],
    )
    spec = pod_spec(main, volumes=[{"name": "models", "configMap": {"name": "tenant-models"}}])
    world = World("kind", registry=registry())
    world.registry.aliases["tenant-a-iris"] = {}
    return not_ready_reason(
        main,
        NS,
        cluster_with(config_map("tenant-models", NS, {"models.yaml": models})),
        world,
        lambda namespace, name: (namespace, name) == ("mlflow", "mlflow"),
        spec,
    )


def test_a_deployment_waits_for_the_models_it_serves_only() -> None:
    # The shared Deployment serves tenant-a-iris, whose alias is not set: not ready.
    assert served_from_file(None) == (
        "/ready 503: MLflow refuses user 'tenant-a' READ on tenant-a-iris (403: no permission; "
        "provision-tenant in clusters/platform-steps.sh)"
    )
    # The dedicated Deployment of tenant-a-wine serves only it, which resolves: ready.
    assert served_from_file("tenant-a-wine") == ""


def test_a_models_file_the_service_cannot_read_or_serve() -> None:
    assert served_from_file("tenant-a-iris") == (
        "/ready 503: /etc/inference/models/models.yaml: MODEL_DEPLOYMENT: got 'tenant-a-iris', "
        "expected 'shared' or the name of a model declared with deployment: dedicated "
        "(tenant-a-wine)"
    )
    assert served_from_file(None, "models: []\n").startswith(
        "/ready 503: /etc/inference/models/models.yaml: apiVersion/kind: got None None"
    )


def test_without_models_file_nor_model_uri_nothing_is_served() -> None:
    bare = container(image=SERVICE_IMAGE)
    assert not_ready_reason(bare, NS, cluster_with(), World("kind"), lambda _n, _m: True) == (
        "/ready 503: no models file at /etc/inference/models/models.yaml and no MODEL_URI"
    )


def test_mlflow_on_eks_needs_its_database() -> None:
    mlflow = container(image=f"{OWN}mlflow-server:dev")
    ready = lambda _namespace, _name: True  # noqa: E731
    eks = World("eks")
    assert not_ready_reason(mlflow, "mlflow", cluster_with(), eks, ready) == ""
    eks.cloud.database = False
    assert not_ready_reason(mlflow, "mlflow", cluster_with(), eks, ready) == (
        "mlflow cannot reach its backend store (no RDS database)"
    )
    kind = World("kind")
    kind.cloud.database = False
    assert not_ready_reason(mlflow, "mlflow", cluster_with(), kind, ready) == ""


def test_the_bucket_job_waits_for_minio() -> None:
    bucket = container(image="quay.io/minio/mc:RELEASE.2025-08-13T08-35-41Z")
    world = World("kind")
    assert not_ready_reason(bucket, "minio", cluster_with(), world, lambda _n, _m: False) == (
        "the bucket job waits for MinIO"
    )
    assert not_ready_reason(bucket, "minio", cluster_with(), world, lambda n, m: n == m) == ""


def test_any_other_image_is_ready_once_it_starts() -> None:
    other = container(image="docker.io/library/busybox:1.36")
    assert not_ready_reason(other, NS, cluster_with(), World("kind"), lambda _n, _m: False) == ""

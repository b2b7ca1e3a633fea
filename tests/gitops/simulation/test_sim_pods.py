"""A pod's admission and start (gitops/simulation/pods.py): the API server's admission plugins
(ServiceAccount, LimitRanger, PodSecurity, ResourceQuota) and what the kubelet needs (images,
ConfigMaps, Secrets and their keys, bound claims), each rule with the case it lets through."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from gitops.simulation.cluster import Cluster
from gitops.simulation.pods import admission_problem, start_problem
from gitops.simulation.world import Images, World
from tests.gitops.simulation.support import (
    OWN,
    PUBLIC_IMAGE,
    RESTRICTED_CONTAINER,
    RESTRICTED_POD,
    config_map,
    container,
    crds,
    meta,
    namespace,
    pod_spec,
    secret,
    service_account,
)

NS = "team"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
OWN_IMAGE = f"{OWN}inference-service:{COMMIT}"
REGISTRY_AUTH = '{"auths": {"ghcr.io": {"auth": "dXNlcjp0b2tlbg=="}}}'


def cluster_with(*objects: dict[str, Any], labels: dict[str, str] | None = None) -> Cluster:
    cluster = Cluster(crds())
    cluster.create_or_update(namespace(NS, labels))
    for obj in objects:
        cluster.create_or_update(obj)
    return cluster


def admit(spec: dict[str, Any], cluster: Cluster, used: dict[str, Fraction] | None = None) -> str:
    return admission_problem(spec, NS, cluster, {} if used is None else used)


def quota(**hard: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": meta("compute", NS),
        "spec": {"hard": hard},
    }


def limit_range(**item: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": meta("limits", NS),
        "spec": {"limits": [{"type": "Container", **item}]},
    }


def sized(requests: dict[str, str], limits: dict[str, str] | None = None) -> dict[str, Any]:
    resources: dict[str, Any] = {"requests": requests}
    if limits:
        resources["limits"] = limits
    return container(resources=resources)


# --- admission ------------------------------------------------------------------------------


def test_a_pod_whose_service_account_does_not_exist_is_refused() -> None:
    spec = pod_spec(serviceAccountName="runner")
    assert admit(spec, cluster_with()) == (
        'error looking up service account team/runner: serviceaccount "runner" not found'
    )
    assert admit(spec, cluster_with(service_account("runner", NS))) == ""


def test_the_default_service_account_needs_no_object() -> None:
    assert admit(pod_spec(), cluster_with()) == ""


@pytest.mark.parametrize(
    ("level", "restricted", "refused"),
    [
        ("restricted", False, True),
        ("restricted", True, False),
        ("privileged", False, False),
        ("", False, False),
    ],
    ids=[
        "restricted refuses a pod without securityContext",
        "restricted admits a restricted pod",
        "privileged admits anything",
        "no label admits anything",
    ],
)
def test_pod_security_admission(level: str, restricted: bool, refused: bool) -> None:
    labels = {"pod-security.kubernetes.io/enforce": level} if level else {}
    spec = (
        pod_spec(container(**RESTRICTED_CONTAINER), **RESTRICTED_POD)
        if restricted
        else pod_spec(container(), hostNetwork=True)
    )
    problem = admit(spec, cluster_with(labels=labels))
    if refused:
        assert problem.startswith('violates PodSecurity "restricted:latest": ')
    else:
        assert problem == ""


def test_a_quota_on_requests_refuses_a_container_that_sets_none() -> None:
    cluster = cluster_with(quota(**{"requests.cpu": "1"}))
    assert admit(pod_spec(container()), cluster) == (
        "failed quota: compute: must specify requests.cpu for: main"
    )
    assert admit(pod_spec(sized({"cpu": "100m"})), cluster) == ""


def test_a_limit_range_default_satisfies_the_quota() -> None:
    cluster = cluster_with(
        quota(**{"requests.cpu": "1"}), limit_range(defaultRequest={"cpu": "100m"})
    )
    assert admit(pod_spec(container()), cluster) == ""


def test_pods_past_the_quota_are_refused() -> None:
    cluster = cluster_with(quota(**{"requests.cpu": "1"}))
    used: dict[str, Fraction] = {}
    spec = pod_spec(sized({"cpu": "600m"}))
    assert admit(spec, cluster, used) == ""
    assert used["requests.cpu"] == Fraction(3, 5)
    problem = admit(spec, cluster, used)
    assert problem.startswith("exceeded quota: compute, requested: requests.cpu=")
    assert problem.endswith("limited: requests.cpu=1")
    assert admit(pod_spec(sized({"cpu": "400m"})), cluster, used) == ""  # exactly the rest


def test_a_pod_count_quota() -> None:
    cluster = cluster_with(quota(pods="1"))
    used: dict[str, Fraction] = {}
    assert admit(pod_spec(), cluster, used) == ""
    assert admit(pod_spec(), cluster, used) == (
        "exceeded quota: compute, requested: pods=1, limited: pods=1"
    )


def test_a_limit_range_maximum_refuses_a_bigger_limit() -> None:
    cluster = cluster_with(limit_range(max={"cpu": "500m"}))
    problem = admit(pod_spec(sized({"cpu": "100m"}, {"cpu": "1"})), cluster)
    assert problem.startswith("maximum cpu usage per Container is ")
    assert problem.endswith("but limit is 1 (container main)")
    assert admit(pod_spec(sized({"cpu": "100m"}, {"cpu": "500m"})), cluster) == ""


def test_a_limit_range_minimum_refuses_a_smaller_request() -> None:
    cluster = cluster_with(limit_range(min={"memory": "64Mi"}))
    problem = admit(pod_spec(sized({"memory": "32Mi"})), cluster)
    assert problem.startswith("minimum memory usage per Container is ")
    assert admit(pod_spec(sized({"memory": "64Mi"})), cluster) == ""


# --- the kubelet: configuration -------------------------------------------------------------


def kind_world(**images: Any) -> World:
    return World("kind", images=Images(own_prefix=OWN, **images))


def start(spec: dict[str, Any], cluster: Cluster, world: World | None = None) -> str:
    return start_problem(spec, NS, cluster, world or kind_world())


def secret_key(name: str, key: str, optional: bool = False) -> dict[str, Any]:
    selector: dict[str, Any] = {"name": name, "key": key}
    if optional:
        selector["optional"] = True
    return {"name": "PASSWORD", "valueFrom": {"secretKeyRef": selector}}


def test_a_missing_secret_key_stops_the_container() -> None:
    spec = pod_spec(container(env=[secret_key("creds", "password")]))
    assert start(spec, cluster_with(secret("creds", NS, {"user": "a"}))) == (
        "CreateContainerConfigError: container main: couldn't find key password in "
        "Secret team/creds"
    )
    assert start(spec, cluster_with()) == (
        'CreateContainerConfigError: container main: secret "creds" not found'
    )
    assert start(spec, cluster_with(secret("creds", NS, {"password": "p"}))) == ""


def test_an_optional_secret_key_may_be_missing() -> None:
    spec = pod_spec(container(env=[secret_key("creds", "password", optional=True)]))
    assert start(spec, cluster_with()) == ""


def test_a_missing_config_map_stops_the_container() -> None:
    spec = pod_spec(container(envFrom=[{"configMapRef": {"name": "settings"}}]))
    assert start(spec, cluster_with()) == (
        'CreateContainerConfigError: container main: configmap "settings" not found'
    )
    assert start(spec, cluster_with(config_map("settings", NS))) == ""
    optional = pod_spec(container(envFrom=[{"configMapRef": {"name": "x", "optional": True}}]))
    assert start(optional, cluster_with()) == ""


@pytest.mark.parametrize(
    ("volume", "problem"),
    [
        pytest.param(
            {"name": "cfg", "configMap": {"name": "settings"}},
            'MountVolume.SetUp failed for volume "cfg": configmap "settings" not found',
            id="configMap",
        ),
        pytest.param(
            {"name": "tls", "secret": {"secretName": "certs"}},
            'MountVolume.SetUp failed for volume "tls": secret "certs" not found',
            id="secret",
        ),
        pytest.param(
            {"name": "all", "projected": {"sources": [{"secret": {"name": "certs"}}]}},
            'MountVolume.SetUp failed for volume "all": secret "certs" not found',
            id="projected secret",
        ),
        pytest.param(
            {"name": "cfg", "configMap": {"name": "settings", "optional": True}},
            "",
            id="optional configMap",
        ),
        pytest.param(
            {"name": "tls", "secret": {"secretName": "certs", "optional": True}},
            "",
            id="optional secret",
        ),
        pytest.param({"name": "scratch", "emptyDir": {}}, "", id="emptyDir"),
    ],
)
def test_volumes_need_what_they_mount(volume: dict[str, Any], problem: str) -> None:
    assert start(pod_spec(volumes=[volume]), cluster_with()) == problem


def claim(phase: str | None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": meta("data", NS),
        "spec": {},
    }
    if phase:
        obj["status"] = {"phase": phase}
    return obj


def test_a_pod_waits_for_its_claim_to_bind() -> None:
    spec = pod_spec(volumes=[{"name": "db", "persistentVolumeClaim": {"claimName": "data"}}])
    assert start(spec, cluster_with()) == 'persistentvolumeclaim "data" not found'
    assert start(spec, cluster_with(claim("Pending"))) == (
        'pod has unbound immediate PersistentVolumeClaims ("data")'
    )
    assert start(spec, cluster_with(claim("Bound"))) == ""


# --- the kubelet: images --------------------------------------------------------------------


def eks_world(published: str = "", private: bool = True) -> World:
    """CI's registry: `published` is why an image is not there ("" when it is)."""
    return World(
        "eks",
        images=Images(own_prefix=OWN, published=lambda _n, _t: published, private=private),
    )


def test_a_third_party_image_pulls() -> None:
    assert start(pod_spec(container(image=PUBLIC_IMAGE)), cluster_with()) == ""


def test_a_private_own_image_without_pull_secret_is_refused() -> None:
    spec = pod_spec(container(image=OWN_IMAGE))
    assert start(spec, cluster_with(), eks_world()) == (
        f"ErrImagePull: {OWN_IMAGE}: 401 Unauthorized (a private package; the pod has no "
        "imagePullSecrets with credentials for ghcr.io)"
    )


def test_a_private_own_image_with_a_missing_pull_secret_names_it() -> None:
    spec = pod_spec(container(image=OWN_IMAGE), imagePullSecrets=[{"name": "registry"}])
    assert start(spec, cluster_with(), eks_world()) == (
        f"ErrImagePull: {OWN_IMAGE}: 401 Unauthorized (a private package; imagePullSecrets "
        'registry: secret "registry" not found)'
    )


def test_a_private_own_image_with_its_pull_secret_pulls() -> None:
    registry = secret("registry", NS, {".dockerconfigjson": REGISTRY_AUTH})
    spec = pod_spec(container(image=OWN_IMAGE), imagePullSecrets=[{"name": "registry"}])
    assert start(spec, cluster_with(registry), eks_world()) == ""


def test_the_service_accounts_pull_secret_counts() -> None:
    registry = secret("registry", NS, {".dockerconfigjson": REGISTRY_AUTH})
    account = service_account("runner", NS) | {"imagePullSecrets": [{"name": "registry"}]}
    spec = pod_spec(container(image=OWN_IMAGE), serviceAccountName="runner")
    assert start(spec, cluster_with(registry, account), eks_world()) == ""


def test_a_public_own_image_needs_no_pull_secret() -> None:
    spec = pod_spec(container(image=OWN_IMAGE))
    assert start(spec, cluster_with(), eks_world(private=False)) == ""


def test_an_own_image_ci_never_published_is_refused() -> None:
    spec = pod_spec(container(image=OWN_IMAGE))
    assert start(spec, cluster_with(), eks_world(published="manifest unknown")) == (
        f"ErrImagePull: {OWN_IMAGE}: manifest unknown"
    )


KIND_IMAGE = f"{OWN}inference-service:dev"


@pytest.mark.parametrize(
    ("image", "policy", "loaded", "problem"),
    [
        pytest.param(
            KIND_IMAGE,
            None,
            False,
            f"ErrImagePull: {KIND_IMAGE} is not loaded into the nodes",
            id="not loaded",
        ),
        pytest.param(KIND_IMAGE, None, True, "", id="loaded"),
        pytest.param(
            KIND_IMAGE,
            "Always",
            True,
            f"ErrImagePull: {KIND_IMAGE} is not loaded into the nodes",
            id="loaded but pulled Always",
        ),
        pytest.param(
            f"{OWN}inference-service:latest",
            None,
            True,
            f"ErrImagePull: {OWN}inference-service:latest is not loaded into the nodes",
            id="loaded, :latest defaults to Always",
        ),
    ],
)
def test_kind_runs_only_what_was_loaded(
    image: str, policy: str | None, loaded: bool, problem: str
) -> None:
    fields = {"imagePullPolicy": policy} if policy else {}
    world = kind_world(loaded={image} if loaded else set())
    assert start(pod_spec(container(image=image, **fields)), cluster_with(), world) == problem

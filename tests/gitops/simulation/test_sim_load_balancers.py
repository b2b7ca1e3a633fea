"""The AWS Load Balancer Controller in the simulation (gitops/simulation/load_balancers.py), as
v3.5.0 decides whether an Ingress gets an address: certificates named or discovered for its
hosts (pkg/certs/cert_discovery.go), IngressGroups reconciled as one
(pkg/ingress/group_loader.go), subnets discovered by tag (pkg/networking/subnet_resolver.go);
and Argo CD's Ingress check, Healthy once an address exists
(gitops-engine/pkg/health/health_ingress.go)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from gitops.simulation import load_balancers
from gitops.simulation.engine import Simulation
from gitops.simulation.keys import key_of
from gitops.simulation.world import Certificate
from tests.gitops.simulation.support import kind_world, meta, simulation

NS = "team"
ARN = "arn:aws:acm:eu-west-1:123456789012:certificate/0000"
PREFIX = load_balancers.PREFIX
HTTPS = json.dumps([{"HTTPS": 443}])


def cluster(*certificates: Certificate, subnets: tuple[str, ...] = ("internal",)) -> Simulation:
    world = kind_world()
    world.cloud.certificates = list(certificates)
    world.cloud.tagged_subnets = frozenset(subnets)
    sim = simulation([], world)
    sim.create_namespace(NS)
    return sim


def ingress(
    name: str, host: str, *, group: str = "", arn: str = "", **annotations: str
) -> dict[str, Any]:
    notes = {PREFIX + "listen-ports": HTTPS, **{PREFIX + k: v for k, v in annotations.items()}}
    if group:
        notes[PREFIX + "group.name"] = group
    if arn:
        notes[PREFIX + "certificate-arn"] = arn
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "Ingress",
        "metadata": meta(name, NS, annotations=notes),
        "spec": {
            "ingressClassName": "alb",
            "rules": [{"host": host, "http": {"paths": []}}],
        },
    }


def run(sim: Simulation, *ingresses: dict[str, Any], controller: bool = True) -> None:
    assert sim.apply(list(ingresses)) == []
    capabilities = {load_balancers.CONTROLLER} if controller else set()
    load_balancers.reconcile(sim.cluster, sim.world, capabilities, sim.ingress_problems)


def address(sim: Simulation, obj: dict[str, Any]) -> list[dict[str, str]]:
    live = sim.cluster.get(key_of(obj)) or {}
    return list(((live.get("status") or {}).get("loadBalancer") or {}).get("ingress") or [])


def problem(sim: Simulation, obj: dict[str, Any]) -> str:
    return sim.ingress_problems.get(key_of(obj), "")


def health(sim: Simulation, obj: dict[str, Any]) -> str:
    verdict = sim.health(sim.cluster.get(key_of(obj)) or {})
    assert verdict is not None
    return verdict.status


# --- certificates ------------------------------------------------------------------------------


def test_a_named_certificate_that_is_issued_gives_an_address() -> None:
    sim = cluster(Certificate(ARN, ("mlflow.example.com",)))
    web = ingress("mlflow", "mlflow.example.com", arn=ARN)
    run(sim, web)
    assert address(sim, web)
    assert problem(sim, web) == ""
    assert health(sim, web) == "Healthy"


@pytest.mark.parametrize(
    ("certificates", "error"),
    [
        pytest.param((), f"certificate {ARN} not found in ACM", id="missing"),
        pytest.param(
            (Certificate(ARN, ("mlflow.example.com",), issued=False),),
            f"certificate {ARN} is not issued (validation pending)",
            id="not issued",
        ),
    ],
)
def test_a_named_certificate_that_cannot_be_used(
    certificates: tuple[Certificate, ...], error: str
) -> None:
    sim = cluster(*certificates)
    web = ingress("mlflow", "mlflow.example.com", arn=ARN)
    run(sim, web)
    assert address(sim, web) == []
    assert problem(sim, web).endswith(f"no member gets an address: {error}")
    assert health(sim, web) == "Progressing"


@pytest.mark.parametrize(
    ("host", "found"),
    [
        pytest.param("mlflow.example.com", True, id="exact name"),
        pytest.param("api.example.com", True, id="wildcard"),
        pytest.param("a.api.example.com", False, id="a wildcard covers one label only"),
        pytest.param("example.com", False, id="a wildcard does not cover the apex"),
        pytest.param("api.example.org", False, id="another domain"),
    ],
)
def test_a_certificate_is_discovered_by_host(host: str, found: bool) -> None:
    sim = cluster(Certificate(ARN, ("mlflow.example.com", "*.example.com")))
    web = ingress("web", host)
    run(sim, web)
    assert bool(address(sim, web)) is found
    if not found:
        assert problem(sim, web).endswith(
            f"no certificate found for host: {host} (no issued ACM certificate covers it)"
        )


def test_a_certificate_not_yet_issued_is_not_discovered() -> None:
    sim = cluster(Certificate(ARN, ("*.example.com",), issued=False))
    web = ingress("web", "api.example.com")
    run(sim, web)
    assert address(sim, web) == []


def test_a_plain_http_listener_needs_no_certificate() -> None:
    sim = cluster()
    web = ingress("web", "api.example.com")
    web["metadata"]["annotations"][PREFIX + "listen-ports"] = json.dumps([{"HTTP": 80}])
    run(sim, web)
    assert address(sim, web)


# --- groups ------------------------------------------------------------------------------------


def test_one_failing_member_fails_the_whole_group() -> None:
    sim = cluster(Certificate(ARN, ("*.example.com",)))
    good = ingress("good", "api.example.com", group="platform")
    bad = ingress("bad", "api.example.org", group="platform")
    run(sim, good, bad)
    assert address(sim, good) == address(sim, bad) == []
    expected = (
        "the load balancer controller reconciles IngressGroup platform with an error, so no "
        "member gets an address: no certificate found for host: api.example.org (no issued "
        "ACM certificate covers it)"
    )
    assert problem(sim, good) == problem(sim, bad) == expected


def test_ingresses_of_different_groups_are_judged_apart() -> None:
    sim = cluster(Certificate(ARN, ("*.example.com",)))
    good = ingress("good", "api.example.com", group="platform")
    bad = ingress("bad", "api.example.org", group="tenants")
    run(sim, good, bad)
    assert address(sim, good)
    assert address(sim, bad) == []


def test_a_fixed_group_gets_its_addresses() -> None:
    sim = cluster(Certificate(ARN, ("*.example.com",)))
    good = ingress("good", "api.example.com", group="platform")
    bad = ingress("bad", "api.example.org", group="platform")
    run(sim, good, bad)
    sim.world.cloud.certificates.append(Certificate(ARN + "1", ("api.example.org",)))
    run(sim)
    assert address(sim, good)
    assert address(sim, bad)
    assert problem(sim, bad) == ""


# --- subnets -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scheme", "subnets", "role"),
    [
        ("internet-facing", ("internal",), "elb"),
        ("internal", ("internet-facing",), "internal-elb"),
    ],
)
def test_no_subnet_tagged_for_the_scheme(scheme: str, subnets: tuple[str, ...], role: str) -> None:
    sim = cluster(Certificate(ARN, ("*.example.com",)), subnets=subnets)
    web = ingress("web", "api.example.com", scheme=scheme)
    run(sim, web)
    assert address(sim, web) == []
    assert problem(sim, web).endswith(
        f"couldn't auto-discover subnets: no subnet tagged kubernetes.io/role/{role}"
    )


def test_an_internet_facing_scheme_with_its_subnets() -> None:
    sim = cluster(Certificate(ARN, ("*.example.com",)), subnets=("internal", "internet-facing"))
    web = ingress("web", "api.example.com", scheme="internet-facing")
    run(sim, web)
    assert address(sim, web)


# --- what the controller handles ---------------------------------------------------------------


def test_nothing_gets_an_address_without_the_controller() -> None:
    sim = cluster(Certificate(ARN, ("*.example.com",)))
    web = ingress("web", "api.example.com")
    run(sim, web, controller=False)
    assert address(sim, web) == []
    assert health(sim, web) == "Progressing"


def test_an_ingress_of_another_class_is_left_alone() -> None:
    sim = cluster()
    other = ingress("web", "api.example.org")
    other["spec"]["ingressClassName"] = "nginx"
    run(sim, other)
    assert "status" not in (sim.cluster.get(key_of(other)) or {})
    assert problem(sim, other) == ""

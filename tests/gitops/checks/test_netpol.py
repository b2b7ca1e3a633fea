"""The NetworkPolicy engine against small hand-written policies: one test per upstream rule
(kubernetes/website content/en/docs/concepts/services-networking/network-policies.md)."""

from __future__ import annotations

from ipaddress import ip_address, ip_network
from typing import Any

from gitops.checks.reachability.netpol import (
    ContainerPort,
    External,
    Match,
    Network,
    Pod,
    ip_block_match,
)

KIND_PODS = ip_network("10.244.0.0/16")
VPC = ip_network("10.0.0.0/16")
HTTP = (ContainerPort(8080, "TCP", "http"),)


def pod(namespace: str, app: str, ports: tuple[ContainerPort, ...] = HTTP, net=KIND_PODS) -> Pod:
    return Pod(namespace, app, {"app": app}, ports, net)


def policy(namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    spec.setdefault("podSelector", {})
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"namespace": namespace, "name": name},
        "spec": spec,
    }


def deny_all(namespace: str) -> dict[str, Any]:
    return policy(namespace, "default-deny-all", policyTypes=["Ingress", "Egress"])


def egress(namespace: str, name: str, *rules: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return policy(namespace, name, policyTypes=["Egress"], egress=list(rules), **spec)


def ingress(namespace: str, name: str, *rules: dict[str, Any], **spec: Any) -> dict[str, Any]:
    return policy(namespace, name, policyTypes=["Ingress"], ingress=list(rules), **spec)


A, B = pod("a", "client"), pod("b", "server")
S3 = External("s3", ip_address("52.95.0.1"))


def test_no_policy_means_not_isolated() -> None:
    verdict = Network([], {}).allowed(A, B, 8080)
    assert verdict.allowed
    assert "not isolated" in verdict.explain()


def test_default_deny_names_the_denying_side_and_its_policies() -> None:
    net = Network([deny_all("a"), egress("a", "allow-dns", {"ports": [{"port": 53}]})], {})
    verdict = net.allowed(A, B, 8080)
    assert verdict.denied
    assert verdict.explain() == (
        "denied by egress of a/client: selected by allow-dns, default-deny-all; no rule allows it"
    )


def test_isolation_is_per_policy_type() -> None:
    # An Ingress-only policy selecting the source does not isolate its egress.
    net = Network([policy("a", "in-only", policyTypes=["Ingress"])], {})
    assert net.allowed(A, B, 8080).allowed
    assert net.allowed(B, A, 8080).denied


def test_policy_types_default_from_the_rules_present() -> None:
    # "by default Ingress will always be set and Egress will be set if the NetworkPolicy has
    # any egress rules."
    with_egress = policy("a", "p", egress=[{"ports": [{"port": 53}]}])
    without = policy("a", "p")
    assert Network([with_egress], {}).allowed(A, B, 8080).denied
    assert Network([without], {}).allowed(A, B, 8080).allowed
    assert Network([without], {}).allowed(B, A, 8080).denied


def test_ingress_rules_of_an_egress_only_policy_are_ignored() -> None:
    odd = policy("b", "odd", policyTypes=["Egress"], ingress=[{}])
    net = Network([deny_all("b"), odd], {})
    assert net.allowed(A, B, 8080).denied


def test_both_sides_must_allow() -> None:
    net = Network([egress("a", "open", {}), deny_all("b")], {})
    verdict = net.allowed(A, B, 8080)
    assert verdict.denied
    assert verdict.explain().startswith("denied by ingress of b/server")


def test_rules_are_ored_within_and_across_policies() -> None:
    only_53 = egress("a", "dns", {"ports": [{"port": 53}]}, {"ports": [{"port": 5000}]})
    only_8080 = egress("a", "web", {"ports": [{"port": 8080}]})
    net = Network([deny_all("a"), only_53, only_8080], {})
    assert net.allowed(A, B, 5000).allowed
    verdict = net.allowed(A, B, 8080)
    assert verdict.allowed
    assert "egress policy a/web rule 0" in verdict.explain()


def test_pod_selector_alone_selects_the_policy_namespace_only() -> None:
    allow_clients = ingress(
        "b", "clients", {"from": [{"podSelector": {"matchLabels": {"app": "client"}}}]}
    )
    net = Network([allow_clients], {})
    assert net.allowed(A, B, 8080).denied  # A is a client, but in namespace a
    assert net.allowed(pod("b", "client"), B, 8080).allowed


def test_namespace_and_pod_selector_in_one_element_are_anded() -> None:
    anded = {
        "namespaceSelector": {"matchLabels": {"team": "x"}},
        "podSelector": {"matchLabels": {"app": "client"}},
    }
    net = Network([ingress("b", "p", {"from": [anded]})], {"a": {"team": "x"}, "c": {"team": "y"}})
    assert net.allowed(A, B, 8080).allowed
    assert net.allowed(pod("a", "other"), B, 8080).denied
    assert net.allowed(pod("c", "client"), B, 8080).denied


def test_namespace_and_pod_selector_in_two_elements_are_ored() -> None:
    ored = [
        {"namespaceSelector": {"matchLabels": {"team": "x"}}},
        {"podSelector": {"matchLabels": {"app": "client"}}},
    ]
    net = Network([ingress("b", "p", {"from": ored})], {"a": {"team": "x"}})
    assert net.allowed(pod("a", "other"), B, 8080).allowed  # any pod of a team=x namespace
    assert net.allowed(pod("b", "client"), B, 8080).allowed  # a client of b itself
    assert net.allowed(pod("c", "client"), B, 8080).denied


def test_every_namespace_has_the_automatic_name_label() -> None:
    by_name = {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "a"}}}
    net = Network([ingress("b", "p", {"from": [by_name]})], {})  # namespace a not declared
    assert net.namespace_labels("a") == {"kubernetes.io/metadata.name": "a"}
    assert net.allowed(A, B, 8080).allowed
    assert net.allowed(pod("c", "client"), B, 8080).denied


def test_namespace_selector_match_expressions_use_declared_labels() -> None:
    exists = {
        "namespaceSelector": {
            "matchExpressions": [{"key": "example.com/tenant", "operator": "Exists"}]
        }
    }
    net = Network([ingress("b", "p", {"from": [exists]})], {"a": {"example.com/tenant": "a"}})
    assert net.allowed(A, B, 8080).allowed
    assert net.allowed(pod("c", "client"), B, 8080).denied


def test_rule_without_peers_matches_every_peer_including_outside_addresses() -> None:
    net = Network([deny_all("a"), egress("a", "https", {"ports": [{"port": 443}]})], {})
    assert net.allowed(A, S3, 443).allowed
    assert net.allowed(A, B, 443).allowed
    assert net.allowed(A, S3, 80).denied


def test_rule_without_ports_matches_every_port_and_protocol() -> None:
    to_b = {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "b"}}}]}
    net = Network([deny_all("a"), egress("a", "to-b", to_b)], {})
    assert net.allowed(A, B, 1).allowed
    assert net.allowed(A, B, 65535, "UDP").allowed
    assert net.allowed(A, S3, 443).denied


def test_protocol_defaults_to_tcp() -> None:
    net = Network([deny_all("a"), egress("a", "p", {"ports": [{"port": 53}]})], {})
    assert net.allowed(A, B, 53, "TCP").allowed
    assert net.allowed(A, B, 53, "UDP").denied


def test_named_port_resolves_against_the_destination_pod() -> None:
    named = egress("a", "p", {"ports": [{"port": "http"}]})
    net = Network([deny_all("a"), named], {})
    assert net.allowed(A, B, 8080).allowed
    assert net.allowed(A, B, 9090).denied  # the port number must be the named one
    assert net.allowed(A, pod("b", "web", (ContainerPort(9090, "TCP", "http"),)), 9090).allowed
    assert net.allowed(A, pod("b", "udp", (ContainerPort(8080, "UDP", "http"),)), 8080).denied
    assert net.allowed(A, External("vm", ip_address("1.2.3.4"), HTTP), 8080).denied


def test_named_port_in_ingress_resolves_against_the_selected_pod() -> None:
    net = Network([deny_all("b"), ingress("b", "p", {"ports": [{"port": "http"}]})], {})
    assert net.allowed(A, B, 8080).allowed
    assert net.allowed(A, B, 8081).denied


def test_end_port_opens_a_range() -> None:
    ranged = egress("a", "p", {"ports": [{"port": 32000, "endPort": 32768}]})
    net = Network([deny_all("a"), ranged], {})
    assert net.allowed(A, S3, 32000).allowed
    assert net.allowed(A, S3, 32768).allowed
    assert net.allowed(A, S3, 32769).denied
    assert net.allowed(A, S3, 31999).denied


def test_ip_block_cidr_and_except() -> None:
    block = {"cidr": "172.17.0.0/16", "except": ["172.17.1.0/24"]}
    net = Network([deny_all("a"), egress("a", "p", {"to": [{"ipBlock": block}]})], {})
    assert net.allowed(A, External("x", ip_address("172.17.0.9")), 443).allowed
    assert net.allowed(A, External("x", ip_address("172.17.1.9")), 443).denied
    assert net.allowed(A, External("x", ip_address("172.18.0.9")), 443).denied


def test_ip_block_matches_pods_whose_range_is_inside_it() -> None:
    # EKS's VPC CNI gives pods VPC addresses: an ipBlock of the VPC admits every pod there,
    # while Kind's pod range (10.244.0.0/16) lies outside it.
    vpc = ingress("b", "alb", {"from": [{"ipBlock": {"cidr": "10.0.0.0/16"}}]})
    net = Network([vpc], {})
    eks_client, eks_server = pod("a", "client", net=VPC), pod("b", "server", net=VPC)
    verdict = net.allowed(eks_client, eks_server, 8080)
    assert verdict.allowed
    assert "ingress policy b/alb rule 0" in verdict.explain()
    assert net.allowed(A, B, 8080).denied


def test_ip_block_covering_part_of_the_pod_range_is_partial() -> None:
    part = {"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.0.128.0/17"]}}
    net = Network([ingress("b", "p", {"from": [part]})], {})
    verdict = net.allowed(pod("a", "client", net=VPC), B, 8080)
    assert verdict.match is Match.SOME
    assert not verdict.allowed
    assert not verdict.denied
    assert verdict.explain().startswith("partly allowed by")
    assert "part of the pod range 10.0.0.0/16 of a/client only" in verdict.explain()


def test_ip_block_match_levels() -> None:
    assert ip_block_match({"cidr": "10.0.0.0/8"}, VPC) is Match.ALL
    assert ip_block_match({"cidr": "10.0.1.0/24"}, VPC) is Match.SOME
    assert ip_block_match({"cidr": "10.0.0.0/8", "except": ["10.0.0.0/16"]}, VPC) is Match.NONE
    assert ip_block_match({"cidr": "10.0.0.0/16", "except": ["10.0.0.0/16"]}, VPC) is Match.NONE
    assert ip_block_match({"cidr": "192.168.0.0/16"}, VPC) is Match.NONE
    assert ip_block_match({"cidr": "::/0"}, VPC) is Match.NONE


def test_allowed_verdict_names_egress_and_ingress_rules() -> None:
    out = egress("a", "to-b", {"to": [{"podSelector": {}, "namespaceSelector": {}}]})
    into = ingress("b", "from-a", {"ports": [{"port": 9}]}, {"from": [{"namespaceSelector": {}}]})
    net = Network([deny_all("a"), deny_all("b"), out, into], {})
    assert net.allowed(A, B, 8080).explain() == (
        "allowed by egress policy a/to-b rule 0 and ingress policy b/from-a rule 1"
    )

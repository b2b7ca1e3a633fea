"""Kubernetes NetworkPolicy (networking.k8s.io/v1) semantics, evaluated offline.

`Network(policies, namespace_labels).allowed(src, dst, port, protocol)` answers whether a
connection is allowed and names the policies responsible. Nothing here knows this
repository's layout: callers hand in policy objects, namespace labels and endpoints.

The semantics follow the upstream concept page, kubernetes/website
content/en/docs/concepts/services-networking/network-policies.md, and the API reference
(kubernetes.io/docs/reference/kubernetes-api/policy-resources/network-policy-v1); each rule
below quotes the sentence it implements.

Modelling choices (what the upstream page leaves to the network plugin, decided here):

- ipBlock and pod addresses. Upstream says ipBlock ranges "should be cluster-external IPs,
  since Pod IPs are ephemeral and unpredictable" but does not exclude pods, and plugins
  differ: Calico matches a pod's address like any other, Cilium applies CIDR rules only to
  peers that are not endpoints (docs.cilium.io, security/policy/layer3). Here a pod matches
  an ipBlock by its address: the cautious reading for paths that must stay closed. A pod's
  address is known only as the range its cluster hands out (`Pod.network`): the AWS VPC CNI
  gives pods VPC addresses, so an ipBlock of the VPC CIDR matches every pod there; Kind's
  pods live in 10.244.0.0/16. A range that lies partly in a block gives `Match.SOME`:
  allowed for some pods, not all (neither allowed nor denied for certain).
- "traffic to and from the node where a Pod is running is always allowed": not modelled;
  an `External` is never the node of the pod it talks to (callers pick addresses that are
  not, e.g. the control-plane node where workloads are not scheduled).
- "a pod cannot block access to itself": not modelled; an endpoint stands for every pod of
  a template, so traffic between two of them is between different pods.
- Service IPs: "it is not defined whether [rewriting] happens before or after
  NetworkPolicy processing". An `External` is matched by the address given, so model a
  Service IP and the address behind it as two endpoints when both matter.
- hostNetwork pods: not modelled (their traffic is the node's).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_network
from typing import Any

from gitops.tree.selectors import matches

# "The Kubernetes control plane sets an immutable label kubernetes.io/metadata.name on all
# namespaces, the value of the label is the namespace name." (Targeting a Namespace by its name)
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"
EGRESS, INGRESS = "Egress", "Ingress"

IPNetwork = IPv4Network | IPv6Network


class Match(IntEnum):
    """How much of an endpoint a peer, rule or side covers. ANDed conditions take the
    minimum, ORed ones the maximum."""

    NONE = 0
    SOME = 1  # only part of a pod range (an ipBlock that covers some pod addresses)
    ALL = 2


@dataclass(frozen=True)
class ContainerPort:
    number: int
    protocol: str = "TCP"
    name: str = ""


@dataclass(frozen=True, eq=False)
class Pod:
    """The pods of one template: namespace, labels, container ports, the cluster's pod range."""

    namespace: str
    name: str
    labels: Mapping[str, str]
    ports: tuple[ContainerPort, ...]
    network: IPNetwork

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True, eq=False)
class External:
    """An address outside the pod network (a VM, a managed service, a node, a Service IP).
    `ports` are the ports it serves, for callers that check "every port"."""

    name: str
    address: IPv4Address | IPv6Address
    ports: tuple[ContainerPort, ...] = ()

    @property
    def network(self) -> IPNetwork:
        return ip_network(self.address)

    def __str__(self) -> str:
        return f"{self.name} {self.address}"


Endpoint = Pod | External


@dataclass(frozen=True)
class Side:
    """One direction of a connection: the source's egress or the destination's ingress."""

    direction: str  # "egress" or "ingress"
    endpoint: Endpoint  # whose policies decide: the source for egress, the destination for ingress
    peer: Endpoint  # the other end
    selected_by: tuple[str, ...]  # names (sorted) of the policies isolating it this way
    allowed_by: tuple[str, ...]  # "namespace/policy rule N" covering all of the peer
    partly_by: tuple[str, ...]  # rules covering part of the peer's pod range only

    @property
    def match(self) -> Match:
        if not self.selected_by or self.allowed_by:
            return Match.ALL
        return Match.SOME if self.partly_by else Match.NONE

    def reason(self) -> str:
        if isinstance(self.endpoint, External):
            return f"{self.direction} of {self.endpoint} (outside the cluster: no policy applies)"
        if not self.selected_by:
            return f"{self.direction} of {self.endpoint} (not isolated: no policy selects it)"
        if self.allowed_by:
            return f"{self.direction} policy {', '.join(self.allowed_by)}"
        if self.partly_by:
            return (
                f"{self.direction} policy {', '.join(self.partly_by)} "
                f"(for part of the pod range {self.peer.network} of {self.peer} only)"
            )
        return (
            f"{self.direction} of {self.endpoint}: selected by {', '.join(self.selected_by)}; "
            "no rule allows it"
        )


@dataclass(frozen=True)
class Verdict:
    """Both sides of one connection. Upstream: "For a connection from a source pod to a
    destination pod to be allowed, both the egress policy on the source pod and the ingress
    policy on the destination pod need to allow the connection. If either side does not
    allow the connection, it will not happen."
    """

    egress: Side
    ingress: Side

    @property
    def match(self) -> Match:
        return min(self.egress.match, self.ingress.match)

    @property
    def allowed(self) -> bool:
        return self.match is Match.ALL

    @property
    def denied(self) -> bool:
        return self.match is Match.NONE

    def explain(self) -> str:
        sides = (self.egress, self.ingress)
        if self.denied:
            return "denied by " + " and by ".join(s.reason() for s in sides if not s.match)
        verb = "allowed" if self.allowed else "partly allowed"
        return f"{verb} by " + " and ".join(s.reason() for s in sides)


@dataclass(frozen=True)
class _Policy:
    namespace: str
    name: str
    pod_selector: dict[str, Any]
    types: frozenset[str]
    ingress: tuple[dict[str, Any], ...]
    egress: tuple[dict[str, Any], ...]

    @classmethod
    def parse(cls, obj: Mapping[str, Any]) -> _Policy:
        meta = obj.get("metadata") or {}
        spec = obj.get("spec") or {}
        egress = tuple(spec.get("egress") or ())
        types = frozenset(spec.get("policyTypes") or ())
        if not types:
            # "If no policyTypes are specified on a NetworkPolicy then by default Ingress will
            # always be set and Egress will be set if the NetworkPolicy has any egress rules."
            types = frozenset({INGRESS, EGRESS} if egress else {INGRESS})
        return cls(
            namespace=str(meta.get("namespace") or ""),
            name=str(meta.get("name") or ""),
            # "An empty podSelector selects all pods in the namespace."
            pod_selector=spec.get("podSelector") or {},
            types=types,
            ingress=tuple(spec.get("ingress") or ()),
            egress=egress,
        )


class Network:
    """NetworkPolicies of one cluster plus the labels of its namespaces."""

    def __init__(
        self,
        policies: Iterable[Mapping[str, Any]],
        namespace_labels: Mapping[str, Mapping[str, str]],
    ) -> None:
        self._policies: dict[str, list[_Policy]] = {}
        for obj in policies:
            policy = _Policy.parse(obj)
            self._policies.setdefault(policy.namespace, []).append(policy)
        self._namespace_labels = namespace_labels

    def namespace_labels(self, namespace: str) -> dict[str, str]:
        """Declared labels plus the automatic name label; a namespace nobody declared has
        only the automatic one."""
        return {**self._namespace_labels.get(namespace, {}), NAMESPACE_NAME_LABEL: namespace}

    def allowed(self, src: Endpoint, dst: Endpoint, port: int, protocol: str = "TCP") -> Verdict:
        return Verdict(
            egress=self._side(EGRESS, src, dst, port, protocol),
            ingress=self._side(INGRESS, src, dst, port, protocol),
        )

    def _side(self, kind: str, src: Endpoint, dst: Endpoint, port: int, protocol: str) -> Side:
        subject, peer, peers_key = (src, dst, "to") if kind == EGRESS else (dst, src, "from")
        # "NetworkPolicies apply to a connection with a pod on one or both ends": an external
        # end has no policy of its own.
        if not isinstance(subject, Pod):
            return Side(kind.lower(), subject, peer, (), (), ())
        # "A pod is isolated for egress if there is any NetworkPolicy that both selects the
        # pod and has "Egress" in its policyTypes" (likewise for ingress).
        applying = [
            p
            for p in self._policies.get(subject.namespace, ())
            if kind in p.types and matches(p.pod_selector, dict(subject.labels))
        ]
        # "the only allowed connections from the pod are those allowed by the egress list of
        # some NetworkPolicy that applies to the pod for egress [...] The effects of those
        # egress lists combine additively." Rules are therefore ORed across policies.
        allowed: list[str] = []
        partly: list[str] = []
        for policy in applying:
            rules = policy.egress if kind == EGRESS else policy.ingress
            for index, rule in enumerate(rules):
                found = self._rule(
                    rule or {}, peers_key, policy.namespace, peer, dst, port, protocol
                )
                ref = f"{policy.namespace}/{policy.name} rule {index}"
                if found is Match.ALL:
                    allowed.append(ref)
                elif found is Match.SOME:
                    partly.append(ref)
        return Side(
            kind.lower(),
            subject,
            peer,
            tuple(sorted(p.name for p in applying)),
            tuple(allowed),
            tuple(partly),
        )

    def _rule(
        self,
        rule: Mapping[str, Any],
        peers_key: str,
        policy_namespace: str,
        peer: Endpoint,
        dst: Endpoint,
        port: int,
        protocol: str,
    ) -> Match:
        # "Each rule allows traffic which matches both the from and ports sections."
        if not _ports_match(rule.get("ports"), dst, port, protocol):
            return Match.NONE
        peers = rule.get(peers_key)
        # API reference: "If this field is empty or missing, this rule matches all sources
        # (traffic not restricted by source)" (and all destinations for `to`).
        if not peers:
            return Match.ALL
        # "Items in this list are combined using a logical OR operation."
        return max((self._peer(p or {}, policy_namespace, peer) for p in peers), default=Match.NONE)

    def _peer(self, peer: Mapping[str, Any], policy_namespace: str, endpoint: Endpoint) -> Match:
        block = peer.get("ipBlock")
        if block is not None:
            return ip_block_match(block, endpoint.network)
        ns_selector = peer.get("namespaceSelector")
        pod_selector = peer.get("podSelector")
        if (ns_selector is None and pod_selector is None) or not isinstance(endpoint, Pod):
            return Match.NONE  # an empty peer is rejected by the API; selectors pick pods only
        if ns_selector is None:
            # "podSelector: This selects particular Pods in the same namespace as the
            # NetworkPolicy"
            namespace_ok = endpoint.namespace == policy_namespace
        else:
            # "namespaceSelector: This selects particular namespaces for which all Pods should
            # be allowed"; with a podSelector in the same entry it "selects particular Pods
            # within particular namespaces" (AND, unlike two separate entries: OR).
            namespace_ok = matches(ns_selector, self.namespace_labels(endpoint.namespace))
        pod_ok = pod_selector is None or matches(pod_selector, dict(endpoint.labels))
        return Match.ALL if namespace_ok and pod_ok else Match.NONE


def _ports_match(
    ports: list[Mapping[str, Any]] | None, dst: Endpoint, port: int, protocol: str
) -> bool:
    # API reference: "If this field is empty or missing, this rule matches all ports [...]
    # If this field is present and contains at least one item, then this rule allows traffic
    # only if the traffic matches at least one port in the list."
    if not ports:
        return True
    return any(_port_match(entry or {}, dst, port, protocol) for entry in ports)


def _port_match(entry: Mapping[str, Any], dst: Endpoint, port: int, protocol: str) -> bool:
    # API reference: protocol "If not specified, this field defaults to TCP."; port "If this
    # field is not provided, this matches all port names and numbers. If present, only
    # traffic on the specified protocol AND port will be matched."
    if str(entry.get("protocol") or "TCP") != protocol:
        return False
    value = entry.get("port")
    if value is None:
        return True
    if isinstance(value, int):
        # "endPort can only be defined if port is also defined. Both ports must be numeric."
        end = entry.get("endPort")
        return value <= port <= (end if isinstance(end, int) else value)
    # A named port ("a numerical or named port on a pod") is the destination pod's container
    # port of that name and protocol; an address outside the cluster has no named ports.
    return isinstance(dst, Pod) and any(
        cp.name == value and cp.protocol == protocol and cp.number == port for cp in dst.ports
    )


def ip_block_match(block: Mapping[str, Any], network: IPNetwork) -> Match:
    """How much of `network` the block covers: its `cidr` minus every `except` range
    (upstream example: "all of 172.17.0.0/16 except 172.17.1.0/24")."""
    try:
        cidr = ip_network(str(block.get("cidr")), strict=False)
        excepts = [ip_network(str(e), strict=False) for e in block.get("except") or ()]
    except ValueError:
        return Match.NONE  # rejected by the API
    excepts = [e for e in excepts if e.version == cidr.version]
    if cidr.version != network.version:
        return Match.NONE
    remaining = _subtract(cidr, excepts)
    if not any(part.overlaps(network) for part in remaining):
        return Match.NONE
    inside = network.subnet_of(cidr)
    if inside and not any(e.overlaps(network) for e in excepts):
        return Match.ALL
    return Match.SOME


def _subtract(cidr: IPNetwork, excepts: list[IPNetwork]) -> list[IPNetwork]:
    parts = [cidr]
    for hole in excepts:
        kept: list[IPNetwork] = []
        for part in parts:
            if part.subnet_of(hole):
                continue
            if hole.subnet_of(part):
                kept += part.address_exclude(hole)
            else:
                kept.append(part)
        parts = kept
    return parts

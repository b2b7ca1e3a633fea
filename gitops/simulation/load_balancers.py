"""aws-load-balancer-controller v3.5.0, reduced to what decides whether an Ingress gets an
address (kubernetes-sigs/aws-load-balancer-controller at v3.5.0; docs/guide/ingress/annotations.md):

- it handles Ingresses of class `alb` once the controller runs;
- Ingresses with the same `alb.ingress.kubernetes.io/group.name` share one ALB and are
  reconciled together: an error in one member fails the whole group, and no member gets an
  address (pkg/ingress/group_loader.go, controllers/ingress/group_controller.go);
- an HTTPS listener (`listen-ports`) needs certificates: the ARNs of
  `alb.ingress.kubernetes.io/certificate-arn`, else ones discovered in ACM for the Ingress's
  hosts (pkg/certs/cert_discovery.go: issued certificates whose domain names cover the
  host); none found is an error ("no certificate found for host");
- subnets are discovered by tag: `kubernetes.io/role/internal-elb` for scheme internal,
  `kubernetes.io/role/elb` for internet-facing (pkg/networking/subnet_resolver.go); eksctl
  tags the subnets it creates that way;
- with all that, the ALB exists and the controller writes its DNS name into each Ingress's
  `status.loadBalancer.ingress`, which is what Argo CD's Ingress health waits for
  (gitops-engine/pkg/health/health_ingress.go: Healthy once an ingress address exists,
  Progressing until then, for ever).
"""

from __future__ import annotations

import json
from typing import Any

from gitops.simulation.cluster import Cluster
from gitops.simulation.keys import key_of
from gitops.simulation.world import World
from gitops.tree.findings import annotations_of

CONTROLLER = "aws-load-balancer-controller"
PREFIX = "alb.ingress.kubernetes.io/"


def reconcile(cluster: Cluster, world: World, capabilities: set[str], problems: dict) -> None:
    """Give every ALB Ingress its address, or record in `problems` (key -> text) why not."""
    if CONTROLLER not in capabilities:
        return
    groups: dict[str, list[dict[str, Any]]] = {}
    for ingress in cluster.of_kind("networking.k8s.io", "Ingress"):
        if not _is_alb(ingress):
            continue
        group = annotations_of(ingress).get(PREFIX + "group.name") or f"{key_of(ingress)}"
        groups.setdefault(group, []).append(ingress)
    for group, members in groups.items():
        errors = [e for ingress in members for e in _errors(ingress, world)]
        for ingress in members:
            if errors:
                ingress["status"] = {"loadBalancer": {}}
                problems[key_of(ingress)] = (
                    f"the load balancer controller reconciles IngressGroup {group} with an "
                    f"error, so no member gets an address: {errors[0]}"
                )
            else:
                scheme = annotations_of(ingress).get(PREFIX + "scheme", "internal")
                prefix = "internal-" if scheme == "internal" else ""
                ingress["status"] = {
                    "loadBalancer": {
                        "ingress": [
                            {"hostname": f"{prefix}k8s-{group[:12]}-0000000000.elb.amazonaws.com"}
                        ]
                    }
                }
                problems.pop(key_of(ingress), None)


def _is_alb(ingress: dict[str, Any]) -> bool:
    spec = ingress.get("spec") or {}
    return (
        spec.get("ingressClassName") == "alb"
        or annotations_of(ingress).get("kubernetes.io/ingress.class") == "alb"
    )


def _errors(ingress: dict[str, Any], world: World) -> list[str]:
    annotations = annotations_of(ingress)
    errors = []
    scheme = annotations.get(PREFIX + "scheme", "internal")
    if scheme not in world.cloud.tagged_subnets:
        role = "internal-elb" if scheme == "internal" else "elb"
        errors.append(f"couldn't auto-discover subnets: no subnet tagged kubernetes.io/role/{role}")
    try:
        ports = json.loads(annotations.get(PREFIX + "listen-ports", '[{"HTTP": 80}]'))
    except ValueError:
        return [f"failed to parse listen-ports {annotations.get(PREFIX + 'listen-ports')!r}"]
    if not any("HTTPS" in port for port in ports):
        return errors
    arns = [
        a.strip() for a in annotations.get(PREFIX + "certificate-arn", "").split(",") if a.strip()
    ]
    certificates = {c.arn: c for c in world.cloud.certificates}
    if arns:
        for arn in arns:
            certificate = certificates.get(arn)
            if certificate is None:
                errors.append(f"certificate {arn} not found in ACM")
            elif not certificate.issued:
                errors.append(f"certificate {arn} is not issued (validation pending)")
        return errors
    for host in _hosts(ingress):
        if not any(c.issued and c.covers(host) for c in world.cloud.certificates):
            errors.append(
                f"no certificate found for host: {host} (no issued ACM certificate covers it)"
            )
    return errors


def _hosts(ingress: dict[str, Any]) -> list[str]:
    spec = ingress.get("spec") or {}
    hosts = [str(r.get("host")) for r in spec.get("rules") or [] if r.get("host")]
    hosts += [str(h) for t in spec.get("tls") or [] for h in t.get("hosts") or []]
    return sorted(set(hosts))

"""`reachability`: the network paths the platform needs are open and the ones it must never
have are closed, on each cluster, as the rendered NetworkPolicies decide (netpol.py).

Endpoints per cluster: the pod templates the tree renders (Deployments, StatefulSets, Jobs
including Argo CD hook Jobs), the pods charts and the cluster run that the tree does not
render (UNRENDERED_PODS), and addresses outside the pod network (cluster_model). Namespaces
carry the labels of their rendered Namespace object plus the automatic name label.
INTENTS is the table of what must be allowed or denied, and why. A path whose endpoint
does not exist on a cluster is skipped (MinIO on EKS), unless ROLES marks the endpoint as
required there: then its absence is the finding. Each pod template is evaluated once, not
each replica, so the cost grows with tenants squared only through the tenant-to-tenant rows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from pathlib import Path
from typing import Any

from gitops.checks import Context, register
from gitops.checks.reachability.netpol import (
    ContainerPort,
    Endpoint,
    External,
    IPNetwork,
    Network,
    Pod,
)
from gitops.tree.app_tree import ClusterTree
from gitops.tree.findings import Finding, labels_of, name_of, namespace_of
from gitops.tree.repo_sources import app_sources
from gitops.tree.selectors import containers, pod_template

CHECK = "reachability"
NAME = "app.kubernetes.io/name"
KIND, EKS = "kind", "eks"
BOTH = frozenset({KIND, EKS})
ONLY_KIND, ONLY_EKS = frozenset({KIND}), frozenset({EKS})
TENANT = "<tenant>"  # Role.namespace: any of the cluster's tenant namespaces
OTHER_TENANT = "other-tenant"  # Intent.dst: tenant pods in a namespace other than the source's
OUTSIDER = "outsider"  # Intent.src: every endpoint no allow row lets reach tenant pods
ANY_PORT = None  # Intent.port: every port the destination serves

KIND_POD_NETWORK = ip_network("10.244.0.0/16")  # Kind's default podSubnet (kind-config sets none)
EKS_SETTINGS = Path("clusters/eks/settings/settings.env")  # VPC_CIDR, also in the policies
DEFAULT_VPC = ip_network("10.0.0.0/16")


def _tcp(*ports: int) -> tuple[ContainerPort, ...]:
    return tuple(ContainerPort(p) for p in ports)


@dataclass(frozen=True)
class ClusterModel:
    """Where a cluster's pods get addresses (see the ipBlock note in netpol.py) and
    the addresses outside the pod network its paths involve."""

    pod_network: IPNetwork
    externals: tuple[External, ...]


def cluster_model(cluster: str, root: Path) -> ClusterModel | None:
    internet = External("internet", ip_address("203.0.113.10"), _tcp(443))  # RFC 5737
    if cluster == KIND:
        return ClusterModel(
            KIND_POD_NETWORK,
            (
                # The API server on the control-plane node (Kind's docker network). Workloads
                # run on the workers (the control plane keeps its NoSchedule taint), so it is
                # never the pod's own node, whose traffic NetworkPolicy always allows.
                External("kube-api", ip_address("172.18.0.2"), _tcp(6443)),
                External("kubernetes-service", ip_address("10.96.0.1"), _tcp(443)),
                internet,
            ),
        )
    if cluster == EKS:
        # The VPC CNI gives pods addresses of the node subnets: anywhere in the VPC. The API
        # endpoint's ENIs, RDS and the internal ALB live in the VPC too (10.0.0.10, 10.0.20.5
        # and 10.0.1.5 for the example 10.0.0.0/16).
        vpc = _vpc(root)

        def inside(offset: int) -> IPv4Address | IPv6Address:
            return vpc[offset % vpc.num_addresses]

        return ClusterModel(
            vpc,
            (
                External("kube-api", inside(10), _tcp(443)),
                External("rds", inside(20 * 256 + 5), _tcp(5432)),
                External("alb", inside(256 + 5), _tcp(443)),  # target-type ip: sends to pod IPs
                External("s3", ip_address("52.95.0.1"), _tcp(443)),
                External("sts", ip_address("52.94.0.1"), _tcp(443)),
                internet,
            ),
        )
    return None


def _vpc(root: Path) -> IPNetwork:
    settings = root / EKS_SETTINGS
    lines = settings.read_text(encoding="utf-8").splitlines() if settings.is_file() else []
    for line in lines:
        key, _, value = line.partition("=")
        if key.strip() == "VPC_CIDR":
            try:
                return ip_network(value.strip(), strict=False)
            except ValueError:
                break  # the policies carry the same bad value; other checks report it
    return DEFAULT_VPC


@dataclass(frozen=True)
class UnrenderedPod:
    """A pod the tree does not render, with the labels its chart or operator really sets.
    `chart`: it runs in the destination namespace of the Application installing that chart;
    otherwise in `namespace`."""

    name: str
    labels: Mapping[str, str]
    ports: tuple[ContainerPort, ...]
    source: str
    namespace: str = ""
    chart: str = ""


UNRENDERED_PODS = (
    UnrenderedPod(
        "coredns",
        {"k8s-app": "kube-dns"},
        (ContainerPort(53, "UDP", "dns"), ContainerPort(53, "TCP", "dns-tcp"), *_tcp(9153)),
        # Kind installs CoreDNS with kubeadm; the EKS coredns add-on keeps kubeadm's labels
        # (its kube-dns Service selects k8s-app=kube-dns).
        "kubernetes/kubernetes cmd/kubeadm/app/phases/addons/dns/manifests.go (CoreDNSDeployment);"
        " aws.amazon.com/premiumsupport/knowledge-center/eks-dns-failure/",
        namespace="kube-system",
    ),
    UnrenderedPod(
        "prometheus-kube-prometheus-stack-prometheus",
        {
            NAME: "prometheus",
            "app.kubernetes.io/managed-by": "prometheus-operator",
            "app.kubernetes.io/instance": "kube-prometheus-stack-prometheus",
            "operator.prometheus.io/name": "kube-prometheus-stack-prometheus",
            "operator.prometheus.io/shard": "0",
            "prometheus": "kube-prometheus-stack-prometheus",
        },
        (ContainerPort(9090, "TCP", "web"),),
        # makeSelectorLabels() and the shard label in makeStatefulSetSpec(); the Prometheus
        # resource is named "<release>-prometheus" by the chart's prometheus.crname helper.
        "prometheus-operator/prometheus-operator v0.93.0 pkg/prometheus/server/operator.go "
        "makeSelectorLabels, pkg/prometheus/server/statefulset.go; prometheus-community/"
        "helm-charts charts/kube-prometheus-stack/templates/_helpers.tpl",
        chart="kube-prometheus-stack",
    ),
    UnrenderedPod(
        "unmanaged-pod",
        {},
        (),
        # Argo CD, controllers, add-ons: namespaces this tree puts no policy in.
        "stand-in for any pod of a namespace without NetworkPolicies",
        namespace="default",
    ),
)


@dataclass(frozen=True)
class Role:
    """Which endpoints a name in INTENTS stands for; `required`: clusters where at least one
    must exist (elsewhere a missing endpoint skips its paths)."""

    title: str
    labels: Mapping[str, str] = field(default_factory=dict)
    namespace: str | None = None  # None: any namespace
    external: str = ""
    required: frozenset[str] = frozenset()


ROLES: dict[str, Role] = {
    # Required per tenant: each tenant namespace must render them (see _missing). Every pod of
    # a tenant namespace: the shared inference Deployment's and each dedicated model's (whose
    # app.kubernetes.io/name differ); the tenant's project deploys nothing else there.
    "tenant": Role("inference pods", {}, TENANT, required=BOTH),
    "coredns": Role("CoreDNS pods", {"k8s-app": "kube-dns"}, "kube-system", required=BOTH),
    "prometheus": Role("Prometheus server pods", {NAME: "prometheus"}, required=BOTH),
    "mlflow": Role("MLflow server pods", {NAME: "mlflow"}, "mlflow", required=BOTH),
    "judge": Role("rollout judge pods", {NAME: "rollout-judge"}, "rollout-judge", required=BOTH),
    "minio": Role("MinIO pods", {NAME: "minio"}, "minio", required=ONLY_KIND),
    "create-bucket": Role("bucket Job pods", {NAME: "create-bucket"}, "minio", required=ONLY_KIND),
    **{
        name: Role(name, external=name)
        for name in ("kube-api", "kubernetes-service", "rds", "s3", "sts", "alb", "internet")
    },
}


@dataclass(frozen=True)
class Intent:
    src: str
    dst: str
    port: int | str | None  # number, container port name of the destination, or ANY_PORT
    protocol: str
    clusters: frozenset[str]
    allow: bool
    why: str


def allow(
    src: str, dst: str, port: int | str, why: str, on: frozenset[str] = BOTH, protocol: str = "TCP"
) -> Intent:
    return Intent(src, dst, port, protocol, on, True, why)


def deny(src: str, dst: str, why: str, on: frozenset[str] = BOTH) -> Intent:
    return Intent(src, dst, ANY_PORT, "TCP", on, False, why)


# from, to, port, why, on which clusters. Paths to a tenant, from a tenant: one row stands for
# every tenant of the cluster.
INTENTS: tuple[Intent, ...] = (
    allow("tenant", "coredns", 53, "tenants resolve Service names", protocol="UDP"),
    allow("tenant", "coredns", 53, "DNS answers too large for UDP"),
    allow("tenant", "mlflow", 5000, "the service loads its model from the MLflow registry"),
    allow("prometheus", "tenant", "http", "Prometheus scrapes every tenant's /metrics"),
    allow("mlflow", "minio", 9000, "MLflow stores artifacts in MinIO", ONLY_KIND),
    allow("create-bucket", "minio", 9000, "the PostSync Job creates the bucket", ONLY_KIND),
    allow("mlflow", "rds", 5432, "MLflow's backend store is RDS PostgreSQL", ONLY_EKS),
    allow("mlflow", "s3", 443, "MLflow stores artifacts in S3", ONLY_EKS),
    allow("mlflow", "sts", 443, "IRSA exchanges the ServiceAccount token at STS", ONLY_EKS),
    allow("alb", "tenant", "http", "the ALB sends tenant traffic to pod IPs", ONLY_EKS),
    allow("alb", "mlflow", "http", "the ALB sends registry traffic to pod IPs", ONLY_EKS),
    # The rollout judge reads Prometheus and acts through the registry, nothing else.
    allow("judge", "coredns", 53, "the judge resolves Service names", protocol="UDP"),
    allow("judge", "mlflow", 5000, "the judge reads and moves rollouts in the registry"),
    allow("judge", "prometheus", 9090, "the judge evaluates rollouts from Prometheus"),
    allow("prometheus", "judge", "metrics", "Prometheus scrapes the judge's own metrics"),
    # Denied paths are checked on every port the destination serves.
    deny("tenant", OTHER_TENANT, "tenants are isolated from each other"),
    deny("tenant", "minio", "models come through MLflow's artifact proxy, never from storage"),
    deny("tenant", "kube-api", "tenant pods have no business with the Kubernetes API"),
    deny("tenant", "kubernetes-service", "the API through its Service IP", ONLY_KIND),
    deny("tenant", "s3", "tenant pods never reach object storage", ONLY_EKS),
    deny("tenant", "internet", "tenant pods have no egress beyond DNS and MLflow"),
    deny(OUTSIDER, "tenant", "only Prometheus may call a tenant", ONLY_KIND),
    deny("judge", "tenant", "the judge's evidence comes from Prometheus, never the services"),
    deny("judge", "minio", "the judge never touches model storage", ONLY_KIND),
    deny("judge", "kube-api", "the judge writes nothing to the Kubernetes API"),
    deny("judge", "kubernetes-service", "the API through its Service IP", ONLY_KIND),
    deny("judge", "internet", "the judge reaches only DNS, MLflow and Prometheus"),
    deny("tenant", "judge", "tenants cannot reach the judge"),
    # Declared on EKS: the internal ALB sends traffic to pod IPs from inside the VPC, and the
    # VPC CNI gives pods addresses in the same VPC subnets, so the ALB rule (ipBlock VPC_CIDR)
    # also admits any VPC address, pods of other namespaces included. Tenants themselves stay
    # apart (their egress allows only DNS and MLflow, checked above); anything in the VPC can
    # call a tenant through the ALB anyway. docs/eks.md says how to narrow it with dedicated
    # load balancer subnets. What must stay out is everything outside the VPC:
    deny("internet", "tenant", "only the VPC reaches a tenant (the ALB is internal)", ONLY_EKS),
)


@register(CHECK, "intended network paths are open and forbidden ones closed, per NetworkPolicy")
def check(ctx: Context) -> Iterator[Finding]:
    for tree in ctx.trees:
        yield from check_cluster(tree, ctx.tenants.get(tree.cluster, frozenset()), ctx.root)


def check_cluster(tree: ClusterTree, tenants: frozenset[str], root: Path) -> Iterator[Finding]:
    cluster = tree.cluster
    model = cluster_model(cluster, root)
    if model is None:
        yield Finding(CHECK, cluster, "", "no network model for this cluster", f"{KIND} or {EKS}")
        return
    objects = _unique(tree.all_objects())
    endpoints: list[Endpoint] = [
        *_rendered_pods(objects, model.pod_network),
        *_unrendered_pods(tree, model.pod_network),
        *model.externals,
    ]
    network = Network(
        [o for o in objects if o.get("kind") == "NetworkPolicy"],
        {name_of(o): labels_of(o) for o in objects if o.get("kind") == "Namespace"},
    )
    members = {name: [e for e in endpoints if _plays(r, e, tenants)] for name, r in ROLES.items()}
    intents = [i for i in INTENTS if cluster in i.clusters]
    admitted = {id(e) for i in intents if i.allow and i.dst == "tenant" for e in members[i.src]}
    members[OUTSIDER] = [
        e
        for e in endpoints
        if id(e) not in admitted and not (isinstance(e, Pod) and e.namespace in tenants)
    ]
    yield from _missing(cluster, intents, members, tenants)
    for intent in intents:
        for src, dst in _pairs(intent, members):
            yield from _evaluate(cluster, network, intent, src, dst)


def _unique(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One copy of each object (an object deployed by two Applications counts once)."""
    seen: dict[tuple[str, str, str], dict[str, Any]] = {}
    for obj in objects:
        if isinstance(obj, dict):
            seen.setdefault((str(obj.get("kind")), namespace_of(obj), name_of(obj)), obj)
    return list(seen.values())


def _rendered_pods(objects: list[dict[str, Any]], network: IPNetwork) -> list[Pod]:
    pods = []
    for obj in objects:
        template = pod_template(obj)
        if template is None:
            continue
        ports = tuple(
            ContainerPort(
                port["containerPort"], str(port.get("protocol") or "TCP"), port.get("name") or ""
            )
            for container in containers(template.get("spec") or {})
            for port in container.get("ports") or []
            if isinstance(port.get("containerPort"), int)
        )
        pods.append(Pod(namespace_of(obj), name_of(obj), labels_of(template), ports, network))
    return pods


def _unrendered_pods(tree: ClusterTree, network: IPNetwork) -> list[Pod]:
    pods = []
    for pod in UNRENDERED_PODS:
        namespace = pod.namespace or _chart_namespace(tree, pod.chart)
        if namespace:
            pods.append(Pod(namespace, pod.name, pod.labels, pod.ports, network))
    return pods


def _chart_namespace(tree: ClusterTree, chart: str) -> str:
    for app in tree.apps:
        if any(source.get("chart") == chart for source in app_sources(app.obj)):
            return app.destination_namespace
    return ""  # the chart is not installed on this cluster: its pods do not exist


def _plays(role: Role, endpoint: Endpoint, tenants: frozenset[str]) -> bool:
    if role.external:
        return isinstance(endpoint, External) and endpoint.name == role.external
    if not isinstance(endpoint, Pod):
        return False
    if role.namespace == TENANT:
        in_namespace = endpoint.namespace in tenants
    else:
        in_namespace = role.namespace is None or endpoint.namespace == role.namespace
    return in_namespace and all(endpoint.labels.get(k) == v for k, v in role.labels.items())


def _describe(role: Role) -> str:
    where = "a tenant namespace" if role.namespace == TENANT else role.namespace or "any namespace"
    labels = ", ".join(f"{k}={v}" for k, v in role.labels.items())
    return f"{role.title} ({where}, {f'labels {labels}' if labels else 'any pod'})"


def _missing(
    cluster: str, intents: list[Intent], members: dict[str, list[Endpoint]], tenants: frozenset[str]
) -> Iterator[Finding]:
    used = {name for i in intents for name in (i.src, i.dst) if name in ROLES}
    for name in sorted(used):
        role = ROLES[name]
        if cluster in role.required and name != "tenant" and not members[name]:
            yield Finding(
                CHECK,
                cluster,
                "",
                f"no {_describe(role)} on this cluster: their network paths cannot be checked",
                "the workload (or the chart's Application) that runs them",
            )
    present = {e.namespace for e in members["tenant"] if isinstance(e, Pod)}
    for tenant in sorted(tenants - present):
        yield Finding(
            CHECK,
            cluster,
            "",
            f"tenant {tenant} renders no {_describe(ROLES['tenant'])}: its paths cannot be checked",
            "the tenant's inference Deployment",
        )


def _pairs(
    intent: Intent, members: dict[str, list[Endpoint]]
) -> Iterator[tuple[Endpoint, Endpoint]]:
    for src in members[intent.src]:
        if intent.dst == OTHER_TENANT:
            for dst in members["tenant"]:
                if isinstance(src, Pod) and isinstance(dst, Pod) and dst.namespace != src.namespace:
                    yield src, dst
        else:
            for dst in members[intent.dst]:
                if dst is not src:
                    yield src, dst


def _evaluate(
    cluster: str, network: Network, intent: Intent, src: Endpoint, dst: Endpoint
) -> Iterator[Finding]:
    if intent.port is ANY_PORT:
        # Every port the destination serves: a forbidden path stays closed on all of them.
        ports = sorted({(p.number, p.protocol) for p in dst.ports})
    elif isinstance(intent.port, str):
        ports = [(p.number, p.protocol) for p in dst.ports if p.name == intent.port][:1]
        if not ports and intent.allow:
            yield Finding(
                CHECK,
                cluster,
                "",
                f"{src} -> {dst}: the destination has no container port named {intent.port!r}",
                f"a container port {intent.port!r}: {intent.why}",
            )
        # A forbidden path to a port that does not exist is closed: nothing to check.
    else:
        ports = [(intent.port, intent.protocol)]
    for port, protocol in ports:
        verdict = network.allowed(src, dst, port, protocol)
        if verdict.allowed if intent.allow else verdict.denied:
            continue
        wanted = "allowed" if intent.allow else "denied"
        yield Finding(
            CHECK,
            cluster,
            "",
            f"{src} -> {dst}:{port}/{protocol} is not {wanted}: {verdict.explain()}",
            f"{wanted}: {intent.why}",
        )

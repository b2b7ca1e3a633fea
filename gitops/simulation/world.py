"""What exists besides the manifests when Argo CD starts: the start state of a simulation.

Everything here comes from outside the tree: the cluster as created (Kind or eksctl), what the
bootstrap script made before and after handing the cluster to Argo CD (namespaces, Secrets,
the Argo CD install and its argocd-cm), the images the nodes can run, the MLflow registry the
services read, and on EKS the AWS side the documented first-deploy steps create (Secrets
Manager entries, the ACM certificate, the IAM roles eksctl makes). The bootstrap stand-ins
(gitops/simulation/standins) fill it in from the calls a script makes; tests build it by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# Namespaces a new cluster has (kubeadm and EKS alike).
SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


@dataclass
class Registry:
    """The in-cluster MLflow as the services and the judge see it."""

    users: dict[str, str] = field(default_factory=dict)  # username -> password
    # model name -> alias -> version; a pinned version `models:/name/7` resolves if listed
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)
    versions: dict[str, int] = field(default_factory=dict)  # model name -> versions registered
    # model name -> the users granted READ on it: MLflow's basic auth grants nothing by
    # default here (base/mlflow), so a service reads only the models it was granted
    readers: dict[str, set[str]] = field(default_factory=dict)

    def resolves(self, model: str, alias_or_version: str) -> bool:
        if alias_or_version.isdigit():
            return 0 < int(alias_or_version) <= self.versions.get(model, 0)
        return bool(self.aliases.get(model, {}).get(alias_or_version))

    def can_read(self, user: str, model: str) -> bool:
        return user in self.readers.get(model, set())


@dataclass(frozen=True)
class Certificate:
    """An ACM certificate: usable by a load balancer once issued (DNS-validated)."""

    arn: str
    domains: tuple[str, ...]  # names and wildcards (`*.example.com`)
    issued: bool = True

    def covers(self, host: str) -> bool:
        for domain in self.domains:
            if domain == host:
                return True
            # a wildcard stands for exactly one leftmost label
            wildcard = domain.startswith("*.") and host.count(".") == domain.count(".")
            if wildcard and host.split(".", 1)[1] == domain[2:]:
                return True
        return False


@dataclass
class Cloud:
    """The AWS side of an EKS cluster, as the documented steps and eksctl leave it."""

    # Secrets Manager: key -> its JSON object, or a plain string
    secrets: dict[str, dict[str, str] | str] = field(default_factory=dict)
    certificates: list[Certificate] = field(default_factory=list)
    # IRSA roles eksctl made, "namespace/serviceaccount" -> role name
    roles: dict[str, str] = field(default_factory=dict)
    # ServiceAccounts eksctl itself created (iam.serviceAccounts without roleOnly)
    service_accounts: set[str] = field(default_factory=set)
    # eksctl tags the subnets it creates for load balancers (kubernetes.io/role/elb and
    # kubernetes.io/role/internal-elb), which the ALB controller discovers them by.
    tagged_subnets: frozenset[str] = frozenset({"internal", "internet-facing"})
    database: bool = True  # RDS PostgreSQL reachable inside the VPC (a documented step)


# (image name CI builds, commit) -> "" when that image exists at that tag, else why not
BuiltImage = Callable[[str, str], str]


@dataclass
class Images:
    """Which images the nodes can run."""

    # Kind: references loaded into the nodes with `kind load` (exact, as the pod names them)
    loaded: set[str] = field(default_factory=set)
    # where CI publishes the images it builds (ghcr.io/<owner>/<repo>/)
    own_prefix: str = ""
    # EKS: does CI's registry hold this image at this commit (None: nothing is published)
    published: BuiltImage | None = None
    # GHCR packages are private until made public: a pull needs imagePullSecrets
    private: bool = True


@dataclass
class World:
    cluster: str  # kind | eks
    namespaces: dict[str, dict[str, str]] = field(
        default_factory=lambda: {n: {} for n in SYSTEM_NAMESPACES}
    )
    secrets: dict[str, dict[str, str]] = field(default_factory=dict)  # "ns/name" -> data
    argocd_installed: bool = False
    # argocd-cm's data as the bootstrap patched it (the Application health check)
    argocd_cm: dict[str, str] = field(default_factory=dict)
    images: Images = field(default_factory=Images)
    registry: Registry = field(default_factory=Registry)
    cloud: Cloud = field(default_factory=Cloud)
    # StorageClasses the cluster comes with: name -> default? (Kind: local-path "standard")
    storage_classes: dict[str, bool] = field(default_factory=dict)
    # what serves the resource metrics API outside Argo CD (EKS: the metrics-server add-on)
    metrics_api: bool = False

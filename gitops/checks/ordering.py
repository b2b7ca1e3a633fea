"""`ordering`: everything a cluster's Applications deploy can be created in the order Argo CD
creates it.

How Argo CD orders a sync (argoproj/argo-cd v3.5.1):
- The root Application applies its children wave by wave and starts wave N+1 only once every
  resource of wave N is Healthy (docs/user-guide/sync-waves.md; gitops-engine
  pkg/sync/sync_context.go). A child Application has no health of its own unless the
  `resource.customizations.health.argoproj.io_Application` check is installed
  (docs/operator-manual/health.md, "Argocd App"): clusters/install-argocd.sh installs it, and
  this check insists on it. Applications an ApplicationSet generates are created when the
  ApplicationSet is applied, so they take its wave.
- Within one Application, Namespaces are applied before everything else of their wave, and
  CustomResourceDefinitions before the resources they define (gitops-engine
  pkg/sync/sync_tasks.go kind order; a CRD in the same sync skips the dry run of its CRs).
  `CreateNamespace=true` creates the destination namespace first.
- A custom resource whose CRD comes from nowhere earlier fails its sync (dry run: "the server
  could not find the requested resource"); automated sync does not retry the same revision
  once its retries are spent (docs/user-guide/auto_sync.md), so the resource stays missing.

What the check asserts, per cluster:
1. every custom resource's CRD is installed before it: by the Argo CD install (argoproj.io),
   by a chart of an Application in an earlier wave (CHART_CRDS, from each chart at its pinned
   version), or by a CustomResourceDefinition in the same or an earlier Application;
2. every namespace exists before anything lands in it;
3. every Secret and ConfigMap a pod references (env, envFrom, volumes, imagePullSecrets) is
   created by the same Application (a Secret, ConfigMap, or an ExternalSecret's target), an
   earlier one, or the bootstrap script (its ensure_secret calls, see bootstrap_script);
4. the guardrails of a tenant namespace (ResourceQuota, LimitRange, NetworkPolicies) precede
   its workload's pods for real: Kubernetes' ServiceAccount admission rejects a pod whose
   ServiceAccount does not exist (kubernetes/website, docs/reference/access-authn-authz/
   service-accounts-admin.md, "ServiceAccount admission controller"), so the pods must run as
   a ServiceAccount the kit creates in a later sync wave than every guardrail of the kit.
   Root waves alone do not do it: an ApplicationSet is Healthy once it has generated its
   Applications (resource_customizations/argoproj.io/ApplicationSet/health.lua), and a tenant
   added later gets its kit and its workload at the same moment.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from gitops.checks import Context, register
from gitops.tree import bootstrap_script
from gitops.tree.app_tree import App, ClusterTree
from gitops.tree.findings import Finding, annotations_of, name_of, namespace_of, obj_ref
from gitops.tree.repo_sources import app_sources
from gitops.tree.selectors import pod_template

CHECK = "ordering"
WAVE = "argocd.argoproj.io/sync-wave"
APPLICATION_HEALTH_KEY = "resource.customizations.health.argoproj.io_Application"
INSTALL_SCRIPT = "clusters/install-argocd.sh"
# What the install applies before the root Application: Argo CD's settings (base/argocd).
ARGOCD_SETTINGS = "overlays/{cluster}/argocd/config"
SETTINGS_APPLY = '"$REPO_ROOT/overlays/$CLUSTER/argocd/config"'
# Installed by clusters/install-argocd.sh before any Application exists.
ARGOCD_GROUPS = frozenset({"argoproj.io"})
# CRD groups a chart installs at the version the Applications pin (default values), from the
# chart at that tag: kube-prometheus-stack-88.5.3 charts/crds/crds/ (crds.enabled: true);
# external-secrets helm-chart-2.9.0 templates/crds/ (installCRDs: true);
# aws-load-balancer-controller v3.5.0 helm/aws-load-balancer-controller/crds/.
CHART_CRDS = {
    "kube-prometheus-stack": frozenset({"monitoring.coreos.com"}),
    "external-secrets": frozenset({"external-secrets.io"}),
    "aws-load-balancer-controller": frozenset({"elbv2.k8s.aws"}),
}
# Namespaces every cluster has before the bootstrap runs (argocd: the bootstrap's first step).
PREEXISTING_NAMESPACES = frozenset({"default", "kube-system", "kube-public", "argocd"})
GUARDRAIL_KINDS = frozenset({"ResourceQuota", "LimitRange", "NetworkPolicy"})


@dataclass(frozen=True)
class Step:
    """One Application and the root wave in which Argo CD creates it."""

    app: App
    wave: int


@register(CHECK, "custom resources, namespaces, Secrets and guardrails come before their users")
def check(ctx: Context) -> Iterable[Finding]:
    findings: list[Finding] = []
    for tree in ctx.trees:
        findings += _application_health_check(ctx, tree.cluster)
        tenants = ctx.tenants.get(tree.cluster, frozenset())
        steps = _steps(tree)
        created = bootstrap_script.read(ctx.root, tree.cluster, tenants)
        findings += _custom_resources(tree, steps, _custom_groups(ctx, steps))
        findings += _namespaces(tree, steps, created.namespaces)
        findings += _references(tree, steps, created.secrets)
        findings += _guardrails(tree, steps, tenants)
    return findings


def _application_health_check(ctx: Context, cluster: str) -> list[Finding]:
    """The install applies the cluster's Argo CD settings, and their argocd-cm sets the
    Application health check, before the root Application's first sync."""
    settings = ARGOCD_SETTINGS.format(cluster=cluster)
    if SETTINGS_APPLY not in _read(ctx, INSTALL_SCRIPT):
        return [
            Finding(
                CHECK,
                INSTALL_SCRIPT,
                "",
                f"the Argo CD install does not apply Argo CD's settings ({settings})",
                f"`apply -k {SETTINGS_APPLY}`: the Application health check, without which "
                "sync waves do not wait for child Applications",
            )
        ]
    rendered = next((r for r in ctx.built if r.rel == settings), None)
    data = next(
        (
            (o.get("data") or {})
            for o in (rendered.objects if rendered else [])
            if o.get("kind") == "ConfigMap" and name_of(o) == "argocd-cm"
        ),
        {},
    )
    if APPLICATION_HEALTH_KEY in data:
        return []
    return [
        Finding(
            CHECK,
            settings,
            "ConfigMap argocd/argocd-cm",
            f"the Argo CD install does not set {APPLICATION_HEALTH_KEY}",
            "the Application health check, without which sync waves do not wait for "
            "child Applications",
        )
    ]


def _read(ctx: Context, rel: str) -> str:
    path = ctx.root / rel
    return path.read_text(encoding="utf-8") if path.is_file() else ""


def wave_of(obj: dict[str, Any]) -> int:
    try:
        return int(str(annotations_of(obj).get(WAVE, "0")))
    except ValueError:
        return 0  # the sync-waves check reports a wave that is not an integer


def _steps(tree: ClusterTree) -> list[Step]:
    """Every Application below the root with the wave of the root's object it comes from."""
    roots = {a.ref for a in tree.apps if a.parent.startswith("clusters/")}
    root_objects = {
        obj_ref(o): o
        for a in tree.apps
        if a.ref in roots
        for o in a.objects
        if o.get("kind") in ("Application", "ApplicationSet")
    }
    steps = []
    for app in tree.apps:
        if app.ref in roots:
            continue
        origin = root_objects.get(app.generated_by or app.ref)
        steps.append(Step(app, wave_of(origin) if origin else 0))
    return steps


def _chart(app: App) -> str:
    return next((str(s["chart"]) for s in app_sources(app.obj) if s.get("chart")), "")


def _group(obj: dict[str, Any]) -> str:
    return str(obj.get("apiVersion", "")).rpartition("/")[0]


def _custom_groups(ctx: Context, steps: list[Step]) -> frozenset[str]:
    """API groups served by CRDs: the pinned ones, the charts', and any CRD deployed."""
    deployed = {g for s in steps for g in _installs(s.app)}
    return frozenset(ctx.crds.groups | deployed | ARGOCD_GROUPS).union(*CHART_CRDS.values())


def _custom_resources(
    tree: ClusterTree, steps: list[Step], custom: frozenset[str]
) -> list[Finding]:
    findings = []
    for step in steps:
        for obj in step.app.objects:
            group = _group(obj)
            if group not in custom or group in ARGOCD_GROUPS or group in _installs(step.app):
                continue
            earlier = [s for s in steps if s.wave < step.wave and group in _installs(s.app)]
            if earlier:
                continue
            same_wave = [
                s.app.ref for s in steps if s.wave == step.wave and group in _installs(s.app)
            ]
            later = [
                f"{s.app.ref} (wave {s.wave})"
                for s in steps
                if s.wave > step.wave and group in _installs(s.app)
            ]
            problem = f"{group} resource in wave {step.wave}, but its CRD is installed "
            if same_wave:
                problem += f"in the same wave by {', '.join(same_wave)}"
            elif later:
                problem += f"only later, by {', '.join(later)}"
            else:
                problem += "by no Application of this cluster"
            findings.append(
                Finding(
                    CHECK,
                    step.app.where,
                    obj_ref(obj),
                    problem,
                    "an Application that installs the CRD in an earlier sync wave",
                )
            )
    return findings


def _installs(app: App) -> frozenset[str]:
    chart = CHART_CRDS.get(_chart(app), frozenset())
    crds = {
        str((o.get("spec") or {}).get("group"))
        for o in app.objects
        if o.get("kind") == "CustomResourceDefinition"
    }
    return chart | crds


def _namespaces(tree: ClusterTree, steps: list[Step], bootstrap: set[str]) -> list[Finding]:
    made: dict[str, int] = {}  # namespace -> earliest wave it exists in
    for step in steps:
        owned = {name_of(o) for o in step.app.objects if o.get("kind") == "Namespace"}
        if "CreateNamespace=true" in _sync_options(step.app) and step.app.destination_namespace:
            owned.add(step.app.destination_namespace)
        for namespace in owned:
            made[namespace] = min(made.get(namespace, step.wave), step.wave)
    findings = []
    for step in steps:
        own = {name_of(o) for o in step.app.objects if o.get("kind") == "Namespace"}
        if "CreateNamespace=true" in _sync_options(step.app):
            own.add(step.app.destination_namespace)
        for namespace in sorted({namespace_of(o) for o in step.app.objects} - {""}):
            if namespace in own or namespace in PREEXISTING_NAMESPACES | bootstrap:
                continue
            wave = made.get(namespace)
            if wave is not None and wave < step.wave:
                continue
            when = "in no Application" if wave is None else f"in wave {wave}, not before"
            findings.append(
                Finding(
                    CHECK,
                    step.app.where,
                    f"namespace {namespace}",
                    f"used in wave {step.wave} but created {when}",
                    "the Namespace in the same Application, an earlier wave, CreateNamespace, "
                    "or the bootstrap",
                )
            )
    return findings


def _sync_options(app: App) -> list[str]:
    return list(((app.obj.get("spec") or {}).get("syncPolicy") or {}).get("syncOptions") or [])


def _created(app: App) -> set[tuple[str, str, str]]:
    """(kind, namespace, name) of the Secrets and ConfigMaps an Application creates; an
    ExternalSecret creates its target Secret (target.name, default: its own name)."""
    made = set()
    for obj in app.objects:
        kind = obj.get("kind")
        if kind in ("Secret", "ConfigMap"):
            made.add((str(kind), namespace_of(obj), name_of(obj)))
        elif kind == "ExternalSecret":
            target = ((obj.get("spec") or {}).get("target") or {}).get("name") or name_of(obj)
            made.add(("Secret", namespace_of(obj), str(target)))
    return made


def referenced(pod_spec: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of every Secret and ConfigMap a pod needs to start (optional ones aside)."""
    needed: set[tuple[str, str]] = set()
    for ref in pod_spec.get("imagePullSecrets") or []:
        needed.add(("Secret", str(ref.get("name"))))
    for volume in pod_spec.get("volumes") or []:
        if (secret := volume.get("secret")) and not secret.get("optional"):
            needed.add(("Secret", str(secret.get("secretName"))))
        if (config := volume.get("configMap")) and not config.get("optional"):
            needed.add(("ConfigMap", str(config.get("name"))))
    for key in ("initContainers", "containers"):
        for container in pod_spec.get(key) or []:
            for source in container.get("envFrom") or []:
                for field_, kind in (("secretRef", "Secret"), ("configMapRef", "ConfigMap")):
                    if (ref := source.get(field_)) and not ref.get("optional"):
                        needed.add((kind, str(ref.get("name"))))
            for env in container.get("env") or []:
                value_from = env.get("valueFrom") or {}
                for field_, kind in (("secretKeyRef", "Secret"), ("configMapKeyRef", "ConfigMap")):
                    if (ref := value_from.get(field_)) and not ref.get("optional"):
                        needed.add((kind, str(ref.get("name"))))
    return needed


def _references(
    tree: ClusterTree, steps: list[Step], bootstrap: set[tuple[str, str]]
) -> list[Finding]:
    by_wave = [(s.wave, _created(s.app), s.app.ref) for s in steps]
    findings = []
    for step in steps:
        own = _created(step.app)
        for obj in step.app.objects:
            template = pod_template(obj)
            if template is None:
                continue
            namespace = namespace_of(obj)
            for kind, name in sorted(referenced(template.get("spec") or {})):
                key = (kind, namespace, name)
                if key in own or (kind == "Secret" and (namespace, name) in bootstrap):
                    continue
                if any(key in made and wave < step.wave for wave, made, _ in by_wave):
                    continue
                later = [f"{ref} (wave {w})" for w, made, ref in by_wave if key in made]
                findings.append(
                    Finding(
                        CHECK,
                        step.app.where,
                        obj_ref(obj),
                        f"needs {kind} {namespace}/{name}, created "
                        + (f"only by {', '.join(later)}" if later else "by nothing deployed")
                        + " and not by the bootstrap",
                        "the same Application, an earlier wave, or an ensure_secret call of "
                        f"clusters/{tree.cluster}/bootstrap.sh",
                    )
                )
    return findings


def _guardrails(tree: ClusterTree, steps: list[Step], tenants: frozenset[str]) -> list[Finding]:
    findings = []
    for tenant in sorted(tenants):
        guarded = [
            (s, o)
            for s in steps
            for o in s.app.objects
            if o.get("kind") in GUARDRAIL_KINDS and namespace_of(o) == tenant
        ]
        if not guarded:
            continue  # tenancy reports a tenant without guardrails
        for step in steps:
            for obj in step.app.objects:
                template = pod_template(obj)
                if template is None or namespace_of(obj) != tenant:
                    continue
                account = (template.get("spec") or {}).get("serviceAccountName") or "default"
                findings += _gated(step, obj, account, guarded, steps, tenant)
    return findings


def _gated(
    step: Step,
    workload: dict[str, Any],
    account: str,
    guarded: list[tuple[Step, dict[str, Any]]],
    steps: list[Step],
    tenant: str,
) -> list[Finding]:
    """The pods of `workload` can only be admitted once their ServiceAccount exists: it must
    be created by the Application that creates the guardrails, in a later wave than all of
    them (within one Application the waves are ordered on every sync, not just the first)."""
    expected = (
        f"serviceAccountName naming a ServiceAccount of {tenant}'s kit with a sync wave after "
        "its ResourceQuota, LimitRange and NetworkPolicies"
    )
    if account == "default":
        return [
            Finding(
                CHECK,
                step.app.where,
                obj_ref(workload),
                "runs as the namespace's default ServiceAccount, which exists as soon as the "
                "namespace does: nothing keeps its pods out until the guardrails exist",
                expected,
            )
        ]
    owners = [
        (s, o)
        for s in steps
        for o in s.app.objects
        if o.get("kind") == "ServiceAccount" and name_of(o) == account and namespace_of(o) == tenant
    ]
    if not owners:
        return []  # a missing account keeps pods out for good; crossrefs' business, not ours
    owner, account_obj = owners[0]
    account_wave = wave_of(account_obj)
    outside = sorted({s.app.ref for s, _ in guarded if s.app.ref != owner.app.ref})
    late = [
        obj_ref(o) for s, o in guarded if s.app.ref == owner.app.ref and wave_of(o) >= account_wave
    ]
    problems = []
    if outside:
        problems.append(
            f"ServiceAccount {account} comes from {owner.app.ref}, the guardrails from "
            f"{', '.join(outside)}: nothing orders the two"
        )
    if late:
        problems.append(
            f"ServiceAccount {account} (wave {account_wave}) is not after {', '.join(late)}"
        )
    if not problems:
        return []
    return [Finding(CHECK, step.app.where, obj_ref(workload), "; ".join(problems), expected)]

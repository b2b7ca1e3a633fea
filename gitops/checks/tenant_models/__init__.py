"""`tenant-models`: what each tenant declares in models.yaml (docs/models.md) is valid, is
what its Deployments are given, and a model with its own Deployment is served apart from the
shared one and under the same guardrails.

From the files (declarations.py):
- each tenant folder of each cluster has a models.yaml that the contract parser
  (service/inference/contracts/tenant_models.py, the one the service and training use) reads,
  every name carrying the tenant's prefix;
- no model name is declared by two tenants (on any cluster): the registry's names are
  shared, and a name is what the tenant's credentials are granted on.

From each cluster's Application tree, per tenant namespace (deployments.py):
- the tenant overlay renders models.yaml unchanged into the ConfigMap tenant-models, and every
  inference Deployment reads it from there (its models file, MODELS_FILE or the default);
- every Deployment serves what it can: MODEL_DEPLOYMENT is `shared` or a dedicated model's
  name (the service refuses anything else), and no Deployment sets MODEL_URI beside a models
  file (the service refuses both);
- a pickle-free tenant's (pickleFree: true) Deployments do not set MODEL_RUNTIME=sklearn,
  which the service refuses to start with; only a pickle-free tenant's Deployments run the
  slim image (inference-service-slim, ONNX only);
- dedicated entries and rendered dedicated Deployments match both ways, one each, and the
  shared Deployment serves at least one model;
- isolation (isolation.py): the shared Deployment's selector is the one running clusters have
  (immutable), no Service, PodDisruptionBudget or Deployment selector covers the pods of two
  inference Deployments (the shared Service never reaches a dedicated model's
  pods), every inference pod is scraped by exactly one ServiceMonitor, the tenant's
  NetworkPolicies select every inference pod alike, Service names are RFC 1035 labels and pod
  label values at most 63 characters, and where the tenant has an Ingress each dedicated
  model's paths reach its own Service before the shared Ingress's catch-all.

Memory (each Deployment's limit against what its models need) and the tenant's total against
its quota are the `capacity` check's; rollout policies are `rollout-policies`'.
"""

from __future__ import annotations

from collections.abc import Iterable

from gitops.checks import Context, register
from gitops.checks.tenant_models.declarations import declaration_findings
from gitops.checks.tenant_models.deployments import tenant_findings
from gitops.checks.tenant_models.shared import CHECK, tenant_objects
from gitops.tree.findings import Finding


@register(
    CHECK,
    "each tenant's models.yaml is valid, rendered, mounted and served; dedicated Deployments "
    "match it and stay apart",
    order=140,
)
def check(ctx: Context) -> Iterable[Finding]:
    yield from declaration_findings(ctx.root)
    for tree in ctx.trees:
        for tenant in sorted(ctx.tenants.get(tree.cluster, frozenset())):
            app, objects = tenant_objects(tree, tenant)
            if app is not None:
                yield from tenant_findings(ctx.root, tree.cluster, tenant, app, objects)

"""What each of the platform's images needs before its readiness probe passes.

A model of the programs the pods run, read from their code:
- the inference service (`service/`): `/ready` answers 503 until every model it serves is
  loaded (service/inference/api/app.py), which needs the MLflow server up, a registry user
  with the pod's password (MLFLOW_TRACKING_USERNAME/PASSWORD) and each model resolving (an
  alias that is set, or a registered version). The models are the entries of the models file
  mounted from the tenant's ConfigMap tenant-models that this Deployment serves
  (MODEL_DEPLOYMENT: `shared` or a dedicated model's name; gitops/tree/tenant_models.py);
  without a models file, the one model MODEL_URI names;
- the MLflow server (`base/mlflow/image`): `/health` answers once the server runs, which on
  EKS needs its backend store (RDS PostgreSQL, a documented step) to accept connections;
- the rollout judge (`training/rollout/`): `/healthz` answers as soon as the process runs
  (training/rollout/judge.py, serve_metrics);
- MinIO's `mc` Job (create the bucket) succeeds once MinIO answers.
Any other image is ready once it starts (third-party images with their own probes: the
charts' and MinIO's).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from gitops.simulation.cluster import Cluster
from gitops.simulation.pods import configmap_data, container_env
from gitops.simulation.world import World
from gitops.tree.pins import split_image
from gitops.tree.tenant_models import INFERENCE_IMAGES, served_declaration, serving
from inference.contracts.tenant_models import ModelsError

_MODEL_URI = re.compile(r"^models:/(?P<name>[^@/]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")

# Reports whether a workload (namespace, app.kubernetes.io/name) has a ready pod.
ReadyWorkload = Callable[[str, str], bool]


def image_name(container: dict[str, Any]) -> str:
    return split_image(str(container.get("image", "")))[0].rsplit("/", 1)[-1]


def not_ready_reason(
    container: dict[str, Any],
    namespace: str,
    cluster: Cluster,
    world: World,
    ready_workload: ReadyWorkload,
    spec: dict[str, Any] | None = None,
) -> str:
    """Why the container's readiness probe fails ("" when it passes); `spec`: the pod spec
    the container belongs to (its volumes)."""
    name = image_name(container)
    if name in INFERENCE_IMAGES:
        return _inference(container, spec or {}, namespace, cluster, world, ready_workload)
    if name == "mlflow-server" and world.cluster == "eks" and not world.cloud.database:
        return "mlflow cannot reach its backend store (no RDS database)"
    if name == "mc" and not ready_workload("minio", "minio"):
        return "the bucket job waits for MinIO"
    return ""


def _inference(
    container: dict[str, Any],
    spec: dict[str, Any],
    namespace: str,
    cluster: Cluster,
    world: World,
    ready_workload: ReadyWorkload,
) -> str:
    env = container_env(container, namespace, cluster)
    models = _served_models(container, spec, env, namespace, cluster)
    if isinstance(models, str):
        return models
    if not ready_workload("mlflow", "mlflow"):
        return "/ready 503: the MLflow server is not ready"
    user, password = env.get("MLFLOW_TRACKING_USERNAME", ""), env.get("MLFLOW_TRACKING_PASSWORD")
    if world.registry.users.get(user) is None or world.registry.users.get(user) != password:
        return f"/ready 503: MLflow refuses user {user!r} (401: no such user or another password)"
    refused = sorted({m for m, _ in models.values() if not world.registry.can_read(user, m)})
    if refused:
        return (
            f"/ready 503: MLflow refuses user {user!r} READ on {', '.join(refused)} (403: no "
            "permission; provision-tenant in clusters/platform-steps.sh)"
        )
    missing = [uri for uri, (m, served) in models.items() if not world.registry.resolves(m, served)]
    if missing:
        return (
            f"/ready 503: {', '.join(missing)} does not resolve (no version registered or "
            "alias not set)"
        )
    return ""


def _served_models(
    container: dict[str, Any],
    spec: dict[str, Any],
    env: dict[str, str],
    namespace: str,
    cluster: Cluster,
) -> dict[str, tuple[str, str]] | str:
    """URI -> (model, alias or version) of every model the container serves, or why /ready
    can never answer 200."""
    config = serving(spec, container, env)
    if config.mounted is not None:
        data = configmap_data(cluster, namespace, config.mounted.configmap) or {}
        try:
            served = served_declaration(data.get(config.mounted.key), None).served_by(
                config.deployment
            )
        except ModelsError as error:
            return f"/ready 503: {config.models_file}: {error}"
        return {str(m.uri): (m.name, str(m.alias or m.version)) for m in served}
    if config.model_uri is None:
        return f"/ready 503: no models file at {config.models_file} and no MODEL_URI"
    uri = config.model_uri
    match = _MODEL_URI.match(uri)
    if match is None:
        expected = "models:/<name>@<alias> or models:/<name>/<version>"
        return f"/ready 503: MODEL_URI {uri!r} is not {expected}"
    return {uri: (match["name"], match["alias"] or match["version"])}

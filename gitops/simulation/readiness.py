"""What each of the platform's images needs before its readiness probe passes.

A model of the programs the pods run, read from their code:
- the inference service (`service/`): `/ready` answers 503 until a model version is loaded
  (service/inference/api/app.py), which needs the MLflow server up, a registry user with the
  pod's password (MLFLOW_TRACKING_USERNAME/PASSWORD) and MODEL_URI resolving (an alias that is
  set, or a registered version);
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
from gitops.simulation.pods import container_env
from gitops.simulation.world import World
from gitops.tree.pins import split_image

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
) -> str:
    """Why the container's readiness probe fails ("" when it passes)."""
    name = image_name(container)
    if name == "inference-service":
        return _inference(container, namespace, cluster, world, ready_workload)
    if name == "mlflow-server" and world.cluster == "eks" and not world.cloud.database:
        return "mlflow cannot reach its backend store (no RDS database)"
    if name == "mc" and not ready_workload("minio", "minio"):
        return "the bucket job waits for MinIO"
    return ""


def _inference(
    container: dict[str, Any],
    namespace: str,
    cluster: Cluster,
    world: World,
    ready_workload: ReadyWorkload,
) -> str:
    env = container_env(container, namespace, cluster)
    uri = env.get("MODEL_URI", "")
    match = _MODEL_URI.match(uri)
    if match is None:
        expected = "models:/<name>@<alias> or models:/<name>/<version>"
        return f"/ready 503: MODEL_URI {uri!r} is not {expected}"
    if not ready_workload("mlflow", "mlflow"):
        return "/ready 503: the MLflow server is not ready"
    user, password = env.get("MLFLOW_TRACKING_USERNAME", ""), env.get("MLFLOW_TRACKING_PASSWORD")
    if world.registry.users.get(user) is None or world.registry.users.get(user) != password:
        return f"/ready 503: MLflow refuses user {user!r} (401: no such user or another password)"
    model, served = match["name"], match["alias"] or match["version"]
    if not world.registry.resolves(model, served):
        return f"/ready 503: {uri} does not resolve (no version registered or alias not set)"
    return ""

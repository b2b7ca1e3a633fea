"""A tenant's models in the tree: overlays/<cluster>/tenants/<tenant>/models.yaml, read with the
service's own parser (service/inference/contracts/tenant_models.py), and which of them a
rendered inference pod serves.

In the cluster the tenant overlay turns models.yaml into the ConfigMap `tenant-models`, which
the inference Deployment (base/inference) mounts read-only at /etc/inference/models/. Each
Deployment serves `served_by(MODEL_DEPLOYMENT)` of the file it reads: the shared one every
model without `deployment: dedicated` (MODEL_DEPLOYMENT unset: `shared`), a dedicated one
(MODEL_DEPLOYMENT=<model name>) that model alone. The service's settings name these variables
and defaults (service/inference/settings.py): MODELS_FILE, MODEL_DEPLOYMENT,
ROLLOUT_POLICY_DIR; the `service-settings` check runs the pinned image's own settings against
what the Deployment gives it, so a disagreement with these constants cannot reach a cluster.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from gitops import paths
from gitops.tree.findings import name_of
from gitops.tree.pins import split_image
from gitops.tree.selectors import pod_template
from gitops.tree.tenants import tenant_namespaces
from inference.contracts.tenant_models import (
    FILE_NAME,
    SHARED,
    ModelsError,
    TenantModels,
    load_file,
    parse,
)

CONFIGMAP = "tenant-models"
MODELS_DIR = "/etc/inference/models"
MODELS_FILE_VARIABLE = "MODELS_FILE"
DEFAULT_MODELS_FILE = f"{MODELS_DIR}/{FILE_NAME}"
DEPLOYMENT_VARIABLE = "MODEL_DEPLOYMENT"
DEFAULT_DEPLOYMENT = SHARED
ROLLOUT_DIR_VARIABLE = "ROLLOUT_POLICY_DIR"
DEFAULT_ROLLOUT_DIR = "/etc/inference/rollout"
# A dedicated model's Deployment, Service, HPA, PDB and ServiceMonitor: a kustomization in
# this folder of the tenant overlay, one per model (overlays/<c>/tenants/<t>/dedicated/<model>).
DEDICATED_DIR = "dedicated"


def models_file(tenant_folder: Path) -> Path:
    return tenant_folder / FILE_NAME


def read_declaration(tenant_folder: Path) -> TenantModels:
    """The tenant's models.yaml, every name carrying the tenant's prefix (the folder's name);
    ModelsError names the field, or says the file is missing."""
    path = models_file(tenant_folder)
    if not path.is_file():
        raise ModelsError(f"no {FILE_NAME}: every tenant declares the models it serves")
    return load_file(path, tenant_folder.name)


def declarations(root: Path, cluster: str) -> dict[str, TenantModels | ModelsError]:
    """tenant -> its declaration (or why it cannot be read), for every tenant folder of a
    cluster (folders with a kustomization)."""
    folder = paths.tenants_dir(cluster, root)
    out: dict[str, TenantModels | ModelsError] = {}
    for tenant in sorted(tenant_namespaces(root, cluster)):
        try:
            out[tenant] = read_declaration(folder / tenant)
        except ModelsError as error:
            out[tenant] = error
    return out


@dataclass(frozen=True)
class MountedFile:
    """Where a file a container reads comes from: a key of a ConfigMap volume."""

    volume: str
    configmap: str
    key: str
    optional: bool


def mounted_configmap_file(
    spec: dict[str, Any], container: dict[str, Any], path: str
) -> MountedFile | None:
    """The ConfigMap key the container sees at `path`, through its volumeMounts (a whole
    volume as a folder, or one file with subPath) and the volume's `items`; None when no
    ConfigMap volume puts a file there."""
    volumes = {str(v.get("name")): v for v in spec.get("volumes") or []}
    wanted = PurePosixPath(path)
    for mount in container.get("volumeMounts") or []:
        volume = volumes.get(str(mount.get("name")))
        source = (volume or {}).get("configMap")
        if not isinstance(source, dict):
            continue
        mount_path = PurePosixPath(str(mount.get("mountPath", "")))
        sub_path = str(mount.get("subPath") or "")
        if sub_path:
            relative = sub_path if wanted == mount_path else ""
        elif wanted.parent == mount_path:
            relative = wanted.name
        else:
            relative = ""
        if not relative:
            continue
        key = _key_for(source, relative)
        if key is not None:
            return MountedFile(
                str(mount.get("name")),
                str(source.get("name")),
                key,
                bool(source.get("optional")),
            )
    return None


def _key_for(source: dict[str, Any], relative: str) -> str | None:
    """The ConfigMap key a file of the volume comes from (items map keys to paths)."""
    items = source.get("items")
    if not items:
        return relative
    for item in items:
        if str(item.get("path")) == relative:
            return str(item.get("key"))
    return None


@dataclass(frozen=True)
class Serving:
    """What one inference container is configured to serve."""

    deployment: str  # MODEL_DEPLOYMENT, or its default
    models_file: str  # MODELS_FILE, or its default
    mounted: MountedFile | None  # the ConfigMap key behind the models file, if mounted
    model_uri: str | None  # MODEL_URI, the one-model setting (dev, tests, bench)


def serving(spec: dict[str, Any], container: dict[str, Any], env: dict[str, str]) -> Serving:
    """The inference container's models configuration, from its pod spec and its
    environment (as the kubelet assembles it from env and envFrom)."""
    models_path = env.get(MODELS_FILE_VARIABLE) or DEFAULT_MODELS_FILE
    return Serving(
        deployment=env.get(DEPLOYMENT_VARIABLE) or DEFAULT_DEPLOYMENT,
        models_file=models_path,
        mounted=mounted_configmap_file(spec, container, models_path),
        model_uri=env.get("MODEL_URI") or None,
    )


def served_declaration(text: str | None, tenant: str | None) -> TenantModels:
    """The declaration a mounted models.yaml holds (ModelsError when it cannot be read)."""
    import yaml

    if text is None:
        raise ModelsError(f"no {FILE_NAME} in the mounted ConfigMap")
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ModelsError(f"cannot read it: {error}".splitlines()[0]) from None
    return parse(document, tenant)


def rendered_env(
    container: dict[str, Any], configmaps: dict[str, dict[str, Any]]
) -> dict[str, str]:
    """A container's environment from rendered objects: envFrom ConfigMaps (by name, same
    namespace) and literal env values; values read from Secrets or fields are left out."""
    env: dict[str, str] = {}
    for source in container.get("envFrom") or []:
        name = (source.get("configMapRef") or {}).get("name")
        data = (configmaps.get(str(name)) or {}).get("data") or {}
        env |= {f"{source.get('prefix', '')}{k}": str(v) for k, v in data.items()}
    for var in container.get("env") or []:
        if "value" in var:
            env[str(var.get("name"))] = str(var["value"])
        ref = (var.get("valueFrom") or {}).get("configMapKeyRef")
        if ref:
            data = (configmaps.get(str(ref.get("name"))) or {}).get("data") or {}
            if ref.get("key") in data:
                env[str(var.get("name"))] = str(data[ref["key"]])
    return env


# The images the inference service runs: `.../inference-service:<tag>` (or the base's
# placeholder `inference-service:set-by-overlay`), by the last component of its repository;
# or the slim one for pickle-free tenants (ONNX only, .github/workflows/image.yaml), which a
# tenant chooses with the component overlays/<cluster>/components/slim-image.
INFERENCE_IMAGE = "inference-service"
SLIM_INFERENCE_IMAGE = "inference-service-slim"
INFERENCE_IMAGES = frozenset({INFERENCE_IMAGE, SLIM_INFERENCE_IMAGE})


def inference_image_name(image: str) -> str:
    """`inference-service`, `inference-service-slim` or another image's last path component."""
    return split_image(image)[0].rsplit("/", 1)[-1]


def is_inference_container(container: dict[str, Any]) -> bool:
    return inference_image_name(str(container.get("image", ""))) in INFERENCE_IMAGES


@dataclass(frozen=True)
class InferenceWorkload:
    """A rendered workload whose pods run the inference service, and what it is set to serve."""

    workload: dict[str, Any]
    spec: dict[str, Any]  # its pod template's spec
    container: dict[str, Any]  # the inference container
    env: dict[str, str]  # what rendered_env sees of the container's environment
    serving: Serving

    @property
    def name(self) -> str:
        return name_of(self.workload)

    def declaration(
        self, configmaps: dict[str, dict[str, Any]], tenant: str | None
    ) -> TenantModels:
        """The declaration its mounted models file holds (ModelsError when there is none or
        it cannot be read)."""
        mounted = self.serving.mounted
        if mounted is None:
            raise ModelsError(
                f"no ConfigMap is mounted at {self.serving.models_file} "
                f"({MODELS_FILE_VARIABLE} or its default)"
            )
        data = (configmaps.get(mounted.configmap) or {}).get("data") or {}
        return served_declaration(data.get(mounted.key), tenant)


def configmaps_by_name(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The ConfigMaps among `objects` (one namespace's), by name."""
    return {name_of(o): o for o in objects if o.get("kind") == "ConfigMap"}


def inference_workloads(objects: list[dict[str, Any]]) -> list[InferenceWorkload]:
    """Every workload among `objects` (one namespace's) that runs the inference service."""
    configmaps = configmaps_by_name(objects)
    found = []
    for obj in objects:
        spec = (pod_template(obj) or {}).get("spec") or {}
        for container in spec.get("containers") or []:
            if is_inference_container(container):
                env = rendered_env(container, configmaps)
                found.append(
                    InferenceWorkload(obj, spec, container, env, serving(spec, container, env))
                )
    return found

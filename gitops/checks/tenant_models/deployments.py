"""The `tenant-models` rules on what a tenant's Deployments are given: the tenant's
models.yaml, rendered unchanged into the ConfigMap tenant-models and mounted where each
Deployment reads its models file, and MODEL_DEPLOYMENT naming what the declaration has for it
(the shared models, or one dedicated model; both ways)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gitops import paths
from gitops.checks.tenant_models.isolation import isolation_findings
from gitops.checks.tenant_models.shared import CHECK
from gitops.tree.app_tree import App
from gitops.tree.findings import Finding
from gitops.tree.tenant_models import (
    CONFIGMAP,
    DEDICATED_DIR,
    DEPLOYMENT_VARIABLE,
    INFERENCE_IMAGE,
    MODELS_FILE_VARIABLE,
    SLIM_INFERENCE_IMAGE,
    InferenceWorkload,
    configmaps_by_name,
    inference_image_name,
    inference_workloads,
    models_file,
    read_declaration,
)
from inference.contracts.tenant_models import FILE_NAME, SHARED, ModelsError, TenantModels

# The service's choice of runtime (inference/settings.py): sklearn always unpickles.
RUNTIME_VARIABLE = "MODEL_RUNTIME"


def tenant_findings(
    root: Path, cluster: str, tenant: str, app: App, objects: list[dict[str, Any]]
) -> Iterator[Finding]:
    folder = paths.tenants_dir(cluster, root) / tenant
    try:
        declared = read_declaration(folder)
    except ModelsError:
        return  # declarations.py reports it
    text = models_file(folder).read_text(encoding="utf-8")
    rendered = {
        name
        for name, configmap in configmaps_by_name(objects).items()
        if name.startswith(f"{CONFIGMAP}-") and (configmap.get("data") or {}).get(FILE_NAME) == text
    }
    if not rendered:
        yield Finding(
            CHECK,
            app.where,
            "",
            f"{models_file(folder).relative_to(root).as_posix()} is not rendered into a "
            f"ConfigMap {CONFIGMAP}: the service never sees what the tenant declares",
            f"a configMapGenerator `{CONFIGMAP}` with files: [{FILE_NAME}] in the tenant's "
            "kustomization.yaml",
        )
    workloads = inference_workloads(objects)
    served: dict[str, list[InferenceWorkload]] = {}
    for workload in workloads:
        problem = _models_file_problem(workload, rendered)
        if problem:
            yield Finding(CHECK, app.where, "", problem[0], problem[1])
        try:
            declared.served_by(workload.serving.deployment)
        except ModelsError as error:
            yield Finding(
                CHECK,
                app.where,
                "",
                f"Deployment {workload.name} serves nothing the service accepts: {error}",
                f"{DEPLOYMENT_VARIABLE} unset (shared) or the name of a dedicated model",
            )
            continue
        served.setdefault(workload.serving.deployment, []).append(workload)
    if declared.pickle_free:
        yield from _pickle_free_findings(app, workloads, folder.relative_to(root))
    else:
        yield from _slim_image_findings(app, workloads, folder.relative_to(root))
    if workloads:
        yield from _deployments_match(app, declared, served, folder.relative_to(root))
        yield from isolation_findings(app, tenant, workloads, objects)


def _pickle_free_findings(
    app: App, workloads: list[InferenceWorkload], folder: Path
) -> Iterator[Finding]:
    """A pickle-free tenant's Deployments must not ask for the pickle: the service refuses to
    start with MODEL_RUNTIME=sklearn and pickleFree (inference/settings.py). Which versions
    pass the ONNX gate is the registry's to say, not git's: promote and the pods check that."""
    for workload in workloads:
        runtime = workload.env.get(RUNTIME_VARIABLE, "auto").strip().lower()
        if runtime == "sklearn":
            yield Finding(
                CHECK,
                app.where,
                "",
                f"Deployment {workload.name} sets {RUNTIME_VARIABLE}=sklearn, but "
                f"{folder.as_posix()}/{FILE_NAME} says pickleFree: true; the service refuses "
                "to start",
                f"{RUNTIME_VARIABLE} unset (auto) or onnx for a pickle-free tenant",
            )


def _slim_image_findings(
    app: App, workloads: list[InferenceWorkload], folder: Path
) -> Iterator[Finding]:
    """The slim image has no scikit-learn: it serves only versions with a passed ONNX model and
    refuses every other (the image sets PICKLE_FREE). A tenant that has not said pickleFree:
    true may be promoted a version only a pickle serves, which its pods would never load."""
    for workload in workloads:
        image = str(workload.container.get("image", ""))
        if inference_image_name(image) == SLIM_INFERENCE_IMAGE:
            yield Finding(
                CHECK,
                app.where,
                "",
                f"Deployment {workload.name} runs {image}, the slim ONNX-only image, but "
                f"{folder.as_posix()}/{FILE_NAME} does not say pickleFree: true: promote and "
                "rollout start would not keep pickle-only versions from it, and it refuses them",
                f"pickleFree: true in {FILE_NAME}, or the {INFERENCE_IMAGE} image (drop the "
                f"slim-image component)",
            )


def _models_file_problem(workload: InferenceWorkload, rendered: set[str]) -> tuple[str, str] | None:
    serving = workload.serving
    if serving.mounted is None:
        return (
            f"Deployment {workload.name} reads its models from {serving.models_file} "
            f"({MODELS_FILE_VARIABLE} or its default), where no ConfigMap is mounted",
            f"the ConfigMap {CONFIGMAP} mounted there (the volume tenant-models of "
            "base/inference/deployment.yaml)",
        )
    if rendered and (serving.mounted.configmap not in rendered or serving.mounted.key != FILE_NAME):
        return (
            f"Deployment {workload.name} reads {serving.models_file} from ConfigMap "
            f"{serving.mounted.configmap} key {serving.mounted.key}, not from the tenant's "
            f"{FILE_NAME}",
            f"ConfigMap {sorted(rendered)[0]} key {FILE_NAME}",
        )
    if serving.model_uri:
        return (
            f"Deployment {workload.name} sets MODEL_URI={serving.model_uri} beside its models "
            "file: the service refuses both",
            f"the models in {FILE_NAME} only (MODEL_URI is for one model without a models file)",
        )
    return None


def _deployments_match(
    app: App,
    declared: TenantModels,
    served: dict[str, list[InferenceWorkload]],
    folder: Path,
) -> Iterator[Finding]:
    for deployment, workloads in sorted(served.items()):
        if len(workloads) > 1:
            what = "the shared models" if deployment == SHARED else deployment
            yield Finding(
                CHECK,
                app.where,
                "",
                f"{len(workloads)} Deployments serve {what}: "
                f"{', '.join(sorted(w.name for w in workloads))}",
                "one Deployment for the shared models and one per dedicated model",
            )
    shared_models = declared.served_by(SHARED)
    if served.get(SHARED) and not shared_models:
        yield Finding(
            CHECK,
            app.where,
            "",
            f"the shared Deployment {served[SHARED][0].name} serves no model: every model of "
            "the tenant is dedicated",
            "at least one model without deployment: dedicated",
        )
    if shared_models and not served.get(SHARED):
        yield Finding(
            CHECK,
            app.where,
            "",
            f"no Deployment serves the shared models ({', '.join(m.name for m in shared_models)})",
            f"the tenant's inference Deployment, {DEPLOYMENT_VARIABLE} unset",
        )
    for entry in declared.models:
        if entry.dedicated and not served.get(entry.name):
            yield Finding(
                CHECK,
                app.where,
                "",
                f"{entry.name} is declared deployment: dedicated, but no Deployment serves it "
                f"({DEPLOYMENT_VARIABLE}={entry.name})",
                f"{folder.as_posix()}/{DEDICATED_DIR}/{entry.name} listed in the tenant's "
                f"kustomization.yaml (make model ... DEDICATED=1 writes both)",
            )

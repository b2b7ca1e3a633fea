"""A tenant's models: overlays/<cluster>/tenants/<tenant>/models.yaml.

The one declaration of what a tenant serves on a cluster. Each entry is a registered model of
the MLflow registry, the alias it follows (or the version it is pinned to), optionally the
rollout policy its versions go through, the memory class of one loaded version, and whether it
shares the tenant's inference Deployment or gets one of its own:

    apiVersion: ml-platform.example.com/v1alpha1
    kind: TenantModels
    requireFileDigests: true         # optional: refuse versions without recorded file digests
    pickleFree: true                 # optional: serve only versions with a passed ONNX model
    models:
      - name: tenant-a-iris          # the registered model; also its name in every path
        alias: staging               # the alias it follows; or `version: 3` to pin one
        rollout: rollout.yaml        # optional: a RolloutPolicy file beside this one
        resources: small             # optional: small (default), medium or large
        deployment: shared           # optional: shared (default) or dedicated

The two tenant-wide switches are what the tenant's pods may load (docs/serving.md, "What a
version must be"): `requireFileDigests` refuses a version whose files' sha256 were not
recorded at registration (contracts/model_files.py); `pickleFree` refuses every version
without an ONNX model that passed training's gate, so the pods never unpickle. Both default
to false; the service, `promote`, `rollout start` and `python -m gitops validate` read them
from this one file.

Parsed strictly: an unknown field, a wrong type or a duplicate name is a ModelsError naming
the field (`models[1].alias`) and what was expected. The service reads the file from its
mount, `python -m gitops validate` and the training commands read it from git: one parser,
so they cannot disagree on what a declaration means. Standard library only, apart from YAML
in `load_file`.

Names are the registered model's, so a name must be usable everywhere the platform puts it:
a URL path segment (/models/<name>/predict, /v2/models/<name>/infer), a label value (the
`model` label of every metric) and, for a dedicated model, part of Kubernetes object names.
That is an RFC 1123 label (lowercase letters, digits and "-", at most 63 characters), which
MLflow also accepts (model_uri.py). A tenant's models start with "<tenant>-": the registry is
shared, and the prefix is what keeps two tenants' names apart (docs/models.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inference.contracts.model_uri import ModelUri, ModelUriError

API_VERSION = "ml-platform.example.com/v1alpha1"
KIND = "TenantModels"
FILE_NAME = "models.yaml"

SHARED = "shared"
DEDICATED = "dedicated"
DEPLOYMENTS = (SHARED, DEDICATED)

MIB = 1024 * 1024
# The memory one loaded version of a model may take in the service process. A model's class is
# what the capacity rules budget for it (docs/models.md, "What a model costs"); the service
# refuses a version that measures above its class and keeps the one it serves.
RESOURCE_CLASSES: Mapping[str, int] = {"small": 16 * MIB, "medium": 64 * MIB, "large": 256 * MIB}
DEFAULT_RESOURCE_CLASS = "small"
# The service process before any model: Python, FastAPI, uvicorn, numpy, both runtimes
# imported and onnxruntime's first session set up. Measured on linux/amd64 (Python 3.11,
# scikit-learn 1.9.1, onnxruntime 1.32.0): `python -m inference` serving one ONNX-served and
# one scikit-learn-served iris model, after a prediction each, 243 MiB resident, less the
# 1.5-2.0 MiB inference_model_memory_bytes measured for the two (a service serving only
# ONNX: 96 MiB, only scikit-learn: 215 MiB); rounded up.
SERVICE_BASE_BYTES = 256 * MIB


# Enough for every tenant seen so far and small enough that one service's start, its metrics'
# series and its /v2/repository/index stay bounded; a tenant with more splits them across
# dedicated Deployments or asks for the limit to be raised.
MAX_MODELS = 50

_NAME = re.compile(r"^[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?$")
# A file beside models.yaml in the tenant's folder, as kustomize's configMapGenerator takes it.
_POLICY_FILE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.ya?ml$")
_FIELDS = ("name", "alias", "version", "rollout", "resources", "deployment")
_SWITCHES = ("requireFileDigests", "pickleFree")
_TOP_FIELDS = ("apiVersion", "kind", *_SWITCHES, "models")


class ModelsError(ValueError):
    """The declaration is malformed; the message names the field and what was expected."""


@dataclass(frozen=True)
class ModelEntry:
    """One model of a tenant, as declared in git."""

    name: str
    uri: ModelUri  # models:/<name>@<alias> or models:/<name>/<version>
    rollout: str | None = None  # the policy file's name in the tenant's folder
    resources: str = DEFAULT_RESOURCE_CLASS
    deployment: str = SHARED

    @property
    def alias(self) -> str | None:
        return self.uri.alias

    @property
    def version(self) -> str | None:
        return self.uri.version

    @property
    def memory_bytes(self) -> int:
        """What the capacity rules budget for one loaded version of this model."""
        return RESOURCE_CLASSES[self.resources]

    @property
    def dedicated(self) -> bool:
        return self.deployment == DEDICATED


@dataclass(frozen=True)
class TenantModels:
    models: tuple[ModelEntry, ...]
    # Refuse a version whose files' digests were not recorded at registration.
    require_file_digests: bool = False
    # Serve only versions whose ONNX gate passed: the tenant's pods never unpickle.
    pickle_free: bool = False

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(model.name for model in self.models)

    def get(self, name: str) -> ModelEntry | None:
        return next((model for model in self.models if model.name == name), None)

    def served_by(self, deployment: str) -> tuple[ModelEntry, ...]:
        """The models one Deployment serves: `shared` for the tenant's own inference service,
        a model's name for that model's dedicated Deployment (MODEL_DEPLOYMENT)."""
        if deployment == SHARED:
            return tuple(model for model in self.models if not model.dedicated)
        entry = self.get(deployment)
        if entry is None or not entry.dedicated:
            dedicated = [model.name for model in self.models if model.dedicated]
            raise ModelsError(
                f"MODEL_DEPLOYMENT: got {deployment!r}, expected {SHARED!r} or the name of a "
                f"model declared with deployment: {DEDICATED} ({', '.join(dedicated) or 'none'})"
            )
        return (entry,)


def memory_needed(models: tuple[ModelEntry, ...]) -> int:
    """What one pod serving `models` needs: the process, each model's class (twice for a model
    with a rollout policy: its stable and candidate versions are both loaded), and one more
    version of the largest class, the new one a swap loads before it lets the old one go
    (swaps load one at a time)."""
    if not models:
        return SERVICE_BASE_BYTES
    loaded = sum(m.memory_bytes * (2 if m.rollout else 1) for m in models)
    return SERVICE_BASE_BYTES + loaded + max(m.memory_bytes for m in models)


def _where(index: int, field: str | None = None) -> str:
    return f"models[{index}]" + (f".{field}" if field else "")


def _text(item: Mapping[str, Any], index: int, field: str) -> str | None:
    value = item.get(field)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ModelsError(f"{_where(index, field)}: expected a string, got {value!r}")
    return str(value)


def _entry(item: Any, index: int, tenant: str | None) -> ModelEntry:
    if not isinstance(item, Mapping):
        raise ModelsError(f"{_where(index)}: expected a mapping with name and alias or version")
    unknown = sorted(str(key) for key in item if key not in _FIELDS)
    if unknown:
        raise ModelsError(
            f"{_where(index, unknown[0])}: unknown field, expected one of {', '.join(_FIELDS)}"
        )
    name = _text(item, index, "name")
    if not name:
        raise ModelsError(f"{_where(index, 'name')}: required, the registered model's name")
    if not _NAME.match(name):
        raise ModelsError(
            f"{_where(index, 'name')}: got {name!r}, expected lowercase letters, digits and "
            "'-', starting and ending with a letter or digit, at most 63 characters"
        )
    if tenant is not None and not name.startswith(f"{tenant}-"):
        raise ModelsError(
            f"{_where(index, 'name')}: got {name!r}, expected a name starting with {tenant}- "
            f"(a tenant's registered models carry its name)"
        )
    alias, version = _text(item, index, "alias"), _text(item, index, "version")
    if (alias is None) == (version is None):
        raise ModelsError(
            f"{_where(index)} ({name}): expected exactly one of alias (the alias it follows) "
            "or version (a pinned version)"
        )
    field = "alias" if alias is not None else "version"
    text = f"models:/{name}@{alias}" if alias is not None else f"models:/{name}/{version}"
    try:
        uri = ModelUri.parse(text)
    except ModelUriError as error:
        raise ModelsError(f"{_where(index, field)} ({name}): {error}") from None
    rollout = _text(item, index, "rollout")
    if rollout is not None:
        if not _POLICY_FILE.match(rollout):
            raise ModelsError(
                f"{_where(index, 'rollout')} ({name}): got {rollout!r}, expected the name of a "
                "RolloutPolicy file beside models.yaml, such as rollout.yaml"
            )
        if uri.alias is None:
            raise ModelsError(
                f"{_where(index, 'rollout')} ({name}): a rollout moves an alias; this model "
                "pins a version (declare alias: <the policy's stableAlias> instead)"
            )
    resources = _text(item, index, "resources") or DEFAULT_RESOURCE_CLASS
    if resources not in RESOURCE_CLASSES:
        raise ModelsError(
            f"{_where(index, 'resources')} ({name}): got {resources!r}, expected one of "
            f"{', '.join(RESOURCE_CLASSES)}"
        )
    deployment = _text(item, index, "deployment") or SHARED
    if deployment not in DEPLOYMENTS:
        raise ModelsError(
            f"{_where(index, 'deployment')} ({name}): got {deployment!r}, expected "
            f"{SHARED} or {DEDICATED}"
        )
    return ModelEntry(name, uri, rollout, resources, deployment)


def parse(document: Any, tenant: str | None = None) -> TenantModels:
    """The declaration in `document` (parsed YAML). `tenant`, when given, is the prefix every
    name must carry."""
    if not isinstance(document, Mapping):
        raise ModelsError(
            f"expected a mapping ({API_VERSION} {KIND}), got {type(document).__name__}"
        )
    unknown = sorted(str(key) for key in document if key not in _TOP_FIELDS)
    if unknown:
        raise ModelsError(f"{unknown[0]}: unknown field, expected one of {', '.join(_TOP_FIELDS)}")
    if document.get("apiVersion") != API_VERSION or document.get("kind") != KIND:
        raise ModelsError(
            f"apiVersion/kind: got {document.get('apiVersion')!r} {document.get('kind')!r}, "
            f"expected {API_VERSION} {KIND}"
        )
    items = document.get("models")
    if not isinstance(items, list) or not items:
        raise ModelsError("models: expected a list of at least one model")
    if len(items) > MAX_MODELS:
        raise ModelsError(
            f"models: {len(items)} declared, at most {MAX_MODELS} per tenant and cluster"
        )
    switches = {}
    for switch in _SWITCHES:
        value = document.get(switch, False)
        if not isinstance(value, bool):
            raise ModelsError(f"{switch}: expected true or false, got {value!r}")
        switches[switch] = value
    models: list[ModelEntry] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        entry = _entry(item, index, tenant)
        if entry.name in seen:
            raise ModelsError(
                f"{_where(index, 'name')}: {entry.name!r} is already declared at "
                f"{_where(seen[entry.name])}"
            )
        seen[entry.name] = index
        models.append(entry)
    return TenantModels(
        tuple(models),
        require_file_digests=switches["requireFileDigests"],
        pickle_free=switches["pickleFree"],
    )


def load_file(path: Path, tenant: str | None = None) -> TenantModels:
    """The declaration in the file at `path`; a YAML error is a ModelsError too."""
    import yaml  # only the file readers need it

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ModelsError(f"cannot read it: {error}".splitlines()[0]) from None
    return parse(document, tenant)


def one_model(uri: ModelUri) -> TenantModels:
    """The declaration MODEL_URI stands for: one shared model, no rollout policy of its own."""
    return TenantModels((ModelEntry(uri.name, uri),))

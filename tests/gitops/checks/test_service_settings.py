"""The `service-settings` check (gitops/checks/service_settings.py): the service of the image
each inference Deployment pins, read from git at the pinned commit, accepts the settings the
rendered Deployment gives it. The histories are built here, each commit with a settings module
of this test's own: one that needs MODEL_URI (as the service did before models.yaml), one that
reads the mounted models file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gitops import paths
from gitops.tree.pinned_service import Mount, container_mounts
from gitops.validate import validate_repo
from tests.gitops.git_repos import commit, git, init
from tests.gitops.tree_copies import copy_real_tree, problems

CHECK = "service-settings"
# The full image's pin or the slim one's (the EKS tenants run the slim image).
_INFERENCE_TAG = re.compile(
    r"(name: inference-service(?:-slim)?\n\s+newName: \S+\n\s+newTag: )[0-9a-f]{40}"
)

ONE_MODEL = '''\
"""The service before models.yaml: one model, from MODEL_URI."""
import os


class SettingsError(ValueError):
    pass


class Settings:
    @classmethod
    def from_env(cls):
        if not os.environ.get("MODEL_URI", "").strip():
            raise SettingsError("MODEL_URI is required but not set")
        return cls()
'''

MODELS_FILE = '''\
"""A service that reads the models the Deployment mounts."""
import os
from pathlib import Path

import yaml

DEFAULT_MODELS_FILE = "/etc/inference/models/models.yaml"


class SettingsError(ValueError):
    pass


class Settings:
    @classmethod
    def from_env(cls):
        path = Path(os.environ.get("MODELS_FILE") or DEFAULT_MODELS_FILE)
        if os.environ.get("MODEL_URI") and path.is_file():
            raise SettingsError(f"MODEL_URI and the models file {path.name} are both set")
        if not path.is_file():
            raise SettingsError(f"MODELS_FILE: no file at {path}")
        names = [m["name"] for m in yaml.safe_load(path.read_text())["models"]]
        deployment = os.environ.get("MODEL_DEPLOYMENT", "shared")
        if deployment != "shared" and deployment not in names:
            raise SettingsError(f"MODEL_DEPLOYMENT: {deployment!r} is not a declared model")
        if not os.environ.get("MLFLOW_TRACKING_PASSWORD"):
            raise SettingsError("MLFLOW_TRACKING_PASSWORD is required")
        return cls()
'''


def write_service(repo: Path, settings: str) -> None:
    package = repo / "service/inference"
    package.mkdir(parents=True, exist_ok=True)
    (package / "__init__.py").write_text('"""The service."""\n', encoding="utf-8")
    (package / "settings.py").write_text(settings, encoding="utf-8")


def repin(repo: Path, commit_id: str) -> None:
    """Every tenant overlay's inference image (full or slim) at `commit_id`."""
    for path in repo.glob("overlays/*/tenants/*/kustomization.yaml"):
        text = path.read_text(encoding="utf-8")
        path.write_text(_INFERENCE_TAG.sub(rf"\g<1>{commit_id}", text), encoding="utf-8")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = copy_real_tree(tmp_path / "repo")
    monkeypatch.setenv("GITOPS_GIT_HISTORY", str(root))
    return root


@pytest.fixture
def history(repo: Path) -> dict[str, str]:
    """The tree's own history: a commit whose service needs MODEL_URI, then one whose service
    reads the models file, then one without the service's settings at all."""
    init(repo)
    write_service(repo, ONE_MODEL)
    one_model = commit(repo, "the service of one model")
    write_service(repo, MODELS_FILE)
    models_file = commit(repo, "the service reads models.yaml")
    git(repo, "rm", "-q", "service/inference/settings.py")
    no_settings = commit(repo, "a commit without the settings module")
    return {"one-model": one_model, "models-file": models_file, "no-settings": no_settings}


def found(repo: Path) -> str:
    return problems(validate_repo(repo, [CHECK]), CHECK)


def test_an_image_whose_service_needs_model_uri_crash_loops_on_the_new_layout(
    repo: Path, history: dict[str, str]
) -> None:
    repin(repo, history["one-model"])
    text = found(repo)
    short = history["one-model"][:12]
    for cluster in paths.CLUSTERS:
        for tenant in ("tenant-a", "tenant-b"):
            assert (
                f"{cluster}: Application argocd/{tenant}: Deployment inference-service pins the "
                f"inference image built from {short}, whose service refuses the settings this "
                "Deployment gives it (SettingsError: MODEL_URI is required but not set): every "
                "pod crash-loops on its first start"
            ) in text
    assert text.count("\n") == 3, text


def test_an_image_whose_service_reads_the_mounted_models_file_passes(
    repo: Path, history: dict[str, str]
) -> None:
    """The models file is found at the service's own default path, mapped into the folder
    the mounted ConfigMap is written to; the Secret's password stands in as a placeholder."""
    repin(repo, history["models-file"])
    assert found(repo) == ""


def test_a_setting_the_pinned_service_refuses_is_reported_where_it_is_given(
    repo: Path, history: dict[str, str]
) -> None:
    repin(repo, history["models-file"])
    settings = repo / "overlays/kind/tenants/tenant-b/settings.env"
    settings.write_text(settings.read_text() + "MODEL_URI=models:/tenant-b-wine@staging\n")
    assert found(repo) == (
        "kind: Application argocd/tenant-b: Deployment inference-service pins the inference "
        f"image built from {history['models-file'][:12]}, whose service refuses the settings "
        "this Deployment gives it (SettingsError: MODEL_URI and the models file models.yaml are "
        "both set): every pod crash-loops on its first start (expected: a pin of an image whose "
        "service reads this configuration (service/inference/settings.py at the pinned commit), "
        "or a configuration the pinned service reads)"
    )


def test_a_commit_without_the_settings_module_cannot_be_checked(
    repo: Path, history: dict[str, str]
) -> None:
    repin(repo, history["no-settings"])
    text = found(repo)
    assert (
        "kind: Application argocd/tenant-a: Deployment inference-service: the service of the "
        f"inference image it pins (built from {history['no-settings'][:12]}) cannot be checked: "
        f"commit {history['no-settings'][:12]} has no service/inference/settings.py"
    ) in text


def test_pins_outside_the_history_are_left_to_image_commits(repo: Path) -> None:
    init(repo)
    write_service(repo, ONE_MODEL)
    commit(repo, "the tree")
    # The real tree's pins name a commit this history does not have.
    assert found(repo) == ""


def test_mounts_hold_the_files_the_container_sees() -> None:
    spec = {
        "volumes": [
            {"name": "models", "configMap": {"name": "tenant-models"}},
            {"name": "policy", "configMap": {"name": "absent", "optional": True}},
            {"name": "cache", "emptyDir": {}},
            {"name": "one", "configMap": {"name": "tenant-models", "items": [
                {"key": "models.yaml", "path": "declared.yaml"}]}},
            {"name": "token", "secret": {"secretName": "x"}},
        ]
    }  # fmt: skip
    container = {
        "volumeMounts": [
            {"name": "models", "mountPath": "/etc/inference/models"},
            {"name": "policy", "mountPath": "/etc/inference/rollout"},
            {"name": "cache", "mountPath": "/var/cache/inference"},
            {"name": "one", "mountPath": "/etc/one/models.yaml", "subPath": "declared.yaml"},
            {"name": "token", "mountPath": "/var/run/token"},
        ]
    }
    configmaps = {"tenant-models": {"data": {"models.yaml": "models: []\n"}}}
    assert container_mounts(spec, container, configmaps) == [
        Mount("/etc/inference/models", (("models.yaml", "models: []\n"),)),
        Mount("/etc/inference/rollout"),
        Mount("/var/cache/inference"),
        Mount("/etc/one", (("models.yaml", "models: []\n"),)),
    ]

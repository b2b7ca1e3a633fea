"""The start state of a simulation (gitops/simulation/start.py), read from the files that
document it: docs/eks.md's table of AWS Secrets Manager entries, clusters/eks/cluster.yaml
(eksctl: IRSA roles, ServiceAccounts, add-ons), clusters/eks/settings/settings.env (the ACM
certificate), and the git history that says which images CI published. Each test writes its
own small repository."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from gitops.simulation.start import (
    ci_images,
    documented_secrets,
    eks_world,
    kind_world,
    settings_env,
)
from gitops.simulation.world import Certificate
from tests.gitops.git_repos import commit, init

OWN = "ghcr.io/example-org/ml-inference-platform/"

SECRETS_TABLE = """\
# EKS

1. Put these in AWS Secrets Manager:

   | key | content |
   | --- | --- |
   | `ml-platform/db/url` | `postgresql://USER:PASSWORD@HOST:5432/db` (plain string) |
   | `ml-platform/app/auth` | JSON `{"admin-password": "...", "cookie-secret": "..."}` |
   | `ml-platform/trainer` | JSON `{"username": "trainer", "password": "..."}` |
   | `ml-platform/tenants/<tenant>/login` | JSON `{"username": "<tenant>", "password": "..."}` |
   | `ml-platform/pull` | JSON `{"username": "<GitHub user>", "token": "..."}` |

Not a row: `ml-platform/elsewhere` is named in prose only.
"""

CLUSTER_YAML = """\
apiVersion: eksctl.io/v1alpha5
kind: ClusterConfig
metadata:
  name: ${CLUSTER_NAME}
iam:
  withOIDC: true
  serviceAccounts:
    - metadata: {name: lb-controller, namespace: kube-system}
      wellKnownPolicies: {awsLoadBalancerController: true}
    - metadata: {name: secrets-reader, namespace: external-secrets}
      roleName: platform-secrets
      roleOnly: true
addons:
  - name: vpc-cni
  - name: metrics-server
"""

SETTINGS = """\
# the domain and the certificate
DOMAIN=platform.example.com
CERTIFICATE_ARN=arn:aws:acm:eu-west-1:111122223333:certificate/abc
"""


def write(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(textwrap.dedent(text), encoding="utf-8")
    return root


# --- documented secrets -------------------------------------------------------------------------


def test_documented_secrets_follow_the_table(tmp_path: Path) -> None:
    root = write(tmp_path, {"docs/eks.md": SECRETS_TABLE})
    found = documented_secrets(root, ["tenant-a", "tenant-b"])
    assert sorted(found) == [
        "ml-platform/app/auth",
        "ml-platform/db/url",
        "ml-platform/pull",
        "ml-platform/tenants/tenant-a/login",
        "ml-platform/tenants/tenant-b/login",
        "ml-platform/trainer",
    ]
    assert isinstance(found["ml-platform/db/url"], str)  # a plain string row
    auth = found["ml-platform/app/auth"]
    assert isinstance(auth, dict)
    assert sorted(auth) == ["admin-password", "cookie-secret"]
    assert all(auth.values())


def test_a_fixed_username_and_the_tenant_as_username(tmp_path: Path) -> None:
    root = write(tmp_path, {"docs/eks.md": SECRETS_TABLE})
    found = documented_secrets(root, ["tenant-a"])
    trainer, tenant, pull = (
        dict(found["ml-platform/trainer"]),
        dict(found["ml-platform/tenants/tenant-a/login"]),
        dict(found["ml-platform/pull"]),
    )
    assert trainer["username"] == "trainer"
    assert tenant["username"] == "tenant-a"
    assert sorted(pull) == ["token", "username"]
    assert pull["username"] != "<GitHub user>"  # a placeholder: some user


def test_no_tenants_no_tenant_rows(tmp_path: Path) -> None:
    root = write(tmp_path, {"docs/eks.md": SECRETS_TABLE})
    assert not [k for k in documented_secrets(root, []) if "/tenants/" in k]


def test_without_the_page_nothing_is_documented(tmp_path: Path) -> None:
    assert documented_secrets(tmp_path, ["tenant-a"]) == {}


def test_the_real_page_documents_the_registry_credentials() -> None:
    """The rows this repository's docs/eks.md has today parse (a change of the table's form
    would leave the simulated Secrets Manager empty)."""
    from gitops import paths

    found = documented_secrets(paths.REPO_ROOT, ["tenant-a"])
    assert "ml-platform/registry-credentials" in found
    assert "ml-platform/tenants/tenant-a/mlflow-credentials" in found


# --- eksctl and the settings --------------------------------------------------------------------


def eks_root(tmp_path: Path, **override: str) -> Path:
    files = {
        "docs/eks.md": SECRETS_TABLE,
        "clusters/eks/cluster.yaml": CLUSTER_YAML,
        "clusters/eks/settings/settings.env": SETTINGS,
    }
    return write(tmp_path, files | override)


def test_eks_world_reads_roles_and_service_accounts_from_cluster_yaml(tmp_path: Path) -> None:
    world = eks_world(eks_root(tmp_path), ["tenant-a"], OWN, None)
    assert world.cloud.roles == {
        "kube-system/lb-controller": "eksctl-lb-controller",
        "external-secrets/secrets-reader": "platform-secrets",
    }
    # roleOnly: eksctl makes the role, the chart the ServiceAccount
    assert world.cloud.service_accounts == {"kube-system/lb-controller"}


def test_the_metrics_server_add_on_serves_the_metrics_api(tmp_path: Path) -> None:
    assert eks_world(eks_root(tmp_path), [], OWN, None).metrics_api
    without = CLUSTER_YAML.replace("  - name: metrics-server\n", "")
    root = eks_root(tmp_path / "other", **{"clusters/eks/cluster.yaml": without})
    assert not eks_world(root, [], OWN, None).metrics_api


def test_the_certificate_covers_the_documented_names(tmp_path: Path) -> None:
    world = eks_world(eks_root(tmp_path), [], OWN, None)
    assert world.cloud.certificates == [
        Certificate(
            "arn:aws:acm:eu-west-1:111122223333:certificate/abc",
            ("mlflow.platform.example.com", "*.platform.example.com"),
        )
    ]


def test_no_certificate_arn_no_certificate(tmp_path: Path) -> None:
    settings = "DOMAIN=platform.example.com\n# CERTIFICATE_ARN=arn:aws:acm:x\n"
    root = eks_root(tmp_path, **{"clusters/eks/settings/settings.env": settings})
    assert settings_env(root) == {"DOMAIN": "platform.example.com"}
    assert eks_world(root, [], OWN, None).cloud.certificates == []


def test_eks_world_fills_secrets_manager_from_the_docs(tmp_path: Path) -> None:
    world = eks_world(eks_root(tmp_path), ["tenant-a"], OWN, None)
    assert "ml-platform/tenants/tenant-a/login" in world.cloud.secrets
    assert world.images.private
    assert world.cluster == "eks"


def test_kind_world_has_the_standard_storage_class_and_no_metrics_api() -> None:
    world = kind_world(OWN)
    assert world.storage_classes == {"standard": True}
    assert not world.metrics_api
    assert world.images.published is None


# --- what CI published --------------------------------------------------------------------------

WORKFLOW = """\
jobs:
  build:
    strategy:
      matrix:
        include:
          - image: inference-service
            context: service
"""


@pytest.fixture
def history(tmp_path: Path) -> tuple[Path, str, str]:
    """A repository whose first commit has no Dockerfile and whose second has one."""
    root = init(tmp_path / "repo")
    write(root, {".github/workflows/image.yaml": WORKFLOW, "service/app.py": "print()\n"})
    before = commit(root, "the service, not yet buildable")
    write(root, {"service/Dockerfile": "FROM scratch\n"})
    after = commit(root, "its Dockerfile")
    return root, before, after


def test_ci_published_a_commit_that_holds_the_build_context(
    history: tuple[Path, str, str],
) -> None:
    root, _before, after = history
    assert ci_images(root, root)("inference-service", after) == ""


def test_ci_did_not_publish_a_commit_without_the_dockerfile(
    history: tuple[Path, str, str],
) -> None:
    root, before, _after = history
    assert ci_images(root, root)("inference-service", before) == (
        f"manifest unknown: commit {before[:12]}'s tree has no service/Dockerfile, so CI never "
        "built this image"
    )


@pytest.mark.parametrize(
    ("name", "tag", "expected"),
    [
        ("mlflow-server", "0" * 40, "CI builds no image named mlflow-server"),
        (
            "inference-service",
            "dev",
            "tag 'dev' is not a commit (CI tags what it builds with the 40-hex commit)",
        ),
        (
            "inference-service",
            "0" * 40,
            "commit 000000000000 is not in this repository's history, so CI never built it",
        ),
    ],
)
def test_what_ci_never_published(
    history: tuple[Path, str, str], name: str, tag: str, expected: str
) -> None:
    root, _before, _after = history
    assert ci_images(root, root)(name, tag) == expected


def test_without_git_history_nothing_can_be_told(
    history: tuple[Path, str, str], tmp_path: Path
) -> None:
    root, _before, after = history
    nowhere = tmp_path / "no-history"
    nowhere.mkdir()
    assert ci_images(root, nowhere)("inference-service", after) == (
        f"no git history at {nowhere} to tell whether CI built commit {after[:12]}"
    )

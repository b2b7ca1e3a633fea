"""`python -m gitops diff` on two commits of a miniature GitOps repository built per test."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from gitops import diff, paths

REPO_URL = "https://github.com/example-org/mini-platform.git"
GIT_ENV = {
    **os.environ,
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def write(root: Path, rel: str, docs: object) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(docs if isinstance(docs, str) else yaml.safe_dump(docs, sort_keys=False))


def kustomization(*resources: str) -> dict:
    return {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "resources": list(resources),
    }


def application(name: str, source: dict, namespace: str) -> dict:
    return {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "Application",
        "metadata": {"name": name, "namespace": "argocd"},
        "spec": {
            "project": "default",
            "source": source,
            "destination": {"server": "https://kubernetes.default.svc", "namespace": namespace},
        },
    }


def configmap(name: str, namespace: str, data: dict) -> dict:
    meta = {"name": name, "namespace": namespace}
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": data}


def secret(password: str) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "db", "namespace": "platform"},
        "data": {"password": base64.b64encode(password.encode()).decode()},
    }


def git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-C", str(root), *args], env=GIT_ENV, capture_output=True, text=True, check=True
    )
    return result.stdout.strip()


def commit(root: Path, message: str) -> str:
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return git(root, "rev-parse", "HEAD")


@pytest.fixture
def mini_repo(tmp_path: Path) -> tuple[Path, str, str]:
    """Commit 1, then commit 2 with one change of every kind the diff has to show."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(root, "clusters/kind/kustomization.yaml", kustomization("root-app.yaml"))
    write(
        root,
        "clusters/kind/root-app.yaml",
        application(
            "root", {"repoURL": REPO_URL, "path": "apps", "targetRevision": "main"}, "argocd"
        ),
    )
    write(
        root,
        "apps/kustomization.yaml",
        kustomization("platform.yaml", "tenants.yaml", "metrics.yaml"),
    )
    write(
        root,
        "apps/platform.yaml",
        application("platform", {"repoURL": REPO_URL, "path": "platform"}, "platform"),
    )
    chart = {"repoURL": "https://charts.example.com", "chart": "metrics", "targetRevision": "1.0.0"}
    write(root, "apps/metrics.yaml", application("metrics", chart, "monitoring"))
    appset = {
        "apiVersion": "argoproj.io/v1alpha1",
        "kind": "ApplicationSet",
        "metadata": {"name": "tenants", "namespace": "argocd"},
        "spec": {
            "generators": [
                {
                    "git": {
                        "repoURL": REPO_URL,
                        "revision": "main",
                        "directories": [{"path": "tenants/*"}],
                    }
                }
            ],
            "template": {
                "metadata": {"name": "{{path.basename}}"},
                "spec": {
                    "project": "default",
                    "source": {"repoURL": REPO_URL, "path": "{{path}}", "targetRevision": "main"},
                    "destination": {
                        "server": "https://kubernetes.default.svc",
                        "namespace": "{{path.basename}}",
                    },
                },
            },
        },
    }
    write(root, "apps/tenants.yaml", appset)
    write(
        root,
        "platform/kustomization.yaml",
        kustomization("settings.yaml", "old.yaml", "secret.yaml"),
    )
    write(root, "platform/settings.yaml", configmap("settings", "platform", {"LOG_LEVEL": "INFO"}))
    write(root, "platform/old.yaml", configmap("old", "platform", {"a": "b"}))
    write(root, "platform/secret.yaml", secret("hunter2-before"))
    write(root, "tenants/tenant-a/kustomization.yaml", kustomization("cm.yaml"))
    write(root, "tenants/tenant-a/cm.yaml", configmap("model", "tenant-a", {"MODEL": "a"}))
    first = commit(root, "one")

    write(root, "platform/settings.yaml", configmap("settings", "platform", {"LOG_LEVEL": "DEBUG"}))
    (root / "platform/old.yaml").unlink()
    write(root, "platform/new.yaml", configmap("new", "platform", {"c": "d"}))
    write(
        root,
        "platform/kustomization.yaml",
        kustomization("settings.yaml", "new.yaml", "secret.yaml"),
    )
    write(root, "platform/secret.yaml", secret("hunter2-after"))
    write(
        root,
        "apps/metrics.yaml",
        application("metrics", {**chart, "targetRevision": "2.0.0"}, "monitoring"),
    )
    write(root, "tenants/tenant-b/kustomization.yaml", kustomization("cm.yaml"))
    big = {f"line{i:05d}": "x" * 60 for i in range(400)}
    write(root, "tenants/tenant-b/cm.yaml", configmap("model", "tenant-b", big))
    second = commit(root, "two")
    return root, first, second


def run_diff(root: Path, tmp_path: Path, *extra: str) -> tuple[str, str]:
    out, full = tmp_path / "report.md", tmp_path / "full.md"
    argv = ["--repo", str(root), "--output", str(out), "--output-full", str(full), *extra]
    assert diff.main(argv) == 0
    return out.read_text(), full.read_text()


def summary_rows(report: str) -> dict[str, list[int]]:
    rows = {}
    for line in report.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `") and len(cells) == 4:
            rows[cells[0].strip("`")] = [int(c) for c in cells[1:]]
    return rows


def test_reports_added_changed_removed_per_application(mini_repo, tmp_path):
    root, first, second = mini_repo
    report, full = run_diff(root, tmp_path, "--base", first, "--head", second)

    assert report == full  # small enough: nothing cut
    assert report.startswith("<!-- rendered-manifest-diff -->")
    rows = summary_rows(report)
    # settings changed + secret changed, new added, old removed
    assert rows["kind/platform"] == [1, 2, 1]
    # the new tenant folder becomes a new Application through the ApplicationSet
    assert rows["kind/tenant-b (new application)"] == [1, 0, 0]
    # the chart version bump is a change of the metrics application
    assert rows["kind/metrics"] == [0, 1, 0]
    assert "kind/tenant-a" not in " ".join(rows)
    assert "-  LOG_LEVEL: INFO" in report
    assert "+  LOG_LEVEL: DEBUG" in report
    assert "-  targetRevision: 1.0.0" in report
    assert "+  targetRevision: 2.0.0" in report
    assert "**removed** `ConfigMap platform/old`" in report
    assert "**added** `ConfigMap platform/new`" in report
    assert report.count("<details>") == len(rows)


def test_secret_values_are_redacted_but_their_change_shows(mini_repo, tmp_path):
    root, first, second = mini_repo
    report, _ = run_diff(root, tmp_path, "--base", first, "--head", second)

    for value in ("hunter2-before", "hunter2-after"):
        assert value not in report
        assert base64.b64encode(value.encode()).decode() not in report
    assert "**changed** `Secret platform/db`" in report
    redacted = [line for line in report.splitlines() if "password: '<redacted: sha256" in line]
    assert len(redacted) == 2
    assert redacted[0][0] == "-"
    assert redacted[1][0] == "+"
    assert redacted[0][1:] != redacted[1][1:]


def test_a_report_over_the_limit_keeps_the_summary_and_says_where_the_rest_is(mini_repo, tmp_path):
    root, first, second = mini_repo
    report, full = run_diff(
        root, tmp_path, "--base", first, "--head", second, "--max-chars", "4000"
    )

    assert len(report) <= 4000 < len(full)
    assert "truncated" in report
    assert "workflow artifact `rendered-manifest-diff`" in report
    assert summary_rows(report) == summary_rows(full)
    assert "line00399" in full
    assert "line00399" not in report


def test_working_tree_is_the_default_head(mini_repo, tmp_path):
    root, _, second = mini_repo
    write(root, "tenants/tenant-a/cm.yaml", configmap("model", "tenant-a", {"MODEL": "b"}))
    report, _ = run_diff(root, tmp_path, "--base", second, "--format", "text")

    assert "working tree" in report
    assert "kind/tenant-a" in report
    assert "+  MODEL: b" in report
    assert "kind/platform" not in report


def test_unknown_base_ref_exits_2_with_a_clear_message(mini_repo):
    root, _, _ = mini_repo
    result = subprocess.run(
        [sys.executable, "-m", "gitops", "diff", "--repo", str(root), "--base", "origin/nope"],
        capture_output=True,
        text=True,
        check=False,
        cwd=paths.REPO_ROOT,
    )
    assert result.returncode == 2
    assert "origin/nope" in result.stderr
    assert "does not name a commit" in result.stderr
    assert "Traceback" not in result.stderr

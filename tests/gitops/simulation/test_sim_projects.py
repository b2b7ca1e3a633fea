"""What an AppProject permits (gitops/simulation/argocd/projects.py), as argo-cd v3.5.1 decides
it: pkg/apis/application/v1alpha1/app_project_types.go IsGroupKindNamePermitted,
isDestinationMatched and IsSourcePermitted."""

from __future__ import annotations

from typing import Any

import pytest

from gitops.simulation.argocd.projects import (
    destination_permitted,
    kind_permitted,
    source_permitted,
)

SERVER = "https://kubernetes.default.svc"
REPO = "https://github.com/example-org/ml-inference-platform.git"


def spec(**fields: Any) -> dict[str, Any]:
    return {"spec": fields}


def kinds(*pairs: str) -> list[dict[str, str]]:
    """ "group/Kind" (core group: "/Kind") as whitelist or blacklist items."""
    return [{"group": p.split("/")[0], "kind": p.split("/")[1]} for p in pairs]


# --- namespaced kinds ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("project", "permitted"),
    [
        pytest.param(spec(), True, id="whitelist nil: every kind"),
        pytest.param(spec(namespaceResourceWhitelist=[]), False, id="whitelist empty: none"),
        pytest.param(spec(namespaceResourceWhitelist=kinds("/Secret")), False, id="not listed"),
        pytest.param(spec(namespaceResourceWhitelist=kinds("/ConfigMap")), True, id="listed"),
        pytest.param(spec(namespaceResourceWhitelist=kinds("*/*")), True, id="glob"),
        pytest.param(spec(namespaceResourceWhitelist=kinds("/Config*")), True, id="kind glob"),
        pytest.param(
            spec(namespaceResourceBlacklist=kinds("/ConfigMap")), False, id="nil but blacklisted"
        ),
        pytest.param(
            spec(namespaceResourceBlacklist=kinds("/Secret")), True, id="another blacklisted"
        ),
    ],
)
def test_namespaced_kinds(project: dict[str, Any], permitted: bool) -> None:
    assert kind_permitted(project, "", "ConfigMap", "settings", namespaced=True) is permitted


def test_the_group_must_match_too() -> None:
    project = spec(namespaceResourceWhitelist=kinds("apps/Deployment"))
    assert kind_permitted(project, "apps", "Deployment", "web", namespaced=True)
    assert not kind_permitted(project, "extensions", "Deployment", "web", namespaced=True)


# --- cluster-scoped kinds -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("project", "permitted"),
    [
        pytest.param(spec(), False, id="whitelist missing: none"),
        pytest.param(spec(clusterResourceWhitelist=[]), False, id="whitelist empty: none"),
        pytest.param(spec(clusterResourceWhitelist=kinds("/Namespace")), True, id="listed"),
        pytest.param(spec(clusterResourceWhitelist=kinds("*/*")), True, id="glob"),
        pytest.param(
            spec(clusterResourceWhitelist=[{"group": "", "kind": "Namespace", "name": "team-*"}]),
            True,
            id="name glob that matches",
        ),
        pytest.param(
            spec(clusterResourceWhitelist=[{"group": "", "kind": "Namespace", "name": "other"}]),
            False,
            id="another name",
        ),
        pytest.param(
            spec(
                clusterResourceWhitelist=kinds("*/*"),
                clusterResourceBlacklist=kinds("/Namespace"),
            ),
            False,
            id="blacklisted",
        ),
        pytest.param(
            spec(namespaceResourceWhitelist=kinds("*/*")),
            False,
            id="the namespaced whitelist does not count",
        ),
    ],
)
def test_cluster_scoped_kinds(project: dict[str, Any], permitted: bool) -> None:
    assert kind_permitted(project, "", "Namespace", "team-a", namespaced=False) is permitted


# --- destinations -------------------------------------------------------------------------------


def destinations(*pairs: tuple[str, str]) -> dict[str, Any]:
    return spec(destinations=[{"server": s, "namespace": n} for s, n in pairs])


@pytest.mark.parametrize(
    ("project", "namespace", "permitted"),
    [
        pytest.param(destinations(), "team-a", False, id="no destinations"),
        pytest.param(destinations((SERVER, "team-a")), "team-a", True, id="exact"),
        pytest.param(destinations((SERVER, "team-a")), "team-b", False, id="another namespace"),
        pytest.param(destinations(("*", "team-*")), "team-b", True, id="globs"),
        pytest.param(
            destinations(("https://other.example.com", "*")), "team-a", False, id="other server"
        ),
        pytest.param(
            destinations((SERVER, "!kube-system"), (SERVER, "*")),
            "kube-system",
            False,
            id="denied namespace, before an allow-all",
        ),
        pytest.param(
            destinations((SERVER, "*"), (SERVER, "!kube-system")),
            "kube-system",
            False,
            id="denied namespace, after an allow-all",
        ),
        pytest.param(
            destinations((SERVER, "!kube-system"), (SERVER, "*")),
            "team-a",
            True,
            id="another namespace beside a deny",
        ),
        pytest.param(
            destinations((SERVER, "!kube-*")),
            "team-a",
            True,
            id="a deny alone that does not hit matches",
        ),
        pytest.param(
            destinations(("!https://other.example.com", "*"), ("*", "*")),
            "team-a",
            True,
            id="denied server is another",
        ),
        pytest.param(
            destinations((f"!{SERVER}", "*"), ("*", "*")),
            "team-a",
            False,
            id="denied server",
        ),
    ],
)
def test_destinations(project: dict[str, Any], namespace: str, permitted: bool) -> None:
    assert destination_permitted(project, SERVER, namespace) is permitted


# --- source repositories ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repos", "permitted"),
    [
        pytest.param([], False, id="none"),
        pytest.param(["*"], True, id="any"),
        pytest.param([REPO], True, id="exact"),
        pytest.param([REPO.removesuffix(".git")], True, id="normalised: without .git"),
        pytest.param([REPO.upper()], True, id="normalised: case"),
        pytest.param(["https://github.com/example-org/other.git"], False, id="another"),
        pytest.param(["https://github.com/example-org/*"], True, id="glob"),
        pytest.param(["*", f"!{REPO}"], False, id="denied after an allow-all"),
        pytest.param([f"!{REPO}", "*"], False, id="denied before an allow-all"),
        pytest.param(["!https://github.com/evil/*"], True, id="a deny alone that does not hit"),
        pytest.param(["!https://github.com/example-org/*", "*"], False, id="denied by glob"),
    ],
)
def test_source_repositories(repos: list[str], permitted: bool) -> None:
    assert source_permitted(spec(sourceRepos=repos), REPO) is permitted


@pytest.mark.parametrize(
    ("pattern", "repo", "permitted"),
    [
        pytest.param(
            "https://git.example.com/team/*",
            "https://git.example.com/team/repo",
            True,
            id="* within one segment",
        ),
        pytest.param(
            "https://git.example.com/team/*",
            "https://git.example.com/team/sub/repo",
            False,
            id="* does not cross /",
        ),
        pytest.param(
            "https://git.example.com/team/*/*",
            "https://git.example.com/team/sub/repo",
            True,
            id="one * per segment",
        ),
        pytest.param(
            "https://git.example.com/team/**",
            "https://git.example.com/team/a/b/repo",
            True,
            id="** crosses /",
        ),
        pytest.param(
            "https://git.example.com/team/re?o",
            "https://git.example.com/team/repo",
            True,
            id="? one character",
        ),
        pytest.param(
            "https://git.example.com/team/[pr]epo",
            "https://git.example.com/team/repo",
            True,
            id="a class",
        ),
        pytest.param(
            "https://git.example.com/team/[!r]epo",
            "https://git.example.com/team/repo",
            False,
            id="a negated class",
        ),
        pytest.param(
            "!https://git.example.com/team/*",
            "https://git.example.com/team/sub/repo",
            True,
            id="a deny whose * does not reach",
        ),
    ],
)
def test_a_source_glob_matches_path_segments(pattern: str, repo: str, permitted: bool) -> None:
    """`*` stops at `/` (globMatch with the separator '/'; argo-cd's own
    TestAppProject_IsSourcePermitted in types_test.go shows the same)."""
    assert source_permitted(spec(sourceRepos=[pattern]), repo) is permitted

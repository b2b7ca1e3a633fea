"""What an AppProject permits, as argo-cd v3.5.1 decides it
(pkg/apis/application/v1alpha1/app_project_types.go: IsGroupKindNamePermitted,
IsSourcePermitted, isDestinationMatched; types.go: isResourceInList, isNamedResourceInList).

- Namespaced kinds: a nil namespaceResourceWhitelist permits every kind, an empty one none;
  the blacklist removes kinds. Cluster-scoped kinds: only what clusterResourceWhitelist lists
  (empty or missing: none). Kinds and groups match as filepath globs.
- Destinations: (server or name) and namespace match as globs; `!pattern` denies.
- Sources: repoURL against sourceRepos, normalised, `!` denies; there `*` does not cross `/`.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from typing import Any

from gitops.tree.repo_sources import normalise_repo_url


def _match(pattern: str, value: str) -> bool:
    return pattern == "*" or fnmatchcase(value, pattern)


def _listed(group: str, kind: str, name: str, items: list[dict[str, Any]]) -> bool:
    for item in items:
        kind_ok = _match(str(item.get("kind", "")), kind)
        group_ok = _match(str(item.get("group", "")), group)
        if kind_ok and group_ok and (not item.get("name") or _match(str(item["name"]), name)):
            return True
    return False


def kind_permitted(
    project: dict[str, Any], group: str, kind: str, name: str, namespaced: bool
) -> bool:
    spec = project.get("spec") or {}
    if namespaced:
        white = spec.get("namespaceResourceWhitelist")
        black = spec.get("namespaceResourceBlacklist") or []
        listed = white is None or (len(white) != 0 and _listed(group, kind, "", white))
        return listed and not (black and _listed(group, kind, "", black))
    white = spec.get("clusterResourceWhitelist") or []
    black = spec.get("clusterResourceBlacklist") or []
    return (
        bool(white)
        and _listed(group, kind, name, white)
        and not (black and _listed(group, kind, name, black))
    )


def destination_permitted(project: dict[str, Any], server: str, namespace: str) -> bool:
    matched = False
    for item in (project.get("spec") or {}).get("destinations") or []:
        pattern_server = str(item.get("server", ""))
        pattern_namespace = str(item.get("namespace", ""))
        server_ok = _glob(pattern_server, server)
        namespace_ok = _glob(pattern_namespace, namespace)
        if server_ok and namespace_ok:
            matched = True
        elif (not server_ok and pattern_server.startswith("!") and namespace_ok) or (
            not namespace_ok and pattern_namespace.startswith("!") and server_ok
        ):
            return False
    return matched


def _glob(pattern: str, value: str) -> bool:
    if pattern.startswith("!"):
        return not _match(pattern[1:], value)
    return _match(pattern, value)


def source_permitted(project: dict[str, Any], repo_url: str) -> bool:
    source = normalise_repo_url(repo_url)
    matched = False
    for pattern in (project.get("spec") or {}).get("sourceRepos") or []:
        deny = str(pattern).startswith("!")
        normalised = normalise_repo_url(str(pattern).lstrip("!"))
        hit = _path_match(normalised, source)
        if deny:
            if hit:
                return False
            matched = True if not hit else matched
        elif hit:
            matched = True
    return matched


def _path_match(pattern: str, value: str) -> bool:
    """A sourceRepos glob: `*` and `?` stop at `/`, `**` does not, `[...]` and `[!...]` are
    classes (IsSourcePermitted's globMatch with the separator '/', gobwas/glob)."""
    if pattern == "*":
        return True
    regex = ""
    for part in re.split(r"(\*\*|\*|\?|\[[^\]]*\])", pattern):
        if part.startswith("[") and part.endswith("]") and len(part) > 2:
            negated = part[1] == "!"
            body = re.escape(part[2:-1] if negated else part[1:-1]).replace("\\-", "-")
            regex += f"[^{body}]" if negated else f"[{body}]"
        else:
            regex += {"**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part))
    return re.fullmatch(regex, value) is not None

"""Where an Application's manifests come from: its sources, and which repository a URL names.

One spelling per repository, so validation (is this source the repository being validated?)
and the PR diff (is this Application rendered from this repository?) always agree."""

from __future__ import annotations

import re
from typing import Any

_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_USER = re.compile(r"^[^@/]+@")
# scp-like SSH (git@host:org/repo): the first colon separates host and path, unless a port
# number follows it (host:2222/org/repo after an ssh:// scheme).
_SCP_COLON = re.compile(r"^([^/:]+):(?!\d+/)")


def normalise_repo_url(url: str) -> str:
    """`host/path` in lower case: no scheme, user, trailing slash or `.git`.

    https://github.com/Org/Repo.git, git@github.com:org/repo and ssh://git@github.com/org/repo
    are one repository. Argo CD itself compares more strictly: its NormalizeGitURL
    (argoproj/argo-cd v3.5.1, util/git/git.go) keeps the scheme, so it treats the HTTPS and SSH
    spellings as two repositories with separate credentials; for "is this our tree" the content
    is what matters, and it is the same.
    """
    text = url.strip().lower()
    scp_like = not _SCHEME.match(text)
    text = _SCHEME.sub("", text)
    text = _USER.sub("", text)
    if scp_like:
        text = _SCP_COLON.sub(r"\1/", text)
    return text.rstrip("/").removesuffix(".git").rstrip("/")


def app_sources(app: dict[str, Any]) -> list[dict[str, Any]]:
    """`spec.sources` when set (multi-source Applications), else `[spec.source]`, else []."""
    spec = app.get("spec") or {}
    if spec.get("sources"):
        return [source for source in spec["sources"] if isinstance(source, dict)]
    source = spec.get("source")
    return [source] if isinstance(source, dict) else []

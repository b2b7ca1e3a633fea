"""`argo`: each cluster's app-of-apps can be followed offline: every Application's source
exists in this repository and renders, sources from elsewhere (Helm charts, other
repositories) name an exact version, and every ApplicationSet can be expanded. The
Application tree (gitops/tree/app_tree.py) records these findings while the Context builds
it; this check reports them, and its time in the summary is the tree's."""

from __future__ import annotations

from collections.abc import Iterator

from gitops.checks import Context, register
from gitops.tree.app_tree import CHECK
from gitops.tree.findings import Finding


@register(
    CHECK,
    "every Application source exists and renders; external sources pinned",
    order=50,
    phases=("trees",),
    generic=True,
)
def check(ctx: Context) -> Iterator[Finding]:
    for tree in ctx.trees:
        yield from tree.findings

"""`render`: every kustomization builds on its own with the pinned kubectl. The Context
renders them all once (gitops/tree/kustomizations.py); this check reports the ones that did
not build, and its time in the summary is the rendering's."""

from __future__ import annotations

from collections.abc import Iterator

from gitops.checks import Context, register
from gitops.tree.findings import Finding

CHECK = "render"


@register(
    CHECK,
    "every kustomization builds with the pinned kubectl",
    order=10,
    phases=("render",),
    generic=True,
)
def check(ctx: Context) -> Iterator[Finding]:
    for rendered in ctx.rendered.values():
        if rendered.error:
            yield Finding(
                CHECK,
                rendered.rel,
                "",
                f"kustomize build failed: {rendered.error}",
                "a build that succeeds on its own",
            )

"""Render every kustomization of the repository into OUT/ (one file per kustomization), for
kubeconform in CI.

Usage: python .github/scripts/render_manifests.py OUT
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from gitops.paths import REPO_ROOT
from gitops.tree.kustomizations import discover, render_all


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: render_manifests.py OUT", file=sys.stderr)
        return 2
    out = Path(argv[0])
    out.mkdir(parents=True, exist_ok=True)
    rendered = render_all(discover(REPO_ROOT), REPO_ROOT)
    failed = [r for r in rendered.values() if r.error]
    for result in failed:
        print(f"{result.rel}: {result.error}", file=sys.stderr)
    for result in rendered.values():
        name = result.rel.replace("/", "__")
        (out / f"{name}.yaml").write_text(yaml.safe_dump_all(result.objects, sort_keys=False))
    print(f"rendered {len(rendered)} kustomizations into {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

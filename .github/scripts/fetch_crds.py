"""Download the pinned upstream CRDs listed in .github/crd-sources.yaml into a folder laid
out like ../shared/crds, checking each file's sha256. Used by CI, where ../shared is absent.

Usage: python .github/scripts/fetch_crds.py DEST
"""

from __future__ import annotations

import hashlib
import sys
import urllib.request
from pathlib import Path

import yaml

SOURCES = Path(__file__).resolve().parent.parent / "crd-sources.yaml"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: fetch_crds.py DEST", file=sys.stderr)
        return 2
    dest = Path(argv[0])
    config = yaml.safe_load(SOURCES.read_text())
    failures = 0
    for crd in config["crds"]:
        release = config["releases"][crd["release"]]
        url = f"https://raw.githubusercontent.com/{release['repo']}/{release['tag']}/{crd['path']}"
        target = dest / crd["file"]
        if target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == crd["sha256"]:
            continue  # already in the cache
        with urllib.request.urlopen(url, timeout=60) as response:
            body = response.read()
        digest = hashlib.sha256(body).hexdigest()
        if digest != crd["sha256"]:
            print(
                f"{crd['file']}: {url} has sha256 {digest}, expected {crd['sha256']}",
                file=sys.stderr,
            )
            failures += 1
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
        print(f"{crd['file']} <- {url}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

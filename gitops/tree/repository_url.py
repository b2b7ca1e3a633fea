"""Where the repository names itself, and how a fork renames it in one step.

Argo CD needs this repository's URL in every Application, ApplicationSet and AppProject
(repoURL, sourceRepos), the overlays name the images CI publishes under the repository's
package path (ghcr.io/<owner>/<repo>/, lower case, as .github/workflows/image.yaml
derives it), and alerts link their runbooks on GitHub. The tree ships with the example
repository `example-org/ml-inference-platform`; `python -m gitops set-repository URL`
(`make repository URL=...`) rewrites every occurrence in the tracked text files at once, and
the `cluster-settings` check refuses a tree that still names the example (outside example
mode), so no cluster is pointed at a repository that does not exist.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

_GITHUB = re.compile(
    r"^https://github\.com/(?P<owner>[A-Za-z0-9-]+)/(?P<repo>[A-Za-z0-9._-]+?)(?:\.git)?$"
)
# Files never rewritten: lock files and binary data.
_SKIPPED_SUFFIXES = (".lock", ".png", ".jpg", ".gz", ".zip", ".onnx", ".pkl")


class RepositoryUrlError(ValueError):
    """A URL that is not a GitHub repository URL."""


@dataclass(frozen=True)
class Repository:
    owner: str
    name: str

    @property
    def url(self) -> str:
        return f"https://github.com/{self.owner}/{self.name}.git"

    @property
    def slug(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def packages(self) -> str:
        return f"ghcr.io/{self.slug.lower()}"


def parse(url: str) -> Repository:
    match = _GITHUB.match(url.strip())
    if match is None:
        raise RepositoryUrlError(
            f"{url!r} is not a GitHub repository URL (expected https://github.com/OWNER/REPO.git)"
        )
    return Repository(match["owner"], match["repo"])


# The repository the tree ships pointing at. Written here once, literally: this module is the
# one file a rewrite leaves alone, so the example stays recognisable in a fork.
EXAMPLE = Repository("example-org", "ml-inference-platform")
THIS_MODULE = Path(__file__).resolve()


def forms(repository: Repository) -> list[str]:
    """The spellings the tree uses, longest first (so a rewrite never splits one)."""
    return [
        repository.url,
        f"https://github.com/{repository.slug}",
        repository.packages,
        f"github.com/{repository.slug}",
    ]


def tracked_files(root: Path) -> list[Path]:
    """The repository's files (git's list where it is a repository, else every file)."""
    listed = subprocess.run(
        ["git", "-C", str(root), "ls-files", "-z"], capture_output=True, check=False
    )
    if listed.returncode == 0 and listed.stdout:
        names = [n for n in listed.stdout.decode().split("\0") if n]
        return [root / n for n in names if (root / n).is_file()]
    return [p for p in root.rglob("*") if p.is_file() and ".git" not in p.parts]


def occurrences(root: Path, repository: Repository = EXAMPLE) -> dict[Path, int]:
    """File -> how many times it names `repository` (in any of its forms)."""
    found = {}
    for path in tracked_files(root):
        if path.suffix in _SKIPPED_SUFFIXES or path.resolve() == THIS_MODULE:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        count = sum(text.count(form) for form in forms(repository)[2:])
        if count:
            found[path] = count
    return found


def rewrite(root: Path, new_url: str, old: Repository = EXAMPLE) -> list[Path]:
    """Point the tree at `new_url` wherever it names `old`; returns the files changed."""
    new = parse(new_url)
    replacements = list(zip(forms(old), forms(new), strict=True))
    changed = []
    for path in occurrences(root, old):
        text = path.read_text(encoding="utf-8")
        updated = text
        for before, after in replacements:
            updated = updated.replace(before, after)
        if updated != text:
            path.write_text(updated, encoding="utf-8")
            changed.append(path)
    return sorted(changed)

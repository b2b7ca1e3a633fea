"""What the tree of a commit needs to build an image the way CI's build matrix builds it,
beyond the Dockerfile: every build argument the matrix entry passes (`build-args`,
.github/workflows/image.yaml) is declared by that Dockerfile (`ARG NAME`), and an argument
whose value names a file of the build context today (REQUIREMENTS=requirements-slim.txt) has
that file there too. Docker ignores an argument no ARG declares (it warns, the build goes on),
so an image tagged with an older commit would be the full image under the slim name.

The `image-commits` check asks this of every pin, the pin rule (gitops/edits/pin_rule.py) of
every image it pins.
"""

from __future__ import annotations

import re
from pathlib import Path

from gitops.tree.git_history import GitHistory


def build_input_problem(
    history: GitHistory, commit: str, context: str, build_args: tuple[str, ...], tree: Path
) -> str:
    """Why the tree of `commit`, whose `context` holds a Dockerfile, cannot build with
    `build_args` (NAME=value each); '' if it can. `tree`: the checked-out tree whose build
    matrix this is (which values name files of the context)."""
    dockerfile = f"{context}/Dockerfile"
    text = history.text_at(commit, dockerfile) or ""
    for argument in build_args:
        name, _, value = argument.partition("=")
        if not re.search(rf"^\s*ARG\s+{re.escape(name)}(?:=|\s|$)", text, re.MULTILINE):
            return f"{dockerfile} declares no ARG {name} (CI builds it with {argument})"
        path = f"{context}/{value}"
        if value and (tree / path).is_file() and not history.has_file(commit, path):
            return f"no {path} (CI builds it with {argument})"
    return ""

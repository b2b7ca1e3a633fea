"""pytest imports a test module outside a package by its file name alone (the default
"prepend" import mode), so two such modules with the same name stop the whole run at
collection ("import file mismatch"). Each test file name outside a package is unique."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from gitops.paths import REPO_ROOT


def clashing_names(root: Path) -> dict[str, list[str]]:
    """File name -> the test modules under `root` outside a package that share it."""
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in sorted(root.rglob("test_*.py")):
        if not (path.parent / "__init__.py").is_file():
            by_name[path.name].append(path.relative_to(root).as_posix())
    return {name: paths for name, paths in by_name.items() if len(paths) > 1}


def test_no_two_test_modules_outside_a_package_share_a_name() -> None:
    assert any((REPO_ROOT / "tests").rglob("test_*.py"))
    assert clashing_names(REPO_ROOT / "tests") == {}


def test_a_planted_clash_is_reported(tmp_path: Path) -> None:
    for folder in ("a", "b", "c"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "test_same.py").write_text("")
    (tmp_path / "c" / "__init__.py").write_text("")  # a package: imported as c.test_same

    assert clashing_names(tmp_path) == {"test_same.py": ["a/test_same.py", "b/test_same.py"]}

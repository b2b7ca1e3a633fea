"""`python -m gitops validate` as a command: summary, exit codes, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitops.validate import main
from tests.gitops.tree_copies import GENERIC_CHECKS


def test_cli_passes_on_good_repo(good_repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    checks = ",".join(c for c in GENERIC_CHECKS if c != "checkov")
    assert main(["--repo", str(good_repo), "--only", checks]) == 0
    out = capsys.readouterr().out
    assert "render" in out
    assert "OK in" in out


def test_cli_fails_with_located_message(
    good_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (good_repo / "overlays/kind/minio/configmap.yaml").write_text("kind: ConfigMap\n")
    assert main(["--repo", str(good_repo), "--only", "render,schemas"]) == 1
    out = capsys.readouterr().out
    assert "FAIL" in out
    assert "overlays/kind/minio" in out


@pytest.mark.parametrize("argv", [["--only", "nonsense"], ["--repo", "/nonexistent/dir"]])
def test_cli_bad_input_exits_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "error:" in capsys.readouterr().err

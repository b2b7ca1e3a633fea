"""`python -m gitops validate` (gitops/validate.py): the runner over the registered checks,
and the command: summary, exit codes, bad input."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import gitops.checks
from gitops.validate import main, validate_repo
from tests.gitops.tree_copies import GENERIC_CHECKS


def test_good_repo_passes_every_generic_check_including_checkov(good_repo: Path) -> None:
    report = validate_repo(good_repo, GENERIC_CHECKS)
    assert report.ok, "\n".join(map(str, report.findings))
    assert report.stats["applications"] == {"kind": 5}
    assert report.stats["checkov_inputs"] > 0


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


BACKGROUND = """
import threading

from gitops.checks import register

EVENTS = []
STARTED = threading.Event()


def prepare(settings):
    EVENTS.append("prepare")
    return "prepared for the check"


@register("planted-background", "waits on nothing", order=1, background=True, prepare=prepare)
def background(ctx):
    EVENTS.append(ctx.prepared["planted-background"])
    STARTED.set()
    return []


@register("planted-foreground", "runs while the background check does", order=2)
def foreground(ctx):
    # Only a background check that runs beside this one can have started by now.
    EVENTS.append("background started" if STARTED.wait(timeout=10) else "background not started")
    return []
"""


def test_prepare_runs_before_rendering_and_background_checks_beside_the_rest(
    good_repo: Path, plant_check: Callable[[str, str], None], monkeypatch: pytest.MonkeyPatch
) -> None:
    plant_check("planted_background", BACKGROUND)
    from gitops.checks import planted_background  # importing it registers its two checks

    def render_all(*args: Any) -> Any:
        planted_background.EVENTS.append("render")
        return real_render_all(*args)

    real_render_all = gitops.checks.render_all
    monkeypatch.setattr(gitops.checks, "render_all", render_all)
    report = validate_repo(good_repo, ["planted-background", "planted-foreground"])
    assert report.checks == ("planted-background", "planted-foreground")
    assert planted_background.EVENTS[:2] == ["prepare", "render"]
    assert set(planted_background.EVENTS[2:]) == {"prepared for the check", "background started"}


def test_a_check_line_includes_the_context_phase_it_reports(
    good_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def slow_render_all(*args: Any) -> Any:
        time.sleep(0.5)
        return real_render_all(*args)

    real_render_all = gitops.checks.render_all
    monkeypatch.setattr(gitops.checks, "render_all", slow_render_all)
    report = validate_repo(good_repo, ["render", "secrets"])
    assert report.seconds["render"] >= 0.5
    assert report.seconds["secrets"] < 0.5

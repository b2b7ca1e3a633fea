"""Every `with:` of every `uses:` step in .github/workflows/ is an input the pinned action
declares, every required input is given, and tests/lint/action_inputs.yaml holds each action
at the commit the workflows pin (tests/lint/workflow_inputs.py says why the table exists)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.lint.workflow_inputs import (
    ACTION_INPUTS,
    WORKFLOWS,
    DeclaredInputs,
    load_declared,
    malformed_entries,
    missing_required,
    stale_entries,
    unknown_inputs,
    uses_steps,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def declared() -> dict[str, DeclaredInputs]:
    return load_declared()


def copy_workflows(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / WORKFLOWS, tmp_path / WORKFLOWS)
    return tmp_path


def pinned(action: str, workflow: str) -> str:
    """The `uses:` line's value and comment as `workflow` pins `action` today, so the faults
    below follow a Renovate bump."""
    where = f"{WORKFLOWS.as_posix()}/{workflow}:"
    step = next(
        s for s in uses_steps(REPO_ROOT) if s.action == action and s.where.startswith(where)
    )
    return f"{action}@{step.ref} # {step.version}"


def plant(root: Path, workflow: str, old: str, new: str) -> None:
    path = root / WORKFLOWS / workflow
    text = path.read_text(encoding="utf-8")
    assert text.count(old) >= 1, f"{old!r} is not in {workflow}: the fault was not planted"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


# --- the real tree --------------------------------------------------------------------


def test_the_workflows_run_pinned_actions() -> None:
    steps = uses_steps(REPO_ROOT)
    assert {"actions/checkout", "actions/attest", "docker/build-push-action"} <= {
        s.action for s in steps
    }
    assert all(len(s.ref) == 40 and s.version.startswith("v") for s in steps), steps


def test_the_table_is_well_formed(declared: dict[str, DeclaredInputs]) -> None:
    assert malformed_entries(declared) == []


def test_the_table_holds_every_action_at_its_pinned_commit(
    declared: dict[str, DeclaredInputs],
) -> None:
    assert stale_entries(uses_steps(REPO_ROOT), declared) == []


def test_every_input_given_is_declared(declared: dict[str, DeclaredInputs]) -> None:
    assert unknown_inputs(uses_steps(REPO_ROOT), declared) == []


def test_every_required_input_is_given(declared: dict[str, DeclaredInputs]) -> None:
    assert missing_required(uses_steps(REPO_ROOT), declared) == []


# --- planted faults -------------------------------------------------------------------


def test_an_input_the_action_does_not_declare_is_reported(
    tmp_path: Path, declared: dict[str, DeclaredInputs]
) -> None:
    root = copy_workflows(tmp_path)
    plant(root, "image.yaml", "persist-credentials: false", "persist-credential: false")
    problems = unknown_inputs(uses_steps(root), declared)
    assert len(problems) == 1, problems
    assert problems[0].startswith(".github/workflows/image.yaml:")
    assert "actions/checkout v" in problems[0]
    assert "has no input 'persist-credential'" in problems[0]
    assert "did you mean 'persist-credentials'?" in problems[0]


def test_a_required_input_left_out_is_reported(
    tmp_path: Path, declared: dict[str, DeclaredInputs]
) -> None:
    root = copy_workflows(tmp_path)
    # upload-artifact declares `path` required, without a default.
    plant(root, "image.yaml", "          path: reference\n", "")
    problems = missing_required(uses_steps(root), declared)
    assert len(problems) == 1, problems
    assert problems[0].startswith(".github/workflows/image.yaml:")
    assert "actions/upload-artifact v" in problems[0]
    assert "requires input 'path'" in problems[0]


def test_an_action_moved_without_rereading_its_inputs_is_reported(
    tmp_path: Path, declared: dict[str, DeclaredInputs]
) -> None:
    root = copy_workflows(tmp_path)
    # What a Renovate pull request does: a new commit and version comment, the table untouched.
    plant(
        root,
        "image.yaml",
        pinned("actions/attest", "image.yaml"),
        "actions/attest@" + "ab" * 20 + " # v99.0.0",
    )
    steps = uses_steps(root)
    problems = stale_entries(steps, declared)
    assert len(problems) == 1, problems
    assert "pins actions/attest@" + "ab" * 20 + " (v99.0.0)" in problems[0]
    assert "read actions/attest@v99.0.0/action.yml" in problems[0]
    # Its inputs are not checked against the old commit's list meanwhile.
    assert not [p for p in unknown_inputs(steps, declared) if "actions/attest" in p]


def test_an_action_the_table_lacks_is_reported(
    tmp_path: Path, declared: dict[str, DeclaredInputs]
) -> None:
    root = copy_workflows(tmp_path)
    checkout = pinned("actions/checkout", "diff.yaml")
    plant(root, "diff.yaml", checkout, "example/unread@" + "cd" * 20 + " # v1.0.0")
    problems = stale_entries(uses_steps(root), declared)
    assert len(problems) == 1, problems
    assert problems[0].startswith(".github/workflows/diff.yaml:")
    assert "example/unread is not in tests/lint/action_inputs.yaml" in problems[0]


def test_an_entry_no_workflow_pins_is_reported(tmp_path: Path) -> None:
    table = tmp_path / "action_inputs.yaml"
    retired = (
        "  example/retired:\n    version: v1.0.0\n    commit: " + "ef" * 20 + "\n"
        "    file: action.yml\n    required: []\n    inputs: []\n"
    )
    table.write_text(ACTION_INPUTS.read_text(encoding="utf-8") + retired, encoding="utf-8")
    problems = stale_entries(uses_steps(REPO_ROOT), load_declared(table))
    assert problems == [
        "tests/lint/action_inputs.yaml: example/retired is pinned by no workflow: drop its entry"
    ]


def test_a_malformed_entry_is_reported(tmp_path: Path, declared: dict[str, DeclaredInputs]) -> None:
    table = tmp_path / "action_inputs.yaml"
    text = ACTION_INPUTS.read_text(encoding="utf-8")
    old = f"    commit: {declared['actions/attest'].commit}\n"
    assert old in text
    table.write_text(
        text.replace(old, "    commit: v4.2.2\n").replace(
            "    required: [path]\n", "    required: [path, paths]\n", 1
        ),
        encoding="utf-8",
    )
    problems = malformed_entries(load_declared(table))
    assert "tests/lint/action_inputs.yaml: actions/attest: commit 'v4.2.2' is not 40 hex" in (
        problems
    )
    assert any("required 'paths' is not among its inputs" in p for p in problems), problems

"""The `with:` inputs of the workflows' `uses:` steps, compared with what each pinned action
declares (tests/lint/action_inputs.yaml).

The runner only warns about an input the action does not declare (actions/runner v2.262.1
release notes) and does not check `required:` at all: a required input left out reaches the
action as an empty string (actions/runner issue 1070, open). actionlint checks inputs only
for the actions it knows by tag, so not for actions pinned by commit (rhysd/actionlint
v1.7.12, rule_action.go: `PopularActions[spec]`, spec being `owner/repo@ref`). The actions'
metadata files cannot be fetched offline, so the table records what each one declares at
the pinned commit, and the commit it was read at: an action moved to another commit without
its inputs being read again is reported too.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from gitops.tree.pins import GITHUB_ACTION, YamlPath, workflow_pins, yaml_scalars

WORKFLOWS = Path(".github/workflows")
ACTION_INPUTS = Path(__file__).with_name("action_inputs.yaml")
TABLE = "tests/lint/action_inputs.yaml"  # as messages name it
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


@dataclass(frozen=True)
class UsesStep:
    where: str  # file:line of its `uses:`
    action: str  # owner/repo, or owner/repo/path for an action in a subfolder
    ref: str  # what follows `@`: the pinned commit
    version: str  # its `# vX.Y.Z` comment (the ref itself when there is none)
    given: frozenset[str]  # its `with:` keys


@dataclass(frozen=True)
class DeclaredInputs:
    action: str
    version: str  # the tag the metadata file was read at
    commit: str  # that tag's commit
    file: str  # action.yml or action.yaml
    inputs: frozenset[str]
    required: frozenset[str]  # `required: true` and no `default`


def uses_steps(root: Path) -> list[UsesStep]:
    """Every step of every workflow under `root` that runs an action of another repository."""
    steps: list[UsesStep] = []
    for path in sorted((root / WORKFLOWS).glob("*.y*ml")):
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        versions = {
            pin.line: pin.version for pin in workflow_pins(rel, text) if pin.kind == GITHUB_ACTION
        }
        uses: dict[YamlPath, tuple[str, int]] = {}
        given: dict[YamlPath, set[str]] = {}
        for yaml_path, value, line in yaml_scalars(text):
            # (document, "jobs", job, "steps", index, key[, input])
            if len(yaml_path) < 6 or yaml_path[1] != "jobs" or yaml_path[3] != "steps":
                continue
            step, key = yaml_path[:5], yaml_path[5]
            if key == "uses" and len(yaml_path) == 6:
                uses[step] = (value, line)
            elif key == "with" and len(yaml_path) == 7:
                given.setdefault(step, set()).add(str(yaml_path[6]))
        for step, (value, line) in uses.items():
            if value.startswith(("./", "docker://")) or "@" not in value:
                continue
            action, _, ref = value.partition("@")
            version = versions.get(line, ref)
            steps.append(
                UsesStep(f"{rel}:{line}", action, ref, version, frozenset(given.get(step, ())))
            )
    return steps


def load_declared(table: Path = ACTION_INPUTS) -> dict[str, DeclaredInputs]:
    data = yaml.safe_load(table.read_text(encoding="utf-8")) or {}
    declared = {}
    for action, entry in (data.get("actions") or {}).items():
        declared[action] = DeclaredInputs(
            action=action,
            version=str(entry["version"]),
            commit=str(entry["commit"]),
            file=str(entry["file"]),
            inputs=frozenset(entry.get("inputs") or ()),
            required=frozenset(entry.get("required") or ()),
        )
    return declared


def malformed_entries(declared: dict[str, DeclaredInputs]) -> list[str]:
    """Entries that cannot be what a metadata file said."""
    problems = []
    for entry in declared.values():
        if not _COMMIT.match(entry.commit):
            problems.append(f"{TABLE}: {entry.action}: commit {entry.commit!r} is not 40 hex")
        if entry.file not in ("action.yml", "action.yaml"):
            problems.append(f"{TABLE}: {entry.action}: file {entry.file!r} is no metadata file")
        for name in sorted(entry.required - entry.inputs):
            problems.append(f"{TABLE}: {entry.action}: required {name!r} is not among its inputs")
    return problems


def stale_entries(steps: list[UsesStep], declared: dict[str, DeclaredInputs]) -> list[str]:
    """Steps whose action the table does not hold at the pinned commit, and entries no step
    uses."""
    problems = []
    for step in steps:
        entry = declared.get(step.action)
        if entry is None:
            problems.append(
                f"{step.where}: {step.action} is not in {TABLE}: read its action.yml at "
                f"{step.version} ({step.ref}) and add its inputs"
            )
        elif (entry.commit, entry.version) != (step.ref, step.version):
            problems.append(
                f"{step.where}: pins {step.action}@{step.ref} ({step.version}), but {TABLE} "
                f"holds the inputs of {entry.commit} ({entry.version}): read "
                f"{step.action}@{step.version}/{entry.file} and update its entry"
            )
    used = {step.action for step in steps}
    problems += [
        f"{TABLE}: {action} is pinned by no workflow: drop its entry"
        for action in sorted(set(declared) - used)
    ]
    return problems


def unknown_inputs(steps: list[UsesStep], declared: dict[str, DeclaredInputs]) -> list[str]:
    """`with:` keys the pinned action does not declare (steps the table holds at their
    commit; the others are stale_entries)."""
    problems = []
    for step, entry in _current(steps, declared):
        for name in sorted(step.given - entry.inputs):
            close = difflib.get_close_matches(name, sorted(entry.inputs), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                f"{step.where}: {step.action} {step.version} has no input {name!r}{hint}"
            )
    return problems


def missing_required(steps: list[UsesStep], declared: dict[str, DeclaredInputs]) -> list[str]:
    """Required inputs (no default) a step does not give."""
    return [
        f"{step.where}: {step.action} {step.version} requires input {name!r}"
        for step, entry in _current(steps, declared)
        for name in sorted(entry.required - step.given)
    ]


def _current(
    steps: list[UsesStep], declared: dict[str, DeclaredInputs]
) -> list[tuple[UsesStep, DeclaredInputs]]:
    pairs = []
    for step in steps:
        entry = declared.get(step.action)
        if entry is not None and (entry.commit, entry.version) == (step.ref, step.version):
            pairs.append((step, entry))
    return pairs

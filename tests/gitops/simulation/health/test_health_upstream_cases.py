"""Argo CD's own test data for its Lua health checks: every case of every health_test.yaml in
the scripts folder runs through the Lua runner and gives the status and message Argo CD's
util/lua/health_test.go (TestLuaHealthScript, v3.5.1) expects; it runs each built-in script
with the standard libraries, as Argo CD runs them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from gitops.simulation.health import Health, HealthChecks, HealthStatus, run_health_script
from tests.gitops.simulation.health.support import NO_SCRIPTS, SCRIPTS_DIR, load_object


def _cases() -> list[object]:
    if SCRIPTS_DIR is None:
        return [pytest.param(None, None, None, marks=pytest.mark.skip(reason=NO_SCRIPTS))]
    cases = []
    for test_file in sorted(SCRIPTS_DIR.glob("*/*/health_test.yaml")):
        folder = test_file.parent
        for case in yaml.safe_load(test_file.read_text(encoding="utf-8"))["tests"]:
            expected = case["healthStatus"]
            cases.append(
                pytest.param(
                    folder,
                    case["inputPath"],
                    Health(HealthStatus(expected["status"]), expected.get("message", "")),
                    id=f"{folder.relative_to(SCRIPTS_DIR)}/{case['inputPath']}",
                )
            )
    return cases


def _input(folder: Path, input_path: str) -> dict[str, object]:
    return load_object((folder / input_path).read_text(encoding="utf-8"))


@pytest.mark.parametrize(("folder", "input_path", "expected"), _cases())
def test_the_runner_gives_what_argo_cd_expects(
    folder: Path, input_path: str, expected: Health
) -> None:
    source = (folder / "health.lua").read_text(encoding="utf-8")
    assert run_health_script(source, _input(folder, input_path), open_libs=True) == expected


@pytest.mark.parametrize(("folder", "input_path", "expected"), _cases())
def test_assessing_the_object_finds_the_same_script(
    folder: Path, input_path: str, expected: Health, scripts_dir: Path
) -> None:
    assert HealthChecks(scripts_dir).assess(_input(folder, input_path)) == expected


def test_the_folder_has_cases(scripts_dir: Path) -> None:
    assert len(_cases()) >= 10, "fewer health_test.yaml cases than the mirror holds"


def test_a_changed_script_fails_argo_cds_expectation(scripts_dir: Path, tmp_path: Path) -> None:
    """The comparison can fail: the ExternalSecret script with its Ready=False branch
    reporting Healthy no longer gives the expected Degraded for Argo CD's degraded case."""
    folder = tmp_path / "external-secrets.io" / "ExternalSecret"
    shutil.copytree(scripts_dir / "external-secrets.io" / "ExternalSecret", folder)
    script = folder / "health.lua"
    text = script.read_text(encoding="utf-8")
    planted = text.replace('hs.status = "Degraded"', 'hs.status = "Healthy"', 1)
    assert planted != text
    script.write_text(planted, encoding="utf-8")
    degraded = _input(folder, "testdata/degraded.yaml")
    assert HealthChecks(tmp_path).assess(degraded).status == HealthStatus.HEALTHY
    assert HealthChecks(scripts_dir).assess(degraded).status == HealthStatus.DEGRADED

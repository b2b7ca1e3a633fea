"""The import contract of gitops/, training/ and the service ([tool.importlinter] in
pyproject.toml), checked by lint-imports: it holds on the packages as they are, and each kind
of violation, planted in a copy of them, breaks it with the module and the line that break it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
LAYERS = "gitops: commands > checks | diff | edits > simulation > tree > settings > paths"
CHECKS_ALONE = "every check stands alone: no check imports another"
ACYCLIC = "no import cycles between the modules of any gitops package"
PACKAGES = "one direction between the packages: training > gitops > inference"
TRAINING = "training: commands > local_platform > lifecycle > settings > rollout"
JUDGE = "the judge imports nothing outside training/rollout/ (its image)"
INFERENCE = "inference: commands > api > rollout > serving > monitoring > models"
RUNTIMES = "every model runtime stands alone: no runtime imports another"
ACYCLIC_TRAINING_SERVICE = "no import cycles between the modules of any training or service package"
CONTRACTS = (
    PACKAGES,
    LAYERS,
    CHECKS_ALONE,
    ACYCLIC,
    TRAINING,
    JUDGE,
    INFERENCE,
    RUNTIMES,
    ACYCLIC_TRAINING_SERVICE,
)


def lint_imports(cwd: Path) -> subprocess.CompletedProcess[str]:
    found = shutil.which("lint-imports", path=str(REPO_ROOT / ".venv" / "bin"))
    found = found or shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is not installed: run `make setup` (import-linter)")
    # The packages in `cwd` (lint-imports puts it first on the path; the service's package is in
    # its service/ folder), never ones from PYTHONPATH.
    env = {**os.environ, "PYTHONPATH": str(cwd / "service")}
    return subprocess.run(
        [found, "--no-cache", "--no-logo"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_contract_holds() -> None:
    result = lint_imports(REPO_ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    for name in CONTRACTS:
        assert f"{name} KEPT" in result.stdout


@pytest.fixture
def package_copy(tmp_path: Path) -> Path:
    """gitops/, training/, the service's package and pyproject.toml (the contract) copied to a
    folder of their own."""
    for package in ("gitops", "training", "service/inference"):
        shutil.copytree(
            REPO_ROOT / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__")
        )
    shutil.copy2(REPO_ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


@pytest.mark.parametrize(
    ("files", "contract", "reported"),
    [
        pytest.param(
            {"gitops/tree/planted.py": "from gitops.checks import Context\n"},
            LAYERS,
            "gitops.tree.planted -> gitops.checks (l.1)",
            id="the tree imports the checks",
        ),
        pytest.param(
            {"gitops/diff/planted.py": "from gitops.edits.models_yaml import add_model\n"},
            LAYERS,
            "gitops.diff.planted -> gitops.edits.models_yaml (l.1)",
            id="the diff imports an edit",
        ),
        pytest.param(
            {"gitops/tree/planted.py": "from gitops.simulation import health\n"},
            LAYERS,
            "gitops.tree.planted -> gitops.simulation.health (l.1)",
            id="the tree imports the simulation",
        ),
        pytest.param(
            {"gitops/simulation/planted.py": "from gitops.checks import Context\n"},
            LAYERS,
            "gitops.simulation.planted -> gitops.checks (l.1)",
            id="the simulation imports the checks",
        ),
        pytest.param(
            {"gitops/settings.py": "\nfrom gitops.tree.findings import Finding\n"},
            LAYERS,
            "gitops.settings -> gitops.tree.findings",
            id="the settings import the tree",
        ),
        pytest.param(
            {"gitops/planted.py": "from gitops import paths\n"},
            LAYERS,
            "- gitops.planted",
            id="a top-level module outside the layers",
        ),
        pytest.param(
            {"gitops/checks/planted.py": "from gitops.checks import crossrefs\n"},
            CHECKS_ALONE,
            "gitops.checks.planted -> gitops.checks.crossrefs (l.1)",
            id="a check imports another check",
        ),
        pytest.param(
            {
                "gitops/tree/planted_a.py": "from gitops.tree import planted_b\n",
                "gitops/tree/planted_b.py": "from gitops.tree import planted_a\n",
            },
            ACYCLIC,
            "No cycles are allowed in gitops.tree.",
            id="two tree modules import each other",
        ),
        pytest.param(
            {"gitops/tree/planted.py": "from training.lifecycle import registry\n"},
            PACKAGES,
            "gitops.tree.planted -> training.lifecycle.registry (l.1)",
            id="gitops imports training",
        ),
        pytest.param(
            {"service/inference/models/planted.py": "from gitops.tree import findings\n"},
            PACKAGES,
            "inference.models.planted -> gitops.tree.findings (l.1)",
            id="the service imports gitops",
        ),
        pytest.param(
            {"training/lifecycle/planted.py": "from training.local_platform import ports\n"},
            TRAINING,
            "training.lifecycle.planted -> training.local_platform.ports (l.1)",
            id="the lifecycle imports the local platform",
        ),
        pytest.param(
            {"training/rollout/planted.py": "from training.settings import Settings\n"},
            TRAINING,
            "training.rollout.planted -> training.settings (l.1)",
            id="the judge imports the training settings",
        ),
        pytest.param(
            {"training/planted.py": "from training import errors\n"},
            TRAINING,
            "- training.planted",
            id="a top-level training module outside the layers",
        ),
        pytest.param(
            {"training/rollout/planted.py": "from inference.contracts import model_uri\n"},
            JUDGE,
            "training.rollout.planted -> inference.contracts.model_uri (l.1)",
            id="the judge imports the service",
        ),
        pytest.param(
            {
                "service/inference/models/model.py": (
                    "\nfrom inference.monitoring.drift import DriftMonitor\n"
                ),
            },
            INFERENCE,
            "inference.models.model -> inference.monitoring.drift",
            id="a model imports the drift monitor again",
        ),
        pytest.param(
            {"service/inference/contracts/planted.py": "from inference.models import schema\n"},
            INFERENCE,
            "inference.contracts.planted -> inference.models.schema (l.1)",
            id="a shared format imports the models",
        ),
        pytest.param(
            {"service/inference/planted.py": "from inference import settings\n"},
            INFERENCE,
            "- inference.planted",
            id="a top-level service module outside the layers",
        ),
        pytest.param(
            {
                "service/inference/models/onnx_model.py": (
                    "\nfrom inference.models import sklearn_model\n"
                ),
            },
            RUNTIMES,
            "inference.models.onnx_model -> inference.models.sklearn_model",
            id="one runtime imports another",
        ),
        pytest.param(
            {
                "service/inference/models/planted_a.py": "from inference.models import planted_b\n",
                "service/inference/models/planted_b.py": "from inference.models import planted_a\n",
            },
            ACYCLIC_TRAINING_SERVICE,
            "No cycles are allowed in inference.models.",
            id="two model modules import each other",
        ),
    ],
)
def test_a_planted_violation_breaks_the_contract(
    package_copy: Path, files: dict[str, str], contract: str, reported: str
) -> None:
    for rel, text in files.items():
        path = package_copy / rel
        path.write_text(
            (path.read_text(encoding="utf-8") if path.exists() else "") + text, encoding="utf-8"
        )
    result = lint_imports(package_copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract} BROKEN" in result.stdout
    assert reported in result.stdout

"""Team models whose training code the repository bundles (training/examples/examples.yaml):
their versions registered the way their team registers them, by running the team's script.

The script (`<folder>/train.py`) fits and logs the model with the team's own code and ends
with the platform's one registration step (`training.register_model`, the step behind
`python -m training register`), as whichever registry user is logged in: on a cluster the
tenant's writer user `<tenant>-trainer`, as the team would be. A version registered from the
same files is the same model: it carries the tag `example_fingerprint` (sha256 of the
folder's code and data), and a later run reuses it instead of registering another.

`seed_examples` is `python -m training seed-examples --cluster C [--tenant T]`, which the
bootstraps run after `seed`: for each model a tenant declares on C that a bundled example
trains, the version is reused or registered and the declared alias set where it is not set
yet (an alias that is set is never moved, as `seed` does for the catalog's models).
`make up` calls `ensure_version` for the models it serves.
"""

from __future__ import annotations

import hashlib
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from inference.contracts.tenant_models import ModelEntry
from training.errors import OperationError, UsageError, one_of
from training.lifecycle import promote, registry
from training.lifecycle.overlays import cluster_tenants
from training.settings import REPO_ROOT, Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

FINGERPRINT_TAG = "example_fingerprint"
SCRIPT = "train.py"
# What the script prints once its registration is done (training/examples/churn/train.py).
REGISTERED = re.compile(r"^registered (?P<model>\S+) version (?P<version>\d+)\b", re.MULTILINE)
# Files of an example folder that are not its code or data.
NOT_FINGERPRINTED = frozenset({"README.md"})
SCRIPT_TIMEOUT_SECONDS = 900


@dataclass(frozen=True)
class TeamExample:
    model: str
    tenant: str
    folder: Path

    @property
    def script(self) -> Path:
        return self.folder / SCRIPT

    def fingerprint(self) -> str:
        """sha256 over the names and bytes of the folder's code and data, in name order."""
        digest = hashlib.sha256()
        for path in sorted(p for p in self.folder.rglob("*") if p.is_file()):
            if path.name in NOT_FINGERPRINTED or "__pycache__" in path.parts:
                continue
            digest.update(path.relative_to(self.folder).as_posix().encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        return digest.hexdigest()


@dataclass(frozen=True)
class SeededExample:
    tenant: str
    model: str
    served: str  # @alias, or /version for a pinned entry
    version: str | None
    action: str


def load_examples(path: Path) -> dict[str, TeamExample]:
    """model -> TeamExample; a broken file, an unknown folder or a name outside its tenant's
    prefix is bad input."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise UsageError(f"{path}: cannot read the examples file: {error}") from None
    entries = document.get("examples") or {}
    if not isinstance(entries, dict):
        raise UsageError(f"{path}: expected `examples: {{<model>: {{tenant, folder}}}}`")
    found = {}
    for model, entry in entries.items():
        if not isinstance(entry, dict) or not {"tenant", "folder"} <= entry.keys():
            raise UsageError(f"{path}: examples.{model}: expected keys `tenant` and `folder`")
        tenant, folder = str(entry["tenant"]), path.parent / str(entry["folder"])
        if not str(model).startswith(f"{tenant}-"):
            raise UsageError(f"{path}: examples.{model}: the name must start with {tenant}-")
        if not (folder / SCRIPT).is_file():
            raise UsageError(f"{path}: examples.{model}: {folder / SCRIPT} does not exist")
        found[str(model)] = TeamExample(str(model), tenant, folder)
    return found


def reusable_version(client: MlflowClient, example: TeamExample) -> str | None:
    """The newest version registered from the example's current code and data, if any."""
    wanted = example.fingerprint()
    try:
        found = registry.versions(client, example.model)
    except Exception as error:  # a model nobody registered yet has no versions to search
        if getattr(error, "error_code", "") == "RESOURCE_DOES_NOT_EXIST":
            return None
        raise
    matching = [v for v in found if v.tags.get(FINGERPRINT_TAG) == wanted]
    return matching[-1].version if matching else None


def run_script(example: TeamExample, settings: Settings) -> str:
    """Run the team's script as the team runs it, against settings.tracking_uri with the
    logged-in user of the environment; the version it registered."""
    python_path = [str(REPO_ROOT / "service"), str(REPO_ROOT)]
    if os.environ.get("PYTHONPATH"):
        python_path.append(os.environ["PYTHONPATH"])
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(python_path),
        "MLFLOW_TRACKING_URI": settings.tracking_uri,
    }
    command = [
        sys.executable,
        str(example.script),
        "--tenant",
        example.tenant,
        # The tenant's experiment: its writer user may log there, its service user read it.
        "--experiment",
        f"{settings.experiment_prefix}/{example.tenant}",
    ]
    try:
        done = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_SECONDS,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise OperationError(
            f"{_shown(example.script)} did not finish in {SCRIPT_TIMEOUT_SECONDS}s"
        ) from None
    registered = [m for m in REGISTERED.finditer(done.stdout) if m["model"] == example.model]
    if done.returncode != 0 or not registered:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise OperationError(
            f"{_shown(example.script)} --tenant {example.tenant} exited with code "
            f"{done.returncode} without registering {example.model}:\n{tail}"
        )
    return registered[-1]["version"]


def ensure_version(
    client: MlflowClient, settings: Settings, example: TeamExample
) -> tuple[str, bool]:
    """(the version of the example's current code and data, True when it existed already);
    registered by the team's script when none does, then tagged with its fingerprint."""
    found = reusable_version(client, example)
    if found is not None:
        return found, True
    fingerprint = example.fingerprint()
    version = run_script(example, settings)
    client.set_model_version_tag(example.model, version, FINGERPRINT_TAG, fingerprint)
    return version, False


def seed_examples(
    client: MlflowClient,
    settings: Settings,
    cluster: str,
    tenant: str | None = None,
    by: str | None = None,
) -> list[SeededExample]:
    """The first version of each model the cluster's tenants (or `tenant` alone) declare that
    a bundled example trains, where its alias is not set yet."""
    overlays = cluster_tenants(cluster, settings.overlays_root)
    if not overlays:
        raise UsageError(f"--cluster {cluster!r}: no tenant overlays in overlays/{cluster}/tenants")
    if tenant is not None:
        known = [o.tenant for o in overlays]
        if tenant not in known:
            raise one_of("tenant", tenant, known, of=f"overlays/{cluster}/tenants")
        overlays = [o for o in overlays if o.tenant == tenant]
    examples = load_examples(settings.examples_file)
    results = []
    for overlay in overlays:
        for entry in overlay.declaration().models:
            example = examples.get(entry.name)
            if example is None or example.tenant != overlay.tenant:
                continue
            results.append(_seed_one(client, settings, cluster, overlay.tenant, entry, example, by))
    return results


def _seed_one(
    client: MlflowClient,
    settings: Settings,
    cluster: str,
    tenant: str,
    entry: ModelEntry,
    example: TeamExample,
    by: str | None,
) -> SeededExample:
    if entry.version is not None:
        return SeededExample(tenant, entry.name, f"/{entry.version}", None, "pinned: not seeded")
    assert entry.alias is not None  # an entry follows an alias or pins a version
    current = registry.alias_version_if_any(client, entry.name, entry.alias)
    if current is not None:
        return SeededExample(tenant, entry.name, f"@{entry.alias}", current, "already set")
    version, reused = ensure_version(client, settings, example)
    promote.promote(
        client,
        settings,
        entry.name,
        version,
        entry.alias,
        reason=f"first version of {tenant} on {cluster}, from {_shown(example.script)}",
        by=by,
    )
    how = "reused (same code and data)" if reused else f"registered by {_shown(example.script)}"
    return SeededExample(tenant, entry.name, f"@{entry.alias}", version, f"{how}, promoted")


def _shown(path: Path) -> str:
    try:
        return path.resolve().relative_to(REPO_ROOT).as_posix()
    except ValueError:
        return str(path)

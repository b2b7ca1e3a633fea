"""`one-validator`: CI's kubeconform and the local validation check the same objects against
the same schemas.

- The CRDs the local suite reads (the `crds` set gitops/tree/upstream.py provides: CRDS_DIR,
  ../shared/crds, or the cache it downloads to, as CI does) are byte for byte the ones the
  tree's upstream-files.yaml lists with their release tags and sha256: the same files, the
  same sums, no CRD read locally that the list (and so CI) lacks.
- The kubeconform job of .github/workflows/checks.yaml reads only schemas exported by
  `python -m gitops export-schemas` (gitops/tree/export_schemas.py: the core schemas of
  settings.KUBERNETES_VERSION that `schemas` uses, the CRDs converted by the code
  `crd-schemas` uses), and names no Kubernetes version or schema source of its own
  (no -kubernetes-version, no `default` schema location).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

import yaml

from gitops.checks import Context, register
from gitops.settings import KUBERNETES_VERSION
from gitops.tree.findings import Finding
from gitops.tree.upstream import MANIFEST, folder

CHECK = "one-validator"
SOURCES = Path(MANIFEST)
WORKFLOW = Path(".github/workflows/checks.yaml")
EXPORT_COMMAND = "gitops export-schemas"


@register(CHECK, "CI's kubeconform uses the local validator's schemas, CRD files and version")
def check(ctx: Context) -> Iterable[Finding]:
    if not (ctx.root / SOURCES).is_file() and not (ctx.root / WORKFLOW).is_file():
        return  # a tree without CI (fixtures): nothing to compare
    yield from _crd_files(ctx.root / SOURCES, folder("crds", ctx.settings))
    yield from _kubeconform(ctx.root / WORKFLOW)


def _crd_files(sources: Path, crds_dir: Path) -> Iterable[Finding]:
    where = SOURCES.as_posix()
    if not sources.is_file():
        yield Finding(CHECK, where, "", "missing", "the pinned upstream files, with their sha256")
        return
    sets = (yaml.safe_load(sources.read_text()) or {}).get("sets") or {}
    listed = {e["file"]: e for e in sets.get("crds") or []}
    # The files load_crds reads.
    local = {p.relative_to(crds_dir).as_posix(): p for p in sorted(crds_dir.rglob("*.y*ml"))}
    for name in sorted(set(local) - set(listed)):
        yield Finding(
            CHECK,
            where,
            "",
            f"{name} is read locally but the crds set does not list it (CI lacks it)",
            "an entry for every file of the pinned CRDs",
        )
    for name, entry in sorted(listed.items()):
        if name not in local:
            yield Finding(
                CHECK,
                where,
                "",
                f"{name}: listed, but the local suite has no such file",
                f"the same files in {crds_dir}",
            )
            continue
        digest = hashlib.sha256(local[name].read_bytes()).hexdigest()
        if digest != entry.get("sha256"):
            yield Finding(
                CHECK,
                where,
                "",
                f"{name}: sha256 {entry.get('sha256')} but the local file has {digest}",
                "the same bytes on both sides (refresh the sum only with the file at the tag)",
            )


def _kubeconform(workflow: Path) -> Iterable[Finding]:
    where = WORKFLOW.as_posix()
    if not workflow.is_file():
        yield Finding(CHECK, where, "", "missing", "the workflow that runs kubeconform")
        return
    steps = [
        (job_name, step)
        for job_name, job in (yaml.safe_load(workflow.read_text()).get("jobs") or {}).items()
        for step in job.get("steps") or []
    ]
    runs = [(job, str(step.get("run") or "")) for job, step in steps]
    kubeconform = [(job, run) for job, run in runs if "kubeconform " in run and "-summary" in run]
    if not kubeconform:
        yield Finding(CHECK, where, "", "no step runs kubeconform", "the second validator")
        return
    for job, run in kubeconform:
        exported = [r for j, r in runs if j == job and EXPORT_COMMAND in r]
        if not exported:
            yield Finding(
                CHECK,
                f"{where}: job {job}",
                "",
                f"kubeconform runs without `python -m {EXPORT_COMMAND}` in its job",
                "the schemas exported by the local validator",
            )
        out = _export_dir(exported[0]) if exported else None
        for problem in _locations(run, out):
            yield Finding(CHECK, f"{where}: job {job}", "", problem, _expected(out))


def _export_dir(run: str) -> str | None:
    words = run.replace("\\\n", " ").split()
    for index, word in enumerate(words):
        if word == "export-schemas" and index + 1 < len(words):
            return words[index + 1].strip('"')
    return None


def _locations(run: str, out: str | None) -> list[str]:
    words = [w.strip('"') for w in run.replace("\\\n", " ").split()]
    problems = []
    if "-kubernetes-version" in words:
        problems.append("kubeconform names a Kubernetes version of its own")
    locations = [words[i + 1] for i, w in enumerate(words[:-1]) if w == "-schema-location"]
    if not locations:
        problems.append("kubeconform has no -schema-location: it would download other schemas")
    for location in locations:
        if location == "default" or (out and not location.startswith(f"{out}/")):
            problems.append(f"schema location {location} is not the exported schemas")
    return problems


def _expected(out: str | None) -> str:
    return (
        f"-schema-location under {out or 'the export folder'} only "
        f"(core/ for Kubernetes {KUBERNETES_VERSION}, crds/)"
    )

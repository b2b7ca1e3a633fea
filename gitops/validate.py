"""`python -m gitops validate`: render every kustomization and prove the tree right, offline.

The runner of the checks registered in gitops/checks/: it builds one Context (everything
rendered and derived once) and runs each selected check over it, in the registry's order,
background checks in threads beside the others. Usable as a library: `validate_repo(path)`
returns a Report whose findings say what is wrong.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops.checks import Check, Context, load_all
from gitops.settings import Settings
from gitops.tree.findings import Finding
from gitops.tree.upstream import folder

# name -> what a passing check proves, in summary order, as registered when this module is
# imported (the summary and --help list them; validate_repo asks the registry each run).
CHECKS = {name: check.proves for name, check in load_all().items()}


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    checks: tuple[str, ...] = ()
    stats: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.findings

    def by_check(self, check: str) -> list[Finding]:
        return [f for f in self.findings if f.check == check]


class _Run:
    def __init__(self, checks: tuple[str, ...]) -> None:
        self.checks = checks
        self.report = Report(checks=checks)
        self._seen: set[tuple[str, str, str]] = set()

    def add(self, check: Check, found: list[Finding], seconds: float, ctx: Context) -> None:
        # The same object is rendered by its base, overlay and Application: report it once.
        for finding in found:
            key = (finding.check, finding.obj or finding.where, finding.problem)
            if finding.check in self.checks and key not in self._seen:
                self._seen.add(key)
                self.report.findings.append(finding)
        # A check's line includes the parts of the Context build it reports on (the render).
        spent = seconds + sum(ctx.seconds.get(phase, 0.0) for phase in check.phases)
        self.report.seconds[check.name] = round(spent, 2)


def validate_repo(
    repo_root: Path, checks: Iterable[str] | None = None, allow_examples: bool | None = None
) -> Report:
    """`allow_examples`: accept the example cluster settings the tree ships with (default:
    the GITOPS_ALLOW_EXAMPLES environment variable, see gitops.settings)."""
    registered = load_all()
    wanted = set(registered if checks is None else checks)
    unknown = wanted - set(registered)
    if unknown:
        raise ValueError(f"unknown checks {sorted(unknown)}; expected some of {list(registered)}")
    selected = [check for name, check in registered.items() if name in wanted]
    run = _Run(tuple(check.name for check in selected))
    settings = Settings.from_env(repo_root)
    # The pinned CRDs before anything starts: without them nothing can be checked, and the
    # error (UpstreamFilesError) says how to get them. Context.build finds them resolved.
    folder("crds", settings)
    # Work a check starts before anything is rendered (checkov's interpreter and its imports)
    # overlaps the rendering.
    prepared = {c.name: c.prepare(settings) for c in selected if c.prepare is not None}
    ctx = Context.build(settings, allow_examples, prepared)
    built = list(ctx.stats)
    background = [c for c in selected if c.background]
    # Checks that mostly wait on other processes (checkov, the bootstrap scripts) run in
    # threads beside the rest: on two cores the Python checks and a child process overlap
    # instead of adding up.
    with ThreadPoolExecutor(max_workers=max(1, len(background))) as pool:
        beside: list[tuple[Check, Future[tuple[list[Finding], float]]]] = [
            (check, pool.submit(_clocked, check, ctx)) for check in background
        ]
        for check in selected:
            if not check.background:
                run.add(check, *_clocked(check, ctx), ctx)
        for check, future in beside:
            run.add(check, *future.result(), ctx)
    # The Context's figures first, then what checks reported, by name: background checks
    # report from their threads, in no fixed order.
    stats = {key: ctx.stats[key] for key in built}
    stats.update({key: ctx.stats[key] for key in sorted(ctx.stats) if key not in built})
    run.report.stats = stats
    return run.report


def _clocked(check: Check, ctx: Context) -> tuple[list[Finding], float]:
    start = time.perf_counter()
    found = list(check.run(ctx))
    return found, time.perf_counter() - start


def format_report(report: Report) -> str:
    lines = []
    proves = {name: check.proves for name, check in load_all().items()}
    width = max(len(c) for c in proves)
    for check in report.checks:
        found = report.by_check(check)
        status = "ok  " if not found else f"FAIL ({len(found)})"
        seconds = report.seconds.get(check)
        timing = f" [{seconds:.1f}s]" if seconds else ""
        lines.append(f"  {check:<{width}}  {status:<10} {proves[check]}{timing}")
    stats = ", ".join(f"{k}={v}" for k, v in report.stats.items() if k != "crd_patterns_dropped")
    lines.append(f"  ({stats})")
    for pattern in report.stats.get("crd_patterns_dropped", []):
        lines.append(f"  note: CRD pattern not translatable to Python re, not enforced: {pattern}")
    for check in report.checks:
        found = report.by_check(check)
        if found:
            lines.append(f"\n{check}: {len(found)} problem(s)")
            lines += [f"  - {f}" for f in found]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gitops validate", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--repo", type=Path, default=None, help="repository root (default: this)")
    parser.add_argument(
        "--skip", default="", help=f"comma-separated checks to skip: {list(CHECKS)}"
    )
    parser.add_argument("--only", default="", help="comma-separated checks to run (default: all)")
    args = parser.parse_args(argv)
    registered = list(load_all())
    skip = {c for c in args.skip.split(",") if c}
    only = {c for c in args.only.split(",") if c} or set(registered)
    unknown = (skip | only) - set(registered)
    if unknown:
        print(f"error: unknown check(s) {sorted(unknown)}; expected {registered}", file=sys.stderr)
        return 2
    repo = args.repo or Settings.from_env().repo_root
    if not repo.is_dir():
        print(f"error: --repo {repo} is not a directory", file=sys.stderr)
        return 2
    start = time.perf_counter()
    report = validate_repo(repo, only - skip)
    print(f"validate {repo}:")
    print(format_report(report))
    verdict = "OK" if report.ok else f"FAILED: {len(report.findings)} problem(s)"
    print(f"\n{verdict} in {time.perf_counter() - start:.1f}s")
    return 0 if report.ok else 1

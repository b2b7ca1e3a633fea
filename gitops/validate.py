"""`python -m gitops validate`: render every kustomization and prove the tree right, offline.

Usable as a library: `validate_repo(path)` returns a Report whose findings say what is wrong.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gitops import (
    checkov_scan,
    checkov_tenants,
    crossrefs,
    pod_security,
    promtool_rules,
    schemas,
    secret_data,
    sync_waves,
    tenancy,
    validate_settings,
)
from gitops.app_tree import ClusterTree, TreeBuilder
from gitops.checks import REGISTRY, Context, load_all
from gitops.crd_schemas import CrdSet, load_crds
from gitops.findings import Finding
from gitops.go_regex import dropped_patterns
from gitops.kustomizations import Rendered, discover, render_all
from gitops.paths import CLUSTERS

# name -> what a passing check proves (printed in the summary and the README)
CHECKS = {
    "render": "every kustomization builds with the pinned kubectl",
    "schemas": f"core objects match the Kubernetes {validate_settings.KUBERNETES_VERSION} schemas "
    "(strict, no unknown kinds)",
    "crd-schemas": "custom resources match their pinned CRD (strict, served versions)",
    "crossrefs": "Services, HPAs, PDBs and ServiceMonitors point at things that exist",
    "argo": "every Application source exists and renders; external sources pinned",
    "tenancy": "tenant apps, AppProjects and default-deny NetworkPolicies confine tenants",
    "sync-waves": (
        f"the root app syncs {' < '.join(sync_waves.WAVE_ORDER)}; rollouts after registry "
        "and monitoring"
    ),
    "pod-security": "pod templates meet Pod Security restricted (+ read-only root for tenants)",
    "secrets": "no Secret with data rendered or committed",
    "checkov": "checkov passes on everything deployed (run once over all of it)",
    "checkov-skips": "every checkov skip annotation names a check and gives a reason",
    "promtool": "every PrometheusRule passes promtool check rules",
}
# Checks in gitops/checks/ register themselves; they run after the ones above.
CHECKS.update({name: check.proves for name, check in load_all().items()})


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
    def __init__(self, repo_root: Path, checks: Iterable[str]) -> None:
        self.settings = validate_settings.load(repo_root)
        self.root = self.settings.repo_root
        self.checks = tuple(c for c in CHECKS if c in set(checks))
        self.report = Report(checks=self.checks)
        self._seen: set[tuple[str, str, str]] = set()

    def add(self, findings: Iterable[Finding]) -> None:
        # The same object is rendered by its base, overlay and Application: report it once.
        for finding in findings:
            key = (finding.check, finding.obj or finding.where, finding.problem)
            if finding.check in self.checks and key not in self._seen:
                self._seen.add(key)
                self.report.findings.append(finding)

    def timed(self, name: str, func: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        try:
            return func()
        finally:
            self.report.seconds[name] = round(
                self.report.seconds.get(name, 0.0) + time.perf_counter() - start, 2
            )


def validate_repo(
    repo_root: Path, checks: Iterable[str] | None = None, allow_examples: bool | None = None
) -> Report:
    """`allow_examples`: accept the example cluster settings the tree ships with (default:
    the GITOPS_ALLOW_EXAMPLES environment variable, see validate_settings)."""
    run = _Run(repo_root, CHECKS if checks is None else checks)
    unknown = set(checks or ()) - set(CHECKS)
    if unknown:
        raise ValueError(f"unknown checks {sorted(unknown)}; expected some of {list(CHECKS)}")
    root, settings, report = run.root, run.settings, run.report

    # checkov's interpreter starts now, so its imports overlap the rendering.
    scanner = checkov_scan.Scanner(settings.checkov) if "checkov" in run.checks else None
    rendered = run.timed("render", lambda: render_all(discover(root), root))
    run.add(
        Finding(
            "render",
            r.rel,
            "",
            f"kustomize build failed: {r.error}",
            "a build that succeeds on its own",
        )
        for r in rendered.values()
        if r.error
    )
    ok = [r for r in rendered.values() if not r.error]
    report.stats["kustomizations"] = len(rendered)
    report.stats["objects"] = sum(len(r.objects) for r in ok)

    if not settings.crds_dir.is_dir():
        run.add(
            [
                Finding(
                    "crd-schemas",
                    str(settings.crds_dir),
                    "",
                    "CRD folder missing",
                    "the pinned CRDs in ../shared/crds (or CRDS_DIR)",
                )
            ]
        )
        crds = CrdSet([])
    else:
        crds = run.timed("crd-schemas", lambda: load_crds(settings.crds_dir))

    def is_namespaced(obj: dict[str, Any]) -> bool:
        return schemas.is_namespaced(obj, crds)

    trees: list[ClusterTree] = []
    tenants: dict[str, frozenset[str]] = {}
    if (root / "clusters").is_dir():
        builder = TreeBuilder(root, validate_settings.REPO_URL, rendered, is_namespaced)
        for cluster in _clusters(root):
            tenants[cluster] = tenancy.tenant_namespaces(root, cluster)
            trees.append(run.timed("argo", lambda c=cluster: builder.build(c)))
    all_tenants = frozenset().union(*tenants.values()) if tenants else frozenset()
    for cluster, names in _loose_tenants(root).items():
        tenants.setdefault(cluster, names)
        all_tenants |= names

    context = Context(
        root=root,
        rendered=rendered,
        trees=trees,
        tenants=tenants,
        crds=crds,
        allow_examples=settings.allow_examples if allow_examples is None else allow_examples,
    )
    # checkov and the checks that wait on other processes run in threads beside the rest:
    # on two cores the Python checks and a child process overlap instead of adding up.
    with ThreadPoolExecutor(max_workers=3) as pool:
        beside: list[tuple[str, Future[tuple[list[Finding], float]]]] = []
        if scanner is not None:
            # Tenants that render alike but for their name are scanned once (checkov_tenants).
            collapsed = checkov_tenants.collapse(*_checkov_groups(root, ok, trees))
            report.stats["checkov_inputs"] = len(collapsed.groups)
            beside.append(("checkov", pool.submit(_clocked, _checkov, scanner, collapsed)))
        for name, check in REGISTRY.items():
            if name in run.checks and check.background:
                beside.append((name, pool.submit(_clocked, check.run, context)))
        _foreground_checks(run, ok, trees, tenants, crds, all_tenants, is_namespaced)
        for name, check in REGISTRY.items():
            if name in run.checks and not check.background:
                run.add(run.timed(name, lambda c=check: list(c.run(context))))
        for name, future in beside:
            found, seconds = future.result()
            run.add(found)
            report.seconds[name] = round(seconds, 2)
    dropped = dropped_patterns()
    if dropped:
        report.stats["crd_patterns_dropped"] = dropped
    return report


def _foreground_checks(
    run: _Run,
    ok: list[Rendered],
    trees: list[ClusterTree],
    tenants: dict[str, frozenset[str]],
    crds: CrdSet,
    all_tenants: frozenset[str],
    is_namespaced: Callable[[dict[str, Any]], bool],
) -> None:
    """The built-in checks: per kustomization, then per cluster tree, then repository-wide."""
    root, settings, report = run.root, run.settings, run.report
    # Per kustomization.
    for r in ok:
        _object_checks(run, r.objects, r.rel, crds, all_tenants)
        run.add(run.timed("crossrefs", lambda r=r: crossrefs.check(r.objects, r.rel)))

    # Per cluster: what Argo CD would deploy.
    for tree in trees:
        cluster_tenants = tenants.get(tree.cluster, frozenset())
        run.add(tree.findings)
        generated = [a.obj for a in tree.apps if a.generated_by]
        run.add(
            run.timed(
                "crd-schemas",
                lambda g=generated, t=tree: crds.validate(
                    g, f"{t.cluster}: generated by ApplicationSet"
                ),
            )
        )
        for app in tree.apps:
            _object_checks(run, app.objects, app.where, crds, all_tenants)
            run.add(run.timed("crossrefs", lambda a=app: crossrefs.check(a.objects, a.where)))
        run.add(
            run.timed(
                "crossrefs",
                lambda t=tree: crossrefs.check(
                    t.all_objects(), f"{t.cluster}: all Applications", cluster_wide=True
                ),
            )
        )
        run.add(
            run.timed(
                "tenancy",
                lambda t=tree, ct=cluster_tenants: tenancy.check(
                    t, ct, validate_settings.REPO_URL, is_namespaced
                ),
            )
        )
        run.add(run.timed("sync-waves", lambda t=tree, ct=cluster_tenants: sync_waves.check(t, ct)))
    report.stats["applications"] = {t.cluster: len(t.apps) for t in trees}

    if "secrets" in run.checks:
        run.add(run.timed("secrets", lambda: secret_data.check_files(root)))
    if "promtool" in run.checks:
        rules = _unique_objects(ok, trees, "PrometheusRule")
        report.stats["prometheus_rules"] = len(rules)
        run.add(run.timed("promtool", lambda: promtool_rules.check(rules, settings.promtool)))


def _clocked(function: Callable[..., Any], *args: Any) -> tuple[list[Finding], float]:
    start = time.perf_counter()
    found = list(function(*args))
    return found, time.perf_counter() - start


def _object_checks(
    run: _Run, objects: list[dict[str, Any]], where: str, crds: CrdSet, tenants: frozenset[str]
) -> None:
    if "schemas" in run.checks:
        run.add(run.timed("schemas", lambda: schemas.validate_objects(objects, where, crds)))
    if "crd-schemas" in run.checks:
        run.add(run.timed("crd-schemas", lambda: crds.validate(objects, where)))
    if "pod-security" in run.checks:
        run.add(
            run.timed(
                "pod-security",
                lambda: pod_security.check(
                    objects, where, validate_settings.UPSTREAM_NAMESPACES, tenants
                ),
            )
        )
    run.add(secret_data.check_rendered(objects, where))
    run.add(checkov_scan.check_skip_reasons(objects, where))


def _clusters(root: Path) -> list[str]:
    """Clusters with an entry folder, plus any known cluster that has overlays but no entry
    (reported as missing by the tree builder)."""
    present = {p.name for p in (root / "clusters").iterdir() if p.is_dir()}
    expected = {c for c in CLUSTERS if (root / "overlays" / c).is_dir()}
    return sorted(present | expected)


def _loose_tenants(root: Path) -> dict[str, frozenset[str]]:
    """Tenant folders of clusters that have no entry point yet (fixtures, partial trees)."""
    overlays = root / "overlays"
    if not overlays.is_dir():
        return {}
    return {
        c.name: tenancy.tenant_namespaces(root, c.name) for c in overlays.iterdir() if c.is_dir()
    }


def _unique_objects(
    ok: list[Rendered], trees: list[ClusterTree], kind: str
) -> list[tuple[str, dict[str, Any]]]:
    seen: dict[str, tuple[str, dict[str, Any]]] = {}
    sources = [(r.rel, r.objects) for r in ok] + [
        (a.where, a.objects) for t in trees for a in t.apps
    ]
    for where, objects in sources:
        for obj in objects:
            if obj.get("kind") == kind:
                seen.setdefault(json.dumps(obj.get("spec"), sort_keys=True), (where, obj))
    return list(seen.values())


def _checkov(scanner: checkov_scan.Scanner, collapsed: checkov_tenants.Collapsed) -> list[Finding]:
    return checkov_tenants.expand(scanner.scan(collapsed.groups), collapsed)


def _checkov_groups(
    root: Path, ok: list[Rendered], trees: list[ClusterTree]
) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """What checkov scans: each Application's output as Argo CD would deploy it (namespace
    filled in), plus overlays/ and clusters/ kustomizations no Application deploys. Bases
    alone are building blocks (no namespace yet), covered through the overlays using them.
    Also the tenant each tenant Application's label names."""
    groups: dict[str, list[dict[str, Any]]] = {}
    tenants: dict[str, str] = {}
    for tree in trees:
        for app in tree.apps:
            if app.objects:
                groups[f"{app.where}"] = app.objects
                labels = (app.obj.get("metadata") or {}).get("labels") or {}
                if labels.get(checkov_tenants.TENANT_LABEL):
                    tenants[app.where] = str(labels[checkov_tenants.TENANT_LABEL])
    covered = {p for t in trees for p in t.covered}
    for r in ok:
        top = r.rel.split("/", 1)[0]
        if top in ("overlays", "clusters") and r.path not in covered and r.objects:
            groups[r.rel] = r.objects
    return groups, tenants


def format_report(report: Report) -> str:
    lines = []
    width = max(len(c) for c in CHECKS)
    for check in report.checks:
        found = report.by_check(check)
        status = "ok  " if not found else f"FAIL ({len(found)})"
        seconds = report.seconds.get(check)
        timing = f" [{seconds:.1f}s]" if seconds else ""
        lines.append(f"  {check:<{width}}  {status:<10} {CHECKS[check]}{timing}")
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
    skip = {c for c in args.skip.split(",") if c}
    only = {c for c in args.only.split(",") if c} or set(CHECKS)
    unknown = (skip | only) - set(CHECKS)
    if unknown:
        print(
            f"error: unknown check(s) {sorted(unknown)}; expected {list(CHECKS)}", file=sys.stderr
        )
        return 2
    repo = args.repo or validate_settings.load().repo_root
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

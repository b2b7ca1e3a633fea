"""THE positive test: this repository's real tree (both clusters, every overlay, every
Application the root apps reach) passes every check, checkov and promtool included."""

from __future__ import annotations

from gitops.validate import CHECKS, Report


def test_real_tree_passes_every_check(real_tree_report: Report) -> None:
    assert real_tree_report.checks == tuple(CHECKS)
    assert real_tree_report.ok, "\n".join(map(str, real_tree_report.findings))


def test_real_tree_reaches_every_tenant_on_every_cluster(real_tree_report: Report) -> None:
    apps = real_tree_report.stats["applications"]
    assert set(apps) == {"kind", "eks"}
    assert all(count > 0 for count in apps.values())

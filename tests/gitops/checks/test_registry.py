"""The registry of checks (gitops/checks/__init__.py): a new check is one module that
registers itself, and the summary's order does not depend on which module was imported
first."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from gitops.checks import DEFAULT_ORDER, load_all, register
from gitops.validate import format_report, validate_repo
from tests.gitops.tree_copies import GENERIC_CHECKS

PLANTED = """
from gitops.checks import register
from gitops.tree.findings import Finding


@register("planted-first", "runs before every other check", order=1)
def first(ctx):
    finding = Finding("planted-first", "somewhere", "Kind ns/name", "planted problem")
    # the same finding twice, and one of a check that does not run: reported once, and not
    return [finding, finding, Finding("schemas", "elsewhere", "", "not a schemas problem")]


@register("aa-unordered", "registered without an order")
def unordered(ctx):
    return []
"""


def test_the_generic_checks_keep_their_order() -> None:
    assert GENERIC_CHECKS == (
        "render",
        "schemas",
        "crd-schemas",
        "crossrefs",
        "argo",
        "tenancy",
        "sync-waves",
        "pod-security",
        "secrets",
        "checkov",
        "checkov-skips",
        "promtool",
    )


def test_a_new_module_is_a_new_check(
    good_repo: Path, plant_check: Callable[[str, str], None]
) -> None:
    plant_check("planted", PLANTED)
    registered = load_all()
    names = list(registered)
    assert names[0] == "planted-first"
    ordered = [n for n, c in registered.items() if c.order < DEFAULT_ORDER]
    assert names.index("aa-unordered") > max(names.index(n) for n in ordered)

    report = validate_repo(good_repo, ["render", "planted-first"])
    assert report.checks == ("planted-first", "render")
    assert [str(f) for f in report.findings] == ["somewhere: Kind ns/name: planted problem"]
    assert "planted-first" in report.seconds
    assert "runs before every other check" in format_report(report)


def test_a_name_registered_twice_is_refused(plant_check: Callable[[str, str], None]) -> None:
    plant_check("planted", PLANTED)
    load_all()
    with pytest.raises(ValueError, match="'planted-first' registered twice"):
        register("planted-first", "again")(lambda ctx: [])


def test_an_unknown_phase_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown phases \\['rendering'\\]"):
        register("phased", "times a phase that does not exist", phases=("rendering",))

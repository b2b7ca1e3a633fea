"""The `promtool` check (gitops/checks/promtool.py) catches the fault it exists for: each test
plants one fault into a copy of fixtures/good-repo (a small, complete, valid repository) and
expects the check, with a message naming the object, to fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.gitops.tree_copies import edit_yaml, problems, validate


def test_invalid_prometheus_rule_expression(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        docs[0]["spec"]["groups"][0]["rules"][0]["expr"] = "sum(rate(x[5m]) >"

    edit_yaml(good_repo / "base/inference/prometheusrule.yaml", plant)
    found = problems(validate(good_repo, "promtool"), "promtool")
    assert "PrometheusRule" in found
    assert "promtool check rules failed" in found


def test_missing_promtool_is_an_error(good_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROMTOOL", str(good_repo / "no-such-promtool"))
    found = problems(validate(good_repo, "promtool"), "promtool")
    assert "promtool not found" in found

"""The `pod-security` check (gitops/checks/pod_security.py) catches the fault it exists for:
each test plants one fault into a copy of fixtures/good-repo (a small, complete, valid
repository) and expects the check, with a message naming the object, to fail."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.gitops.tree_copies import DEPLOYMENT, container, edit_yaml, problems, validate


def test_privileged_container_and_missing_run_as_non_root(good_repo: Path) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        pod = docs[0]["spec"]["template"]["spec"]
        pod["securityContext"].pop("runAsNonRoot")
        ctx = container(docs)["securityContext"]
        ctx.pop("runAsNonRoot")
        ctx["privileged"] = True

    edit_yaml(good_repo / DEPLOYMENT, plant)
    found = problems(validate(good_repo, "pod-security"), "pod-security")
    assert "containers[inference]: securityContext.privileged is true" in found
    assert "containers[inference]: runAsNonRoot is not true" in found


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda p, c: p.update(hostNetwork=True), "spec.hostNetwork is true"),
        (
            lambda p, c: p["volumes"].append({"name": "h", "hostPath": {"path": "/"}}),
            "volume 'h' is of type ['hostPath']",
        ),
        (
            lambda p, c: c["securityContext"].update(allowPrivilegeEscalation=True),
            "allowPrivilegeEscalation is not false",
        ),
        (
            lambda p, c: c["securityContext"]["capabilities"].update(add=["SYS_ADMIN"]),
            "capabilities.add ['SYS_ADMIN']",
        ),
        (
            lambda p, c: c["securityContext"]["capabilities"].update(drop=["NET_RAW"]),
            "capabilities.drop does not contain ALL",
        ),
        (lambda p, c: p["securityContext"].pop("seccompProfile"), "seccompProfile.type is None"),
        (
            lambda p, c: c["securityContext"].update(readOnlyRootFilesystem=False),
            "readOnlyRootFilesystem is not true",
        ),
    ],
)
def test_pod_security_restricted_rules(good_repo: Path, change: Any, message: str) -> None:
    def plant(docs: list[dict[str, Any]]) -> None:
        change(docs[0]["spec"]["template"]["spec"], container(docs))

    edit_yaml(good_repo / DEPLOYMENT, plant)
    found = problems(validate(good_repo, "pod-security"), "pod-security")
    assert "Deployment tenant-a/inference-service" in found
    assert message in found

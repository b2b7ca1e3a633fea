"""`service-settings`: the inference image each Deployment pins accepts the configuration the
Deployment gives it.

The manifests and the service change in different commits: a tree whose overlays give the
service a models file (MODELS_FILE, the ConfigMap tenant-models) while its pin still names an
image built from a service that requires MODEL_URI passes every manifest check, and every pod
crash-loops on the first sync. CI tags each image with the commit it was built from
(.github/workflows/image.yaml), so the service an image runs is service/inference/ at that
commit: this check runs that commit's own `Settings.from_env()` in a subprocess against the
rendered container's environment (envFrom ConfigMaps and env values; Secret values stand in
as placeholders) and the files its ConfigMap volumes mount, with the mount paths mapped into a
temporary folder (gitops/tree/pinned_service.py). A SettingsError is the finding.

Pins that name no commit, commits outside the history of HEAD and a history that cannot
answer (shallow, no git) are the `images` and `image-commits` checks' findings; this one
skips them.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gitops.checks import Context, register
from gitops.tree.findings import Finding, namespace_of
from gitops.tree.git_history import COMMIT, GitHistory, HistoryState
from gitops.tree.pinned_service import Mount, PinnedService, Verdict, container_mounts
from gitops.tree.pins import split_image
from gitops.tree.tenant_models import InferenceWorkload, configmaps_by_name, inference_workloads

CHECK = "service-settings"


@register(
    CHECK,
    "the service of each pinned inference image accepts the settings its Deployment gives it",
    order=150,
)
def check(ctx: Context) -> Iterator[Finding]:
    history = GitHistory(ctx.settings.git_history)
    if history.state() is not HistoryState.FULL:
        return  # image-commits reports a history that cannot answer
    pinned = list(_pinned_workloads(ctx, history))
    by_commit: dict[str, dict[str, tuple[dict[str, str], list[Mount]]]] = {}
    for _, _, commit, key, config in pinned:
        by_commit.setdefault(commit, {})[key] = config
    verdicts: dict[tuple[str, str], Verdict] = {}
    with tempfile.TemporaryDirectory(prefix="service-settings-") as scratch:
        for commit, configs in sorted(by_commit.items()):
            service = PinnedService(history, commit, Path(scratch))
            keys = sorted(configs)
            judged = service.judge_all([configs[k] for k in keys])
            verdicts |= {(commit, k): v for k, v in zip(keys, judged, strict=True)}
    ctx.stats[CHECK] = len(pinned)
    for where, workload, commit, key, _ in pinned:
        verdict = verdicts[(commit, key)]
        if verdict.problem:
            yield _finding(where, workload, commit, verdict)


Pinned = tuple[str, InferenceWorkload, str, str, tuple[dict[str, str], list[Mount]]]


def _pinned_workloads(ctx: Context, history: GitHistory) -> Iterator[Pinned]:
    """(where, workload, commit, key of its configuration, the configuration) of every
    inference Deployment whose image names a commit in the history of HEAD."""
    in_history: dict[str, bool] = {}
    for tree in ctx.trees:
        for app in tree.apps:
            for namespace in sorted({namespace_of(o) for o in app.objects}):
                objects = [o for o in app.objects if namespace_of(o) == namespace]
                configmaps = configmaps_by_name(objects)
                for workload in inference_workloads(objects):
                    commit = split_image(str(workload.container.get("image", "")))[1]
                    if not COMMIT.match(commit):
                        continue
                    if commit not in in_history:
                        in_history[commit] = history.in_history(commit)
                    if not in_history[commit]:
                        continue
                    env = {**workload.env, **_placeholders(workload.container)}
                    mounts = container_mounts(workload.spec, workload.container, configmaps)
                    key = json.dumps([sorted(env.items()), [repr(m) for m in mounts]])
                    yield app.where, workload, commit, key, (env, mounts)


def _placeholders(container: dict[str, Any]) -> dict[str, str]:
    """Values the rendered tree cannot know (Secrets, fields), as non-empty stand-ins: the
    settings only check that such a value is there."""
    out = {}
    for var in container.get("env") or []:
        source = var.get("valueFrom") or {}
        if "secretKeyRef" in source:
            ref = source["secretKeyRef"]
            out[str(var.get("name"))] = f"secret-{ref.get('name')}-{ref.get('key')}"
        elif "fieldRef" in source or "resourceFieldRef" in source:
            out[str(var.get("name"))] = "1"
    return out


def _finding(where: str, workload: InferenceWorkload, commit: str, verdict: Verdict) -> Finding:
    if verdict.refused:
        problem = (
            f"Deployment {workload.name} pins the inference image built from {commit[:12]}, "
            f"whose service refuses the settings this Deployment gives it ({verdict.problem}): "
            "every pod crash-loops on its first start"
        )
    else:
        problem = (
            f"Deployment {workload.name}: the service of the inference image it pins (built "
            f"from {commit[:12]}) cannot be checked: {verdict.problem}"
        )
    return Finding(
        CHECK,
        where,
        "",
        problem,
        "a pin of an image whose service reads this configuration (service/inference/"
        "settings.py at the pinned commit), or a configuration the pinned service reads",
    )

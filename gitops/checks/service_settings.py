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
from gitops.tree.pinned_service import PinnedService, Verdict, container_mounts
from gitops.tree.pins import split_image
from gitops.tree.tenant_models import InferenceWorkload, configmaps_by_name, inference_workloads

CHECK = "service-settings"
CACHE_KEY = "service-settings.verdicts"


@register(
    CHECK,
    "the service of each pinned inference image accepts the settings its Deployment gives it",
    order=150,
)
def check(ctx: Context) -> Iterator[Finding]:
    history = GitHistory(ctx.settings.git_history)
    if history.state() is not HistoryState.FULL:
        return  # image-commits reports a history that cannot answer
    verdicts: dict[str, Verdict] = ctx.cache.setdefault(CACHE_KEY, {})
    services: dict[str, PinnedService] = {}
    judged = 0
    with tempfile.TemporaryDirectory(prefix="service-settings-") as scratch:
        for tree in ctx.trees:
            for app in tree.apps:
                namespaces = {namespace_of(o) for o in app.objects}
                for namespace in sorted(namespaces):
                    objects = [o for o in app.objects if namespace_of(o) == namespace]
                    for workload in inference_workloads(objects):
                        commit = split_image(str(workload.container.get("image", "")))[1]
                        if not COMMIT.match(commit) or not history.in_history(commit):
                            continue
                        if commit not in services:
                            services[commit] = PinnedService(history, commit, Path(scratch))
                        verdict = _judge(services[commit], workload, objects, verdicts)
                        judged += 1
                        if verdict.problem:
                            yield _finding(app.where, workload, commit, verdict)
    ctx.stats[CHECK] = judged


def _judge(
    service: PinnedService,
    workload: InferenceWorkload,
    objects: list[dict[str, Any]],
    verdicts: dict[str, Verdict],
) -> Verdict:
    env = {**workload.env, **_placeholders(workload.container)}
    mounts = container_mounts(workload.spec, workload.container, configmaps_by_name(objects))
    key = json.dumps([service.commit, sorted(env.items()), [repr(m) for m in mounts]])
    if key not in verdicts:
        verdicts[key] = service.judge(env, mounts)
    return verdicts[key]


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

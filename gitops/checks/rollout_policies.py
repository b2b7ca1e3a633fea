"""`rollout-policies`: every tenant's rollout policy (overlays/<cluster>/tenants/<tenant>/
rollout.yaml, docs/rollouts.md) is valid and reaches its service.

- The file parses strictly with the same parser `python -m training rollout start` and the
  judge use (the schema, service/inference/contracts/rollout_policy.py): a mistake names the
  field and what was expected.
- Its stableAlias is the alias the overlay's MODEL_URI follows (a pinned overlay cannot roll
  out: there is no alias to move).
- The overlay renders it, unchanged, into a ConfigMap `rollout-policy-<hash>` that the
  inference Deployment mounts: otherwise the service never sees the tenant opted in.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from gitops.checks import Context, register
from gitops.tree.findings import Finding, name_of
from gitops.tree.tenants import read_model_env
from inference.contracts.rollout_policy import FILE_NAME, PolicyError, load_file

CHECK = "rollout-policies"
CONFIGMAP = "rollout-policy"


@register(CHECK, "each tenant's rollout.yaml is valid, follows its MODEL_URI alias and is mounted")
def check(ctx: Context) -> Iterable[Finding]:
    for cluster_dir in sorted((ctx.root / "overlays").glob("*/tenants")):
        for folder in sorted(p for p in cluster_dir.iterdir() if (p / FILE_NAME).is_file()):
            yield from _tenant(ctx, folder)


def _tenant(ctx: Context, folder: Path) -> Iterable[Finding]:
    path = folder / FILE_NAME
    rel = path.relative_to(ctx.root).as_posix()
    try:
        policy = load_file(path)
    except PolicyError as error:
        problem = str(error).removeprefix(f"{path}: ")
        yield Finding(CHECK, rel, "", problem, "a RolloutPolicy as docs/rollouts.md describes")
        return
    model_env = folder / "model.env"
    env = read_model_env(model_env) if model_env.is_file() else {}
    uri = env.get("MODEL_URI", "")
    alias = uri.partition("@")[2] if "@" in uri else ""
    if alias != policy.stable_alias:
        yield Finding(
            CHECK,
            rel,
            "",
            f"stableAlias {policy.stable_alias!r} is not the alias model.env's MODEL_URI "
            f"follows ({uri or 'unset'})",
            f"MODEL_URI=models:/<model>@{policy.stable_alias}",
        )
    rendered = ctx.rendered.get(folder)
    if rendered is None or rendered.error:
        return  # the render check reports it
    text = path.read_text(encoding="utf-8")
    maps = [
        o
        for o in rendered.objects
        if o.get("kind") == "ConfigMap"
        and name_of(o).startswith(f"{CONFIGMAP}-")
        and (o.get("data") or {}).get(FILE_NAME) == text
    ]
    where = folder.relative_to(ctx.root).as_posix()
    if not maps:
        yield Finding(
            CHECK,
            where,
            "",
            f"{FILE_NAME} is not rendered into a ConfigMap {CONFIGMAP}",
            f"a configMapGenerator `{CONFIGMAP}` with files: [{FILE_NAME}] in kustomization.yaml",
        )
        return
    names = {name_of(m) for m in maps}
    if not any(names & _mounted(o) for o in rendered.objects if o.get("kind") == "Deployment"):
        yield Finding(
            CHECK,
            where,
            "",
            f"no Deployment mounts the ConfigMap {sorted(names)[0]}",
            "the inference Deployment's volume rollout-policy (base/inference/deployment.yaml)",
        )


def _mounted(deployment: dict[str, Any]) -> set[str]:
    spec = ((deployment.get("spec") or {}).get("template") or {}).get("spec") or {}
    return {
        str((volume.get("configMap") or {}).get("name"))
        for volume in spec.get("volumes") or []
        if volume.get("configMap")
    }

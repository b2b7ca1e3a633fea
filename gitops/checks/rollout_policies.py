"""`rollout-policies`: every rollout policy a tenant's models.yaml names (the entry's
`rollout:`, a file beside models.yaml in overlays/<cluster>/tenants/<tenant>/,
docs/rollouts.md) is valid and reaches the service that serves the model.

- The file exists and parses strictly with the same parser `python -m training rollout start`
  and the judge use (the schema, service/inference/contracts/rollout_policy.py): a mistake
  names the field and what was expected.
- Its stableAlias is the alias the entry follows (an entry pinned to a version cannot roll
  out: the contract parser refuses `rollout:` there, and the `tenant-models` check reports it).
- A RolloutPolicy file in the folder that no entry names is reported: the tenant meant a
  rollout, and without the reference its model would be promoted all at once.
- The overlay renders the file, unchanged, into a ConfigMap `rollout-policy-<hash>`, and the
  Deployment serving the model mounts it where the service looks (ROLLOUT_POLICY_DIR/<file>):
  otherwise the service never sees the model opted in.

A models.yaml that cannot be read is the `tenant-models` check's finding; this one skips it.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from gitops.checks import Context, register
from gitops.tree.findings import Finding, name_of
from gitops.tree.kustomizations import Rendered
from gitops.tree.tenant_models import (
    DEFAULT_ROLLOUT_DIR,
    ROLLOUT_DIR_VARIABLE,
    configmaps_by_name,
    inference_workloads,
    mounted_configmap_file,
    read_declaration,
)
from inference.contracts.rollout_policy import KIND, PolicyError, load_file
from inference.contracts.tenant_models import ModelEntry, ModelsError

CHECK = "rollout-policies"
CONFIGMAP = "rollout-policy"


@register(
    CHECK,
    "each rollout policy a tenant's models.yaml names is valid, follows the model's alias and "
    "is mounted",
)
def check(ctx: Context) -> Iterable[Finding]:
    for cluster_dir in sorted((ctx.root / "overlays").glob("*/tenants")):
        for folder in sorted(p for p in cluster_dir.iterdir() if p.is_dir()):
            try:
                declaration = read_declaration(folder)
            except ModelsError:
                continue  # the tenant-models check reports it
            entries = [e for e in declaration.models if e.rollout]
            yield from _unreferenced(ctx, folder, {str(e.rollout) for e in entries})
            for entry in entries:
                yield from _entry(ctx, folder, entry)


def _unreferenced(ctx: Context, folder: Path, named: set[str]) -> Iterable[Finding]:
    for path in sorted(folder.glob("*.y*ml")):
        if path.name in named:
            continue
        try:
            document = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue  # not a policy this check can recognise; render reports broken YAML
        if isinstance(document, dict) and document.get("kind") == KIND:
            yield Finding(
                CHECK,
                path.relative_to(ctx.root).as_posix(),
                "",
                "a RolloutPolicy that no model in models.yaml names: its model would be "
                "promoted all at once",
                f"rollout: {path.name} on the entry of the model it is for, or no file",
            )


def _entry(ctx: Context, folder: Path, entry: ModelEntry) -> Iterable[Finding]:
    assert entry.rollout is not None
    path = folder / entry.rollout
    rel = path.relative_to(ctx.root).as_posix()
    if not path.is_file():
        yield Finding(
            CHECK,
            folder.relative_to(ctx.root).as_posix(),
            "",
            f"models.yaml: {entry.name} names the rollout policy {entry.rollout}, which does "
            "not exist",
            f"{entry.rollout} beside models.yaml (docs/rollouts.md)",
        )
        return
    try:
        policy = load_file(path)
    except PolicyError as error:
        problem = str(error).removeprefix(f"{path}: ")
        yield Finding(CHECK, rel, "", problem, "a RolloutPolicy as docs/rollouts.md describes")
        return
    if entry.alias != policy.stable_alias:
        yield Finding(
            CHECK,
            rel,
            "",
            f"stableAlias {policy.stable_alias!r} is not the alias {entry.name} follows in "
            f"models.yaml ({entry.alias!r})",
            f"alias: {policy.stable_alias} on the entry, or stableAlias: {entry.alias}",
        )
    rendered = ctx.rendered.get(folder)
    if rendered is None or rendered.error:
        return  # the render check reports it
    yield from _mounted(ctx, folder, rendered, entry, path.read_text(encoding="utf-8"))


def _mounted(
    ctx: Context, folder: Path, rendered: Rendered, entry: ModelEntry, text: str
) -> Iterable[Finding]:
    assert entry.rollout is not None
    where = folder.relative_to(ctx.root).as_posix()
    maps = {
        name_of(o)
        for o in rendered.objects
        if o.get("kind") == "ConfigMap"
        and name_of(o).startswith(f"{CONFIGMAP}-")
        and (o.get("data") or {}).get(entry.rollout) == text
    }
    if not maps:
        yield Finding(
            CHECK,
            where,
            "",
            f"{entry.rollout} is not rendered into a ConfigMap {CONFIGMAP}",
            f"a configMapGenerator `{CONFIGMAP}` with {entry.rollout} in its files, in "
            "kustomization.yaml",
        )
        return
    configmaps = configmaps_by_name(rendered.objects)
    serving = []
    for workload in inference_workloads(rendered.objects):
        try:
            served = workload.declaration(configmaps, None).served_by(workload.serving.deployment)
        except ModelsError:
            continue  # the tenant-models check reports it
        if entry.name in {m.name for m in served}:
            serving.append(workload)
    for workload in serving:
        directory = workload.env.get(ROLLOUT_DIR_VARIABLE) or DEFAULT_ROLLOUT_DIR
        mounted = mounted_configmap_file(
            workload.spec, workload.container, f"{directory}/{entry.rollout}"
        )
        if mounted is None or mounted.configmap not in maps:
            yield Finding(
                CHECK,
                where,
                "",
                f"Deployment {workload.name} serves {entry.name} but does not mount "
                f"{entry.rollout} at "
                f"{directory}/{entry.rollout}",
                f"the ConfigMap {sorted(maps)[0]} mounted at {directory} (the volume "
                "rollout-policy of base/inference/deployment.yaml)",
            )

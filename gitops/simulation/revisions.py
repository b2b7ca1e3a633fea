"""A later revision of the tree, for what happens after the first sync: the same manifests with
every generated ConfigMap of an Application renamed, as kustomize's configMapGenerator does
when its content changes (a model added to models.yaml: `tenant-models-<new hash>`; a new
settings.env line: `inference-settings-<new hash>`; an edited rollout policy), and its users
pointing at the new name, so every Deployment mounting it rolls. Used to check that the
documented sync removes what the tree dropped (the old ConfigMaps), instead of piling them up
against the tenant quota.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from gitops.simulation.engine import Simulation
from gitops.tree.app_tree import App
from gitops.tree.findings import name_of

# kustomize's name suffix: ten characters of a sha256 in hex with 0, 1, 3, a and e mapped to
# g, h, k, m and t (sigs.k8s.io/kustomize/api/hasher, encode), so no vowels.
_ALPHABET = "245678bcdfghkmt9"
_SUFFIX = re.compile(rf"^(?P<base>.+)-(?P<hash>[{_ALPHABET}]{{10}})$")


def generated_configmaps(objects: list[dict[str, Any]]) -> list[str]:
    return [
        name_of(o) for o in objects if o.get("kind") == "ConfigMap" and _SUFFIX.match(name_of(o))
    ]


def changed(objects: list[dict[str, Any]], generation: int) -> list[dict[str, Any]]:
    """`objects` with each generated ConfigMap's hash replaced, references included."""
    renames = {}
    for name in generated_configmaps(objects):
        match = _SUFFIX.match(name)
        assert match is not None
        renames[name] = f"{match['base']}-{'t' * 9}{_ALPHABET[generation % len(_ALPHABET)]}"
    text = json.dumps(objects)
    for old, new in renames.items():
        text = text.replace(f'"{old}"', f'"{new}"')
    return list(json.loads(text))


def next_revision(sim: Simulation, apps: list[str], generation: int = 1) -> dict[str, list[str]]:
    """Commit a change of every generated ConfigMap of `apps` to the simulated repository;
    returns app -> the ConfigMap names the change replaced."""
    assert sim.argocd is not None
    replaced = {}
    for name in apps:
        tree_app = sim.tree_app(name)
        if tree_app is None:
            continue
        replaced[name] = generated_configmaps(tree_app.objects)
        new = App(
            tree_app.cluster,
            tree_app.obj,
            tree_app.parent,
            changed(copy.deepcopy(tree_app.objects), generation),
            tree_app.generated_by,
            list(tree_app.source_paths),
        )
        sim.replace_app(new)
    sim.argocd.revision = f"main+{generation}"
    return replaced

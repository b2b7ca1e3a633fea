"""Edit a tenant's models.yaml (docs/models.md), keeping everything else as written.

ruamel.yaml reads the file into a round-trip tree (comments, key order, quoting) and writes it
back with the one change; the result is then read back with the contract's own parser
(inference.contracts.tenant_models) to prove it: every other entry unchanged, the edited one
as asked. Used by `python -m training pin`/`unpin` (an entry follows an alias or a pinned
version), `python -m gitops add-model` (a new entry) and the tenant scaffold (a new tenant
starts with the catalog model only).
"""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from inference.contracts.model_uri import ModelUri
from inference.contracts.tenant_models import ModelEntry, ModelsError, TenantModels, parse


class ModelsEditError(ValueError):
    """The file could not be edited safely; the message says why."""


def _round_trip() -> YAML:
    rt = YAML()  # round-trip mode
    rt.preserve_quotes = True
    # The repository's style (yamllint): sequences indented under their key.
    rt.indent(mapping=2, sequence=4, offset=2)
    rt.width = 4096  # never fold long values
    return rt


def _load(text: str) -> tuple[TenantModels, Any]:
    try:
        declaration = parse(yaml.safe_load(text))
        tree = _round_trip().load(text)
    except (yaml.YAMLError, YAMLError) as error:
        raise ModelsEditError(f"not valid YAML: {error}") from None
    except ModelsError as error:
        raise ModelsEditError(str(error)) from None
    return declaration, tree


def _dump(tree: Any) -> str:
    out = io.StringIO()
    _round_trip().dump(tree, out)
    return out.getvalue()


def _read_back(text: str) -> TenantModels:
    try:
        return parse(yaml.safe_load(text))
    except (yaml.YAMLError, ModelsError) as error:
        raise ModelsEditError(f"the edited file does not read back: {error}") from None


def set_pointer(
    text: str, model: str, *, alias: str | None = None, version: str | None = None
) -> str:
    """`text` with `model`'s entry following `alias`, or pinned to `version` (exactly one),
    in the place (and with the comment) of the key it replaces."""
    if (alias is None) == (version is None):
        raise ModelsEditError("expected exactly one of an alias or a version")
    before, tree = _load(text)
    item = next((m for m in tree["models"] if m.get("name") == model), None)
    if item is None:
        raise ModelsEditError(f"no entry named {model} (declared: {', '.join(before.names)})")
    key, value = ("alias", alias) if alias is not None else ("version", int(str(version)))
    old = "version" if key == "alias" else "alias"
    if old in item:
        position = list(item.keys()).index(old)
        comment = item.ca.items.pop(old, None)
        del item[old]
        item.insert(position, key, value)
        if comment is not None:
            item.ca.items[key] = comment
    else:
        item[key] = value
    new_text = _dump(tree)
    after = _read_back(new_text)
    expected = [m if m.name != model else _pointed(m, alias, version) for m in before.models]
    if list(after.models) != expected:
        raise ModelsEditError("the edited models.yaml does not read back as expected")
    return new_text


def _pointed(entry: ModelEntry, alias: str | None, version: str | None) -> ModelEntry:
    return replace(
        entry, uri=ModelUri(entry.name, alias, None if alias else str(int(str(version))))
    )


def add_model(text: str, entry: dict[str, Any]) -> str:
    """`text` with `entry` (name, alias or version, optional rollout, resources, deployment)
    appended to `models:`."""
    before, tree = _load(text)
    if before.get(str(entry.get("name"))) is not None:
        raise ModelsEditError(f"{entry.get('name')} is already declared")
    tree["models"].append(CommentedMap(entry))
    new_text = _dump(tree)
    after = _read_back(new_text)
    if after.models[:-1] != before.models or after.models[-1].name != entry.get("name"):
        raise ModelsEditError("the edited models.yaml does not read back as expected")
    return new_text


def keep_models(text: str, names: set[str]) -> str:
    """`text` with only the entries named in `names` (at least one must be there)."""
    before, tree = _load(text)
    kept = [m for m in before.models if m.name in names]
    if not kept:
        raise ModelsEditError(
            f"none of {', '.join(sorted(names))} is declared (declared: {', '.join(before.names)})"
        )
    models = tree["models"]
    for index in reversed(range(len(models))):
        if models[index].get("name") not in names:
            del models[index]
    new_text = _dump(tree)
    if list(_read_back(new_text).models) != kept:
        raise ModelsEditError("the edited models.yaml does not read back as expected")
    return new_text

"""gitops/edits/models_yaml.py: one entry of a tenant's models.yaml changes (alias <-> pinned
version, a new entry), every comment and every other line stays as written."""

from __future__ import annotations

import re

import pytest

from gitops.edits.models_yaml import ModelsEditError, add_model, set_pointer

MODELS = """\
# tenant-x's models on Kind.
apiVersion: ml-platform.example.com/v1alpha1
kind: TenantModels
models:
  - name: tenant-x-iris
    alias: staging  # what Kind serves
    rollout: rollout.yaml
  - name: tenant-x-wine
    # a random forest
    alias: staging
    resources: medium
"""


def test_pin_and_unpin_touch_one_line_only() -> None:
    pinned = set_pointer(MODELS, "tenant-x-wine", version="3")
    assert pinned == MODELS.replace(
        "    # a random forest\n    alias: staging\n", "    # a random forest\n    version: 3\n"
    )
    assert set_pointer(pinned, "tenant-x-wine", alias="staging") == MODELS


def test_a_comment_on_the_replaced_key_stays_with_it() -> None:
    pinned = set_pointer(
        MODELS.replace("    rollout: rollout.yaml\n", ""), "tenant-x-iris", version="2"
    )
    # ruamel keeps the comment's column.
    assert re.search(r"\n    version: 2 +# what Kind serves\n", pinned), pinned


def test_an_edit_the_contract_refuses_is_not_written() -> None:
    # A pinned version cannot roll out (inference.contracts.tenant_models): the edit is refused.
    with pytest.raises(ModelsEditError, match=r"rollout moves an alias; this model pins a version"):
        set_pointer(MODELS, "tenant-x-iris", version="2")
    with pytest.raises(ModelsEditError, match=r"no entry named tenant-x-churn \(declared: "):
        set_pointer(MODELS, "tenant-x-churn", alias="staging")
    with pytest.raises(ModelsEditError, match="exactly one of an alias or a version"):
        set_pointer(MODELS, "tenant-x-iris")


def test_a_new_entry_is_appended_in_the_file_s_style() -> None:
    added = add_model(
        MODELS, {"name": "tenant-x-churn", "alias": "staging", "deployment": "dedicated"}
    )
    assert added == MODELS + (
        "  - name: tenant-x-churn\n    alias: staging\n    deployment: dedicated\n"
    )
    with pytest.raises(ModelsEditError, match="tenant-x-wine is already declared"):
        add_model(MODELS, {"name": "tenant-x-wine", "alias": "staging"})
    with pytest.raises(ModelsEditError, match=r"does not read back: .*resources"):
        add_model(MODELS, {"name": "tenant-x-big", "alias": "staging", "resources": "huge"})


def test_a_file_that_is_not_a_declaration_is_refused() -> None:
    with pytest.raises(ModelsEditError, match="not valid YAML"):
        set_pointer("models: [", "tenant-x-iris", alias="staging")
    with pytest.raises(ModelsEditError, match="apiVersion/kind"):
        add_model("models: []\n", {"name": "tenant-x-iris", "alias": "staging"})

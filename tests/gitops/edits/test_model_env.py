"""The MODEL_URI edit of a tenant's model.env (gitops/edits/model_env.py), which
`python -m training pin` makes: one line changes, everything else stays as written."""

from __future__ import annotations

import pytest

from gitops.edits.model_env import ModelEnvError, with_model_uri


def test_only_the_model_uri_line_changes() -> None:
    text = "# served model\nMODEL_URI=models:/m@staging\nMODEL_URI_NOTE=kept\nTENANT=x\n"
    assert with_model_uri(text, "models:/m/3") == (
        "# served model\nMODEL_URI=models:/m/3\nMODEL_URI_NOTE=kept\nTENANT=x\n"
    )


def test_spacing_around_the_key_and_a_missing_last_newline() -> None:
    assert with_model_uri("TENANT=x\n MODEL_URI = models:/m/3", "models:/m@production") == (
        "TENANT=x\nMODEL_URI=models:/m@production"
    )


def test_a_file_without_the_line_is_refused() -> None:
    with pytest.raises(ModelEnvError, match="no MODEL_URI= line"):
        with_model_uri("# MODEL_URI=models:/m/3\nTENANT=x\n", "models:/m/4")

"""The model a tenant serves: the MODEL_URI line of its overlay's model.env, which the
overlay's kustomization turns into the service's settings ConfigMap. `python -m training pin`
moves it to a fixed version (and back to an alias) through here, so the overlays are edited
in one place.
"""

from __future__ import annotations

MODEL_URI_KEY = "MODEL_URI"


class ModelEnvError(ValueError):
    """A model.env without a MODEL_URI line to replace."""


def with_model_uri(text: str, uri: str) -> str:
    """`text` (a model.env) with only the MODEL_URI line replaced: comments, order and the
    other variables stay as written."""
    lines = text.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.split("=", 1)[0].strip() == MODEL_URI_KEY:
            ending = "\n" if line.endswith("\n") else ""
            lines[index] = f"{MODEL_URI_KEY}={uri}{ending}"
            return "".join(lines)
    raise ModelEnvError(f"no {MODEL_URI_KEY}= line")

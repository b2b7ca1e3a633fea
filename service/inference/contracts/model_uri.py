"""MODEL_URI, the model a tenant serves: `models:/<name>@<alias>` or `models:/<name>/<version>`.

The one parser of it, shared by the service (settings, registry, fetch) and training (the
tenant overlays' model.env). Standard library only: the service image is built from service/
alone, and training imports this module rather than the other way round.

The rules are MLflow's, so a URI that passes here can name something MLflow would create
(MLflow 3.17.2, mlflow/utils/validation.py):
- alias: `_validate_model_alias_name` accepts `^[\\w\\-]*$` (letters, digits, `_` and `-`;
  `\\w` of Python's `re`, so non-ASCII letters too), non-empty, at most
  MAX_REGISTERED_MODEL_ALIAS_LENGTH = 255 characters. Reading `@latest` is allowed: the
  registry resolves it to the newest version; only *setting* it is refused
  (`_validate_model_alias_name_reserved`).
- name: `_validate_model_name` refuses "/" and ":", and names a path would resolve elsewhere
  (`path_not_unique`: without "/", that is "." and anything starting with ".."). "@" separates
  the alias. Whitespace is refused here although MLflow would accept it: the platform's names
  are <tenant>-<dataset>, and a blank in a model.env value is a typo far more often than a name.
- version: MLflow numbers versions from 1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

EXPECTED = "models:/<name>@<alias> or models:/<name>/<version>"
_SHAPE = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/@]+)|/(?P<version>[^/@]+))$")
_NAME = re.compile(r"(?!\.\.)(?!\.$)[^/@:\s]+")
_ALIAS = re.compile(r"[\w\-]{1,255}")
_VERSION = re.compile(r"[1-9][0-9]*")


class ModelUriError(ValueError):
    """Not a models:/ URI this platform serves; the message says what was expected."""


@dataclass(frozen=True)
class ModelUri:
    """A registered model and either the alias it follows or the version it is pinned to."""

    name: str
    alias: str | None = None
    version: str | None = None

    @property
    def uri(self) -> str:
        suffix = f"@{self.alias}" if self.alias else f"/{self.version}"
        return f"models:/{self.name}{suffix}"

    def __str__(self) -> str:
        # f-strings and str() print the URI a model.env holds, not the dataclass.
        return self.uri

    @classmethod
    def parse(cls, text: str) -> ModelUri:
        match = _SHAPE.match(text.strip())
        if match is None:
            raise ModelUriError(f"expected {EXPECTED}, got {text!r}")
        name, alias, version = match["name"], match["alias"], match["version"]
        if not _NAME.fullmatch(name):
            raise ModelUriError(
                f"model name {name!r}: MLflow refuses ':', '.' and a leading '..', and names "
                f"here hold no whitespace (expected {EXPECTED})"
            )
        if alias is not None and not _ALIAS.fullmatch(alias):
            raise ModelUriError(
                f"alias {alias!r}: MLflow allows only letters, digits, '_' and '-', "
                f"at most 255 characters (expected {EXPECTED})"
            )
        if version is not None and not _VERSION.fullmatch(version):
            raise ModelUriError(
                f"version {version!r} is not a whole number from 1 (expected {EXPECTED})"
            )
        return cls(name, alias=alias, version=version)

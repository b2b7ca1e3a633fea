"""What the service needs from the tenant's rollout policy (the ConfigMap `rollout-policy`,
mounted from rollout.yaml in the tenant's overlay; docs/rollouts.md).

The file is the tenant's opt-in: without it the service never looks for a candidate, and a
promotion moves every replica at once as before. The service reads only what routing needs,
the stable alias (which must be the one the model follows: MODEL_URI's, or its entry's in the
tenant's models.yaml) and the routing header; the steps and gates are the judge's, which reads
them from the snapshot on the candidate version.
Its names and defaults are the schema's (rollout_policy.py). The whole file is validated
strictly before it reaches a cluster (`python -m gitops validate`, check rollout-policies) and
again by `python -m training rollout start`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from inference.contracts.rollout_policy import (
    API_VERSION,
    DEFAULT_ROUTING_HEADER,
    HEADER_NAME,
    KIND,
    candidate_alias,
)


class PolicyFileError(ValueError):
    """The mounted policy cannot be used; the message names the field."""


@dataclass(frozen=True)
class RolloutConfig:
    stable_alias: str
    routing_header: str

    @property
    def candidate_alias(self) -> str:
        return candidate_alias(self.stable_alias)


def read_rollout_config(
    path: Path, followed_alias: str | None, follower: str = "MODEL_URI"
) -> RolloutConfig | None:
    """The policy at `path`, or None when no policy is mounted (an empty folder). `follower`
    names what declares the followed alias, for the messages: MODEL_URI, or the model's entry
    in the tenant's models.yaml."""
    if not path.is_file():
        return None
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PolicyFileError(f"cannot read it: {error}".splitlines()[0]) from None
    if not isinstance(document, dict):
        raise PolicyFileError("expected a mapping (a RolloutPolicy)")
    if document.get("apiVersion") != API_VERSION or document.get("kind") != KIND:
        raise PolicyFileError(f"apiVersion/kind: expected {API_VERSION} {KIND}")
    stable = document.get("stableAlias")
    if followed_alias is None:
        raise PolicyFileError(
            f"{follower} pins a version; a rollout needs an alias (models:/<name>@<stableAlias>)"
        )
    if stable != followed_alias:
        raise PolicyFileError(
            f"stableAlias: got {stable!r}, expected {followed_alias!r} "
            f"(the alias {follower} follows)"
        )
    header = document.get("routingHeader", DEFAULT_ROUTING_HEADER)
    if not isinstance(header, str) or not HEADER_NAME.match(header):
        raise PolicyFileError(f"routingHeader: got {header!r}, expected an HTTP header name")
    return RolloutConfig(stable_alias=stable, routing_header=header.lower())

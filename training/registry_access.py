"""Who may read which model: MLflow users and grants for the basic-auth registry.

Each tenant's service logs in as its own MLflow user that may READ its own registered model and
the experiments holding that model's artifacts, nothing else (the server runs with
`default_permission = NO_PERMISSIONS`). Training logs in as a separate user; the creator of an
experiment or registered model gets MANAGE on it, which also lets it grant READ to the tenant.

Artifacts are authorized through the experiment that stores them, not through the registered
model: READ on a model alone resolves aliases but gets 403 on the download. So a tenant also
needs READ on those experiments, and an experiment shared with another tenant's model would
hand over that model's artifacts too: `grant_model_read` refuses it.

Standard library only (its HTTP transport is the rollout judge's, training/rollout/mlflow_rest.py),
so `clusters/kind/bootstrap.sh` can run it with any python3:

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 MLFLOW_TRACKING_USERNAME=admin \\
    MLFLOW_TRACKING_PASSWORD=... REGISTRY_USER_PASSWORD=... \\
      python3 -m training.registry_access ensure-user --username tenant-a
    python3 -m training.registry_access grant-read --username tenant-a --model tenant-a-iris

Exit codes: 0 done, 1 refused by the registry (403, shared experiment, unreachable), 2 bad input.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from training.rollout.mlflow_rest import RestFailure, send

MIN_PASSWORD_LENGTH = 12  # the auth app rejects shorter passwords
PERMISSIONS = ("READ", "USE", "EDIT", "MANAGE", "NO_PERMISSIONS")


class AccessError(RuntimeError):
    """The registry refused or could not answer; `status` is the HTTP status (0: unreachable)."""

    def __init__(self, message: str, status: int = 0, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class MissingRegistryUser(AccessError):
    """A grant for a registry user that does not exist: create the user first."""


class SharedExperimentError(AccessError):
    """A model's artifacts live in an experiment that also holds other models' artifacts."""


@dataclass(frozen=True)
class Grant:
    username: str
    resource_type: str
    resource_id: str
    permission: str
    changed: bool  # False when the grant was already there


class RegistryAccess:
    """REST calls to an MLflow server started with `--app-name basic-auth`."""

    def __init__(
        self, tracking_uri: str, username: str, password: str, timeout: float = 30
    ) -> None:
        self.url = tracking_uri.rstrip("/")
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._auth = f"Basic {token}"
        self.timeout = timeout

    def _call(
        self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None
    ) -> dict[str, Any]:
        headers = {"Authorization": self._auth}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            raw = send(method, f"{self.url}{path}", params, body, headers, self.timeout)
        except RestFailure as failure:
            if not failure.status:
                raise AccessError(f"MLflow not reachable at {self.url}: {failure.reason}") from None
            payload = failure.payload or {"message": failure.text.strip()}
            message = payload.get("message") or failure.reason
            raise AccessError(
                f"{method} {path}: HTTP {failure.status}: {message}",
                failure.status,
                payload.get("error_code", ""),
            ) from None
        return json.loads(raw) if raw.strip() else {}

    # -- users ---------------------------------------------------------------------------------

    def ensure_user(self, username: str, password: str) -> str:
        """Create the user, or set its password if it exists; returns "created" or "updated".

        Setting the password on every run keeps the registry in step with the Secret the
        service reads, which is the source of truth for the credential.
        """
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"password of {username!r} must have at least 12 characters")
        try:
            self._call(
                "POST",
                "/api/2.0/mlflow/users/create",
                body={"username": username, "password": password},
            )
        except AccessError as error:
            if error.code != "RESOURCE_ALREADY_EXISTS":
                raise
            self._call(
                "PATCH",
                "/api/2.0/mlflow/users/update-password",
                body={"username": username, "password": password},
            )
            return "updated"
        return "created"

    # -- grants --------------------------------------------------------------------------------

    def permission_of(self, username: str, resource_type: str, resource_id: str) -> str:
        found = self._call(
            "GET",
            "/api/3.0/mlflow/users/permissions/get",
            params={
                "username": username,
                "resource_type": resource_type,
                "resource_id": resource_id,
            },
        )
        return str(found.get("permission", "NO_PERMISSIONS"))

    def grant(self, username: str, resource_type: str, resource_id: str, permission: str) -> Grant:
        """Give `username` exactly `permission` on one resource (idempotent)."""
        if permission not in PERMISSIONS:
            raise ValueError(
                f"permission must be one of {', '.join(PERMISSIONS)}, got {permission!r}"
            )
        body = {
            "username": username,
            "resource_type": resource_type,
            "resource_id": resource_id,
            "permission": permission,
        }
        try:
            self._call("POST", "/api/3.0/mlflow/users/permissions/grant", body=body)
        except AccessError as error:
            if error.code != "RESOURCE_ALREADY_EXISTS":
                raise
            try:
                current = self.permission_of(username, resource_type, resource_id)
            except AccessError as lookup:
                # Only admins may look grants up; a resource's MANAGE holder may still replace it.
                if lookup.status != 403:
                    raise
                current = None
            if current == permission:
                return Grant(username, resource_type, resource_id, permission, changed=False)
            # A different level is there (e.g. EDIT): replace it, never widen by accident.
            self._call("POST", "/api/3.0/mlflow/users/permissions/revoke", body=body)
            self._call("POST", "/api/3.0/mlflow/users/permissions/grant", body=body)
        return Grant(username, resource_type, resource_id, permission, changed=True)

    # -- where a model's artifacts live ------------------------------------------------------------

    def _versions(self, model_name: str | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        params: dict[str, str] = {"max_results": "1000"}
        if model_name is not None:
            escaped = model_name.replace("'", "\\'")
            params["filter"] = f"name = '{escaped}'"
        while True:
            page = self._call("GET", "/api/2.0/mlflow/model-versions/search", params=params)
            found.extend(page.get("model_versions", []))
            token = page.get("next_page_token")
            if not token:
                return found
            params["page_token"] = token

    def _experiment_of(self, version: dict[str, Any]) -> str | None:
        source = str(version.get("source", ""))
        if source.startswith("models:/m-"):  # MLflow 3: the version points at a logged model
            model_id = source.removeprefix("models:/").split("/", 1)[0]
            found = self._call("GET", f"/api/2.0/mlflow/logged-models/{model_id}")
            return str(found["model"]["info"]["experiment_id"])
        if version.get("run_id"):
            found = self._call(
                "GET", "/api/2.0/mlflow/runs/get", params={"run_id": version["run_id"]}
            )
            return str(found["run"]["info"]["experiment_id"])
        return None

    def experiments_by_model(self, model_names: Iterable[str] | None = None) -> dict[str, set[str]]:
        """Registered model name -> ids of the experiments holding its versions' artifacts."""
        wanted = None if model_names is None else set(model_names)
        result: dict[str, set[str]] = {name: set() for name in wanted or ()}
        for version in self._versions():
            name = str(version["name"])
            if wanted is not None and name not in wanted:
                continue
            experiment = self._experiment_of(version)
            if experiment is not None:
                result.setdefault(name, set()).add(experiment)
        return result

    def grant_model_read(self, username: str, model_name: str) -> list[Grant]:
        """READ on the registered model and on the experiments its artifacts live in.

        Run it again after training logs a version into a new experiment. A model without
        versions yet still gets its registered-model grant (MLflow accepts grants by name).
        """
        by_model = self.experiments_by_model()
        mine = by_model.get(model_name, set())
        shared = {
            other: sorted(experiments & mine)
            for other, experiments in by_model.items()
            if other != model_name and experiments & mine
        }
        if shared:
            listed = "; ".join(
                f"{other} in experiment {', '.join(ids)}" for other, ids in shared.items()
            )
            raise SharedExperimentError(
                f"refusing READ for {username!r} on {model_name!r}: its experiments also hold "
                f"{listed}. Log each tenant's model into its own experiment."
            )
        grants = [self.grant(username, "registered_model", model_name, "READ")]
        grants += [self.grant(username, "experiment", e, "READ") for e in sorted(mine)]
        return grants

    def grant_rollout_judge(self, username: str, model_name: str) -> Grant:
        """MANAGE on the registered model for the rollout judge: it sets and deletes aliases
        (MLflow's auth asks `delete` for DeleteRegisteredModelAlias) and writes version tags.
        It never downloads artifacts, so it gets no experiment grant. A judge user that does
        not exist is an error, not a skipped grant: the judge would run and every action it
        takes would be refused."""
        try:
            return self.grant(username, "registered_model", model_name, "MANAGE")
        except AccessError as error:
            if error.status == 404:
                raise MissingRegistryUser(
                    f"registry user {username!r} does not exist, so it cannot be granted MANAGE "
                    f"on {model_name!r}: create it first (python -m training.registry_access "
                    f"ensure-user --username {username}, as the cluster bootstraps do), or set "
                    "TRAINING_ROLLOUT_JUDGE_USER= where no rollout judge runs",
                    404,
                ) from error
            raise


def _ensure_user(access: RegistryAccess, args: argparse.Namespace, env: Mapping[str, str]) -> None:
    outcome = access.ensure_user(args.username, env["REGISTRY_USER_PASSWORD"])
    print(f"user {args.username}: {outcome}")


def _grant_read(access: RegistryAccess, args: argparse.Namespace, env: Mapping[str, str]) -> None:
    for grant in access.grant_model_read(args.username, args.model):
        state = "granted" if grant.changed else "already granted"
        print(
            f"{grant.permission} on {grant.resource_type} {grant.resource_id} "
            f"for {grant.username}: {state}"
        )


_CONNECTION = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.registry_access",
        description="Create MLflow users and grant a tenant READ on its model (basic-auth server). "
        "Connects with MLFLOW_TRACKING_URI, MLFLOW_TRACKING_USERNAME, MLFLOW_TRACKING_PASSWORD.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")
    user = commands.add_parser(
        "ensure-user", help="create a user or reset its password (from REGISTRY_USER_PASSWORD)"
    )
    user.add_argument("--username", required=True)
    # needs: the variables the command reads besides the connection's.
    user.set_defaults(handler=_ensure_user, needs=("REGISTRY_USER_PASSWORD",))
    grant = commands.add_parser(
        "grant-read", help="READ on a registered model and the experiments holding its artifacts"
    )
    grant.add_argument("--username", required=True)
    grant.add_argument("--model", required=True, help="registered model name, e.g. tenant-a-iris")
    grant.set_defaults(handler=_grant_read, needs=())
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    env = os.environ
    missing = [name for name in (*_CONNECTION, *args.needs) if not env.get(name)]
    if missing:
        print(f"error: set {', '.join(missing)}", file=sys.stderr)
        return 2
    access = RegistryAccess(
        env["MLFLOW_TRACKING_URI"], env["MLFLOW_TRACKING_USERNAME"], env["MLFLOW_TRACKING_PASSWORD"]
    )
    try:
        args.handler(access, args, env)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except AccessError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2 if error.status == 404 else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

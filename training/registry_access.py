"""Who may read and write which model: MLflow users and grants for the basic-auth registry.

Each tenant's service logs in as its own MLflow user `<tenant>` that may READ its own
registered models and the experiments holding their artifacts, nothing else (the server runs
with `default_permission = NO_PERMISSIONS`). The platform's training logs in as a separate
user `trainer`; the creator of an experiment or registered model gets MANAGE on it, which also
lets it grant READ to the tenant. A team that trains with its own code writes as its tenant's
writer user `<tenant>-trainer` (`provision-tenant` below).

Artifacts are authorized through the experiment that stores them, not through the registered
model: READ on a model alone resolves aliases but gets 403 on the download. So a tenant also
needs READ on those experiments, and an experiment shared with another tenant's model would
hand over that model's artifacts too: `grant_model_read` refuses it. A tenant's own models
share its experiment (`tenant-models/<tenant>`): their names carry the tenant's prefix
(inference.contracts.tenant_models), and the tenant may read all of them anyway.

`provision-tenant` sets a tenant up from its declared models (overlays/<cluster>/tenants/
<tenant>/models.yaml): it refuses a model name another tenant's user already holds a grant on
(name squatting: MLflow makes whoever creates a name first its MANAGEr), creates the tenant's
experiment and every declared model that does not exist yet (so the name is held from then
on), and grants

| user | on each declared model | on the tenant's experiment |
| --- | --- | --- |
| `<tenant>` (the service) | READ | READ |
| `<tenant>-trainer` (the team) | EDIT | EDIT |
| `trainer` (the platform's training) | MANAGE | MANAGE |
| `rollout-judge` | MANAGE | - |

EDIT is the least permission that lets the team write versions: in MLflow 3.17.2's basic-auth
app (mlflow/server/auth/__init__.py, the request-to-validator table and permissions.py),
CreateRun, CreateLoggedModel, LogBatch, SetTag and artifact uploads through the proxy need
`update` on the experiment, CreateModelVersion, SetModelVersionTag, SetRegisteredModelTag and
SetRegisteredModelAlias need `update` on the registered model, and EDIT is the lowest level
with can_update. It is not MANAGE: the team cannot grant anyone access, delete a version or
model, or delete an alias (DeleteRegisteredModelAlias asks can_delete), so finishing a
rollout by hand (`rollout promote`, `rollout abort`) is left to the judge and the platform's
`trainer`.

Standard library only (its HTTP transport is the rollout judge's, training/rollout/mlflow_rest.py),
so `clusters/kind/bootstrap.sh` can run it with any python3; `provision-tenant` also reads the
models file with PyYAML (the repository's Python):

    MLFLOW_TRACKING_URI=http://127.0.0.1:5000 MLFLOW_TRACKING_USERNAME=admin \\
    MLFLOW_TRACKING_PASSWORD=... REGISTRY_USER_PASSWORD=... \\
      python3 -m training.registry_access ensure-user --username tenant-a
    python3 -m training.registry_access grant-read --username tenant-a --model tenant-a-iris
    python -m training.registry_access provision-tenant \\
      --models overlays/kind/tenants/tenant-a/models.yaml

Exit codes: 0 done, 1 refused by the registry (403, shared experiment, a squatted name,
unreachable), 2 bad input.
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


class SquattedModelError(AccessError):
    """Another tenant's user already holds a grant on a model name this tenant declares."""


@dataclass(frozen=True)
class Holder:
    """A user's grant on a resource (as users/list reports it; the pattern may be a glob)."""

    username: str
    resource_pattern: str
    permission: str


@dataclass(frozen=True)
class Grant:
    username: str
    resource_type: str
    resource_id: str
    permission: str
    changed: bool  # False when the grant was already there


@dataclass(frozen=True)
class ProvisionPlan:
    """Who `provision-tenant` grants what (the module's table)."""

    # The platform's own users that keep MANAGE on every tenant model: the training user.
    platform_users: tuple[str, ...] = ("trainer",)
    # The rollout judge's user (MANAGE on each model); empty: no judge.
    judge_user: str = "rollout-judge"
    # Each tenant's experiment is `<prefix>/<tenant>` (training/settings.py).
    experiment_prefix: str = "tenant-models"

    def service_user(self, tenant: str) -> str:
        return tenant

    def writer_user(self, tenant: str) -> str:
        return f"{tenant}-trainer"


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

    def grant_model_read(
        self, username: str, model_name: str, tenant: str | None = None
    ) -> list[Grant]:
        """READ on the registered model and on the experiments its artifacts live in.

        Run it again after training logs a version into a new experiment. A model without
        versions yet still gets its registered-model grant (MLflow accepts grants by name).
        `tenant` (default: the user, as a tenant's service user is named after it): other
        models of that tenant may share the experiments, no other model may.
        """
        own_prefix = f"{tenant or username}-"
        by_model = self.experiments_by_model()
        mine = by_model.get(model_name, set())
        shared = {
            other: sorted(experiments & mine)
            for other, experiments in by_model.items()
            if other != model_name and not other.startswith(own_prefix) and experiments & mine
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

    # -- a tenant's models ------------------------------------------------------------------------

    def holders(self, model_name: str) -> list[Holder]:
        """Every user whose grants cover the registered model `model_name` (admins only)."""
        from fnmatch import fnmatchcase

        found = self._call("GET", "/api/2.0/mlflow/users/list")
        return [
            Holder(str(user["username"]), str(grant["resource_pattern"]), str(grant["permission"]))
            for user in found.get("users", [])
            for role in user.get("roles") or []
            for grant in role.get("permissions") or []
            if grant.get("resource_type") == "registered_model"
            and fnmatchcase(model_name, str(grant.get("resource_pattern", "")))
        ]

    def ensure_experiment(self, name: str) -> tuple[str, bool]:
        """(the experiment's id, True when it was created now)."""
        try:
            found = self._call(
                "GET", "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": name}
            )
            return str(found["experiment"]["experiment_id"]), False
        except AccessError as error:
            if error.code != "RESOURCE_DOES_NOT_EXIST":
                raise
        created = self._call("POST", "/api/2.0/mlflow/experiments/create", body={"name": name})
        return str(created["experiment_id"]), True

    def ensure_registered_model(self, name: str) -> bool:
        """Create the registered model unless it exists; True when created now."""
        try:
            self._call("POST", "/api/2.0/mlflow/registered-models/create", body={"name": name})
        except AccessError as error:
            if error.code != "RESOURCE_ALREADY_EXISTS":
                raise
            return False
        return True

    def provision_tenant(
        self, tenant: str, models: Sequence[str], plan: ProvisionPlan
    ) -> list[str]:
        """Everything a tenant needs to serve and write its declared `models` (the module's
        table); what was done, one line each. Refuses before any change when another user
        holds a grant on one of the names (SquattedModelError)."""
        allowed = {plan.service_user(tenant), plan.writer_user(tenant), *plan.platform_users}
        if plan.judge_user:
            allowed.add(plan.judge_user)
        admins = self._admins()
        squatted = [
            f"{holder.username} holds {holder.permission} on {model}"
            + (f" (grant {holder.resource_pattern!r})" if holder.resource_pattern != model else "")
            for model in models
            for holder in self.holders(model)
            if holder.username not in allowed and holder.username not in admins
        ]
        if squatted:
            raise SquattedModelError(
                f"refusing to provision {tenant}: " + "; ".join(squatted) + ". A name another "
                "tenant's user holds is theirs to use: rename the model in models.yaml, or, if "
                "the name was taken by mistake, revoke that grant as admin "
                "(POST /api/3.0/mlflow/users/permissions/revoke)"
            )
        done: list[str] = []
        experiment_name = f"{plan.experiment_prefix}/{tenant}"
        experiment, created = self.ensure_experiment(experiment_name)
        if created:
            done.append(f"experiment {experiment_name} ({experiment}): created")
        for model in models:
            if self.ensure_registered_model(model):
                done.append(f"registered model {model}: created")
        grants: list[Grant] = []
        for model in models:
            grants += self.grant_model_read(plan.service_user(tenant), model, tenant)
            grants.append(self.grant(plan.writer_user(tenant), "registered_model", model, "EDIT"))
            grants += [
                self.grant(user, "registered_model", model, "MANAGE")
                for user in plan.platform_users
            ]
            if plan.judge_user:
                grants.append(self.grant_rollout_judge(plan.judge_user, model))
        grants.append(self.grant(plan.service_user(tenant), "experiment", experiment, "READ"))
        grants.append(self.grant(plan.writer_user(tenant), "experiment", experiment, "EDIT"))
        grants += [
            self.grant(user, "experiment", experiment, "MANAGE") for user in plan.platform_users
        ]
        seen: set[tuple[str, str, str]] = set()
        for grant in grants:
            key = (grant.username, grant.resource_type, grant.resource_id)
            if key in seen:
                continue
            seen.add(key)
            state = "granted" if grant.changed else "already granted"
            done.append(
                f"{grant.permission} on {grant.resource_type} {grant.resource_id} "
                f"for {grant.username}: {state}"
            )
        return done

    def _admins(self) -> set[str]:
        found = self._call("GET", "/api/2.0/mlflow/users/list")
        return {str(u["username"]) for u in found.get("users", []) if u.get("is_admin")}

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


def _provision_tenant(
    access: RegistryAccess, args: argparse.Namespace, env: Mapping[str, str]
) -> None:
    from pathlib import Path

    from inference.contracts.tenant_models import ModelsError, load_file
    from training.errors import UsageError
    from training.settings import Settings

    path = Path(args.models)
    tenant = args.tenant or path.resolve().parent.name
    try:
        declared = load_file(path, tenant)
        prefix = Settings.from_env().experiment_prefix
    except (ModelsError, UsageError) as error:
        raise ValueError(f"{path}: {error}") from None
    plan = ProvisionPlan(
        platform_users=tuple(args.platform_user or ("trainer",)),
        judge_user=args.judge_user,
        experiment_prefix=prefix,
    )
    for line in access.provision_tenant(tenant, declared.names, plan):
        print(line)


_CONNECTION = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training.registry_access",
        description="Create MLflow users and grant tenants access to their models (basic-auth "
        "server). "
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
    provision = commands.add_parser(
        "provision-tenant",
        help="grants for every model a tenant declares: READ for <tenant>, EDIT for "
        "<tenant>-trainer (refuses names another tenant's user holds)",
    )
    provision.add_argument(
        "--models", required=True, help="overlays/<cluster>/tenants/<tenant>/models.yaml"
    )
    provision.add_argument("--tenant", help="default: the folder the models file is in")
    provision.add_argument(
        "--platform-user",
        action="append",
        help="the platform's training user, MANAGE on every model (default: trainer; repeatable)",
    )
    provision.add_argument(
        "--judge-user",
        default="rollout-judge",
        help="the rollout judge's user, MANAGE on every model ('' for none)",
    )
    provision.set_defaults(handler=_provision_tenant, needs=())
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

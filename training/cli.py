"""Command line: `python -m training <command>` (build_parser lists them).

Exit codes: 0 ok, 1 refused or failed (quality gate, nothing to roll back, MLflow unreachable),
2 bad input (unknown tenant/model/version/alias/overlay, port in use, bad option)."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from training.errors import OperationError, UsageError

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from training.lifecycle.catalog import TenantModel
    from training.lifecycle.pin import PinChange
    from training.settings import Settings


def _tolerance(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {raw!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"expected 0 <= tolerance < 1, got {value}")
    return value


def _port(raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {raw!r}") from None
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"expected 1..65535, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training",
        description="Train, register, promote, roll back and pin the tenants' models.",
        epilog="Exit codes: 0 ok, 1 refused/failed (gate, MLflow unreachable), 2 bad input.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="command")

    train = commands.add_parser("train", help="fit a tenant's model and register a new version")
    train.add_argument("--tenant", required=True, help="a tenant of training/tenants.yaml")
    train.add_argument("--estimator", help="override the tenant's estimator (e.g. dummy)")
    train.add_argument("--by", help="who trains (default: git user.name, then $USER)")
    train.set_defaults(handler=_train)

    register = commands.add_parser(
        "register",
        help="register a model a team logged with its own code (docs/models.md)",
        description="Register a model logged with the team's own training code as a new "
        "version of <tenant>-<name>: contract check, ONNX export and its gate, drift "
        "reference and quality gate from the sample, provenance tags.",
    )
    register.add_argument("--tenant", required=True, help="a tenant of training/tenants.yaml")
    register.add_argument("--name", required=True, help="the model's name after the tenant's")
    register.add_argument(
        "--model", required=True, help="the logged model: runs:/<run>/model, models:/m-<id>, ..."
    )
    register.add_argument(
        "--sample", required=True, type=Path, help="CSV: the signature's columns and the target"
    )
    register.add_argument("--target", required=True, help="the sample's label column")
    register.add_argument(
        "--alias", help="the alias the quality gate compares with (default: staging)"
    )
    register.add_argument("--git-commit", help="the team's commit, when its run recorded none")
    register.add_argument("--by", help="who registers (default: git user.name, then $USER)")
    register.set_defaults(handler=_register)

    promote = commands.add_parser("promote", help="move an alias to a version, through the gate")
    promote.add_argument("--model", required=True)
    promote.add_argument("--version", required=True)
    promote.add_argument("--alias", required=True, help="staging or production")
    promote.add_argument("--reason", default="", help="why; recorded in the alias history")
    promote.add_argument("--force", action="store_true", help="promote even if metrics drop")
    promote.add_argument(
        "--allow-signature-change",
        action="store_true",
        help="promote a version whose input/output schema differs (not covered by --force)",
    )
    promote.add_argument("--tolerance", type=_tolerance, help="largest accepted metric drop")
    promote.add_argument("--by", help="who promotes (default: git user.name, then $USER)")
    promote.set_defaults(handler=_promote)

    rollback = commands.add_parser("rollback", help="move an alias back to its previous version")
    rollback.add_argument("--model", required=True)
    rollback.add_argument("--alias", required=True)
    rollback.add_argument("--reason", default="")
    rollback.add_argument("--by")
    rollback.set_defaults(handler=_rollback)

    pin = commands.add_parser(
        "pin", help="pin one model of an overlay's models.yaml to the version of an alias"
    )
    pin.add_argument(
        "--model", help="a model the overlay declares (default: its only model, if it has one)"
    )
    pin.add_argument("--alias", required=True)
    pin.add_argument("--overlay", required=True, type=Path, help="overlays/<cluster>/tenants/<t>")
    pin.set_defaults(handler=_pin)

    unpin = commands.add_parser(
        "unpin", help="let one model of an overlay's models.yaml follow an alias again"
    )
    unpin.add_argument("--overlay", required=True, type=Path)
    unpin.add_argument("--alias", required=True)
    unpin.add_argument(
        "--model", help="a model the overlay declares (default: its only model, if it has one)"
    )
    unpin.set_defaults(handler=_unpin)

    status = commands.add_parser(
        "status", help="every model of every tenant: aliases, versions, metrics, what git declares"
    )
    status.set_defaults(handler=_status)

    seed = commands.add_parser(
        "seed", help="first version of every declared model of a cluster whose alias is unset"
    )
    seed.add_argument(
        "--cluster", required=True, help="whose overlays name the tenants (kind, eks)"
    )
    seed.add_argument("--by", help="who seeds (default: git user.name, then $USER)")
    seed.set_defaults(handler=_seed)

    examples = commands.add_parser(
        "seed-examples",
        help="first version of every declared model a bundled team example trains "
        "(training/examples/examples.yaml), by running the team's script",
    )
    examples.add_argument(
        "--cluster", required=True, help="whose overlays name the tenants (kind, eks)"
    )
    examples.add_argument(
        "--tenant", help="only this tenant's models (the bootstraps log in as its writer user)"
    )
    examples.add_argument("--by", help="who promotes (default: git user.name, then $USER)")
    examples.set_defaults(handler=_seed_examples)

    up = commands.add_parser("up", help="local platform: MLflow, models, one service per tenant")
    up.add_argument("--once", action="store_true", help="exit after the table instead of serving")
    up.add_argument("--retrain", action="store_true", help="train even if a version matches")
    up.add_argument("--mlflow-port", type=_port, help="MLflow port (env UP_MLFLOW_PORT, 5000)")
    up.add_argument("--base-port", type=_port, help="first service port (env UP_BASE_PORT, 8081)")
    up.add_argument(
        "--prometheus-port",
        type=int,
        help="local Prometheus port, 0 for none (env UP_PROMETHEUS_PORT, 9090)",
    )
    up.add_argument("--run-dir", type=Path, help="state folder (env UP_RUN_DIR, .run/local)")
    up.add_argument("--cluster", help="whose overlays declare the tenants (env UP_CLUSTER, kind)")
    up.set_defaults(handler=_up)

    from training.rollout_cli import add_parser as add_rollout_parser

    add_rollout_parser(commands)
    return parser


def _quiet_libraries() -> None:
    # MLflow narrates every call ("View run at ...", serialization warnings); our tables say it.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore")


def _run(args: argparse.Namespace) -> int:
    from training.settings import Settings

    return args.handler(args, Settings.from_env())


# One function per subcommand, registered in build_parser with set_defaults(handler=...). Each
# imports what it needs when it runs: `python -m training --help` stays quick.


def _catalog_and_client(settings: Settings) -> tuple[dict[str, TenantModel], MlflowClient]:
    """The registry commands read training/tenants.yaml before contacting MLflow: a broken
    catalog is bad input (exit 2) even when MLflow is down."""
    from training.lifecycle import registry
    from training.lifecycle.catalog import load_catalog

    catalog = load_catalog(settings.tenants_file)
    return catalog, registry.connect(settings)


def _train(args: argparse.Namespace, settings: Settings) -> int:
    from training import output
    from training.lifecycle import registry
    from training.lifecycle.catalog import load_catalog, tenant_model

    # An unknown tenant is reported before MLflow is contacted; connect configures MLflow's
    # client and fails fast when the server is down, before the fit.
    entry = tenant_model(load_catalog(settings.tenants_file), args.tenant)
    registry.connect(settings)
    if args.estimator:
        from training.errors import one_of
        from training.lifecycle.estimators import BUILDERS

        if args.estimator not in BUILDERS:
            raise one_of("estimator", args.estimator, list(BUILDERS))
        entry = replace(entry, estimator=args.estimator)
    from training.lifecycle.train import train

    progress = output.Progress()
    with progress.step(f"training {entry.model_name} ({entry.estimator} on {entry.dataset})"):
        result = train(entry, settings, by=args.by)
    output.table(
        "registered",
        ["model", "version", "estimator", "accuracy", "f1_macro", "log_loss", "onnx", "run"],
        [
            [
                result.model_name,
                result.version,
                result.estimator,
                output.metric(result.metrics["accuracy"]),
                output.metric(result.metrics["f1_macro"]),
                output.metric(result.metrics["log_loss"]),
                result.onnx_gate,
                result.run_id,
            ]
        ],
    )
    output.console.print(f"- onnx {result.onnx_gate}: {result.onnx_detail}")
    output.console.print(f"- drift reference: {result.drift_reference}")
    return 0


def _register(args: argparse.Namespace, settings: Settings) -> int:
    from training import output
    from training.lifecycle.register import register_model

    progress = output.Progress()
    with progress.step(f"registering {args.model} for {args.tenant}"):
        result = register_model(
            args.tenant,
            args.name,
            args.model,
            args.sample,
            args.target,
            alias=args.alias,
            by=args.by,
            git_commit=args.git_commit,
            settings=settings,
        )
    output.table(
        "registered",
        ["model", "version", "estimator", "served by", "accuracy", "f1_macro", "log_loss", "run"],
        [
            [
                result.model_name,
                result.version,
                result.estimator,
                result.runtime,
                output.metric(result.metrics["accuracy"]),
                output.metric(result.metrics["f1_macro"]),
                output.metric(result.metrics.get("log_loss")),
                result.run_id,
            ]
        ],
    )
    output.console.print(f"- scored on {result.sample_rows} labelled rows of the sample")
    output.console.print(f"- onnx {result.onnx_gate}: {result.onnx_detail}")
    output.console.print(f"- drift reference: {result.drift_reference}")
    output.console.print(f"- quality gate: {result.gate}")
    for note in result.notes:
        output.console.print(f"- {note}")
    return 0


def _promote(args: argparse.Namespace, settings: Settings) -> int:
    from training import output
    from training.lifecycle import promote, registry

    _, client = _catalog_and_client(settings)
    # Bad input is reported before any progress line.
    registry.check_alias_allowed(settings, args.alias)
    registry.model_version(client, args.model, args.version)
    progress = output.Progress()
    with progress.step(f"gate for {args.model} version {args.version} -> {args.alias}"):
        change = promote.promote(
            client,
            settings,
            args.model,
            args.version,
            args.alias,
            reason=args.reason,
            force=args.force,
            allow_signature_change=args.allow_signature_change,
            tolerance=args.tolerance,
            by=args.by,
        )
    _print_change(change)
    return 0


def _rollback(args: argparse.Namespace, settings: Settings) -> int:
    from training.lifecycle import promote

    _, client = _catalog_and_client(settings)
    change = promote.rollback(
        client, settings, args.model, args.alias, reason=args.reason, by=args.by
    )
    _print_change(change)
    return 0


def _pin(args: argparse.Namespace, settings: Settings) -> int:
    from training.lifecycle.pin import pin

    _, client = _catalog_and_client(settings)
    _print_pin_change("pinned", pin(client, args.model, args.alias, args.overlay))
    return 0


def _unpin(args: argparse.Namespace, settings: Settings) -> int:
    from training.lifecycle.pin import unpin

    # Only git is edited: no catalog, no registry.
    _print_pin_change("unpinned", unpin(args.alias, args.overlay, settings.aliases, args.model))
    return 0


def _seed(args: argparse.Namespace, settings: Settings) -> int:
    from training import output
    from training.lifecycle.seed import seed

    _, client = _catalog_and_client(settings)
    rows = seed(client, settings, args.cluster, by=args.by)
    output.table(
        f"first models for {args.cluster}",
        ["tenant", "model", "serves", "version", "action"],
        [[r.tenant, r.model, r.served, r.version or "-", r.action] for r in rows],
    )
    from training.lifecycle.seed import NOT_IN_CATALOG, PINNED_MISSING

    skipped = [r.model for r in rows if r.action == NOT_IN_CATALOG]
    if skipped:
        output.console.print(
            f"- not seeded: {', '.join(skipped)}: their tenants' services are ready only once "
            "a version is registered and the alias set (docs/models.md)"
        )
    missing = [r for r in rows if r.action == PINNED_MISSING]
    return 1 if missing else 0


def _seed_examples(args: argparse.Namespace, settings: Settings) -> int:
    from training import output
    from training.lifecycle import registry
    from training.lifecycle.team_examples import load_examples, seed_examples

    load_examples(settings.examples_file)  # bad input before MLflow is contacted
    client = registry.connect(settings)
    rows = seed_examples(client, settings, args.cluster, args.tenant, by=args.by)
    whose = f"{args.tenant} on {args.cluster}" if args.tenant else args.cluster
    if not rows:
        output.console.print(f"no declared model of {whose} is trained by a bundled example")
        return 0
    output.table(
        f"team examples for {whose}",
        ["tenant", "model", "serves", "version", "action"],
        [[r.tenant, r.model, r.served, r.version or "-", r.action] for r in rows],
    )
    return 0


def _status(args: argparse.Namespace, settings: Settings) -> int:
    from training import output
    from training.lifecycle.status import collect, declared_models

    catalog, client = _catalog_and_client(settings)
    rows = collect(client, catalog, declared_models(settings.overlays_root))
    output.table(
        f"models at {settings.tracking_uri}",
        [
            "tenant",
            "model",
            "alias",
            "version",
            "accuracy",
            "f1_macro",
            "log_loss",
            "onnx",
            "git",
            "created (UTC)",
            "declared in git",
        ],
        [
            [
                r.tenant,
                r.model,
                r.pointer,
                r.version,
                output.metric(r.metrics.get("accuracy")),
                output.metric(r.metrics.get("f1_macro")),
                output.metric(r.metrics.get("log_loss")),
                r.onnx,
                r.git_commit,
                r.created,
                r.declared or "-",
            ]
            for r in rows
        ],
    )
    return 0


def _up(args: argparse.Namespace, settings: Settings) -> int:
    from training.local_platform.up import run_up

    return run_up(args, settings)


def _print_pin_change(title: str, change: PinChange) -> None:
    from training import output

    output.table(
        title,
        ["overlay", "model", "before", "after"],
        [[output.shown_path(change.overlay), change.model, change.before, change.after]],
    )


def _print_change(change) -> None:
    from training import output

    rows = [["alias", f"{change.model}@{change.alias}", f"{change.model}@{change.alias}"]]
    rows.append(["version", change.before or "(unset)", change.after or "(unset)"])
    if change.scores:
        for metric in ("accuracy", "f1_macro", "log_loss"):
            rows.append(
                [
                    f"{metric} (held-out)",
                    output.metric(change.scores["current"].get(metric)),
                    output.metric(change.scores["candidate"].get(metric)),
                ]
            )
    output.table(
        "alias moved" if change.changed else "alias unchanged", ["", "before", "after"], rows
    )
    for note in change.notes:
        output.console.print(f"- {note}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _quiet_libraries()
    try:
        return _run(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OperationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        # MLflow and HTTP failures mid-command: one line, not a traceback.
        from mlflow.exceptions import MlflowException
        from requests.exceptions import RequestException

        if isinstance(error, MlflowException | RequestException):
            first = (
                str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            )
            print(f"error: MLflow: {first}", file=sys.stderr)
            return 1
        raise

"""Command line: `python -m training {train,promote,rollback,pin,unpin,status,seed,up,rollout}`.

Exit codes: 0 ok, 1 refused or failed (quality gate, nothing to roll back, MLflow unreachable),
2 bad input (unknown tenant/model/version/alias/overlay, port in use, bad option)."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from dataclasses import replace
from pathlib import Path

from training.errors import OperationError, UsageError


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

    rollback = commands.add_parser("rollback", help="move an alias back to its previous version")
    rollback.add_argument("--model", required=True)
    rollback.add_argument("--alias", required=True)
    rollback.add_argument("--reason", default="")
    rollback.add_argument("--by")

    pin = commands.add_parser("pin", help="write models:/M/<version of alias> into an overlay")
    pin.add_argument("--model", required=True)
    pin.add_argument("--alias", required=True)
    pin.add_argument("--overlay", required=True, type=Path, help="overlays/<cluster>/tenants/<t>")

    unpin = commands.add_parser("unpin", help="write models:/M@<alias> back into an overlay")
    unpin.add_argument("--overlay", required=True, type=Path)
    unpin.add_argument("--alias", required=True)

    commands.add_parser("status", help="every tenant model: aliases, versions, metrics")

    seed = commands.add_parser(
        "seed", help="first version of every tenant of a cluster whose served alias is unset"
    )
    seed.add_argument(
        "--cluster", required=True, help="whose overlays name the tenants (kind, eks)"
    )
    seed.add_argument("--by", help="who seeds (default: git user.name, then $USER)")

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

    from training.rollout_cli import add_parser as add_rollout_parser

    add_rollout_parser(commands)
    return parser


def _quiet_libraries() -> None:
    # MLflow narrates every call ("View run at ...", serialization warnings); our tables say it.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore")


def _run(args: argparse.Namespace) -> int:
    from training import output
    from training.catalog import load_catalog, tenant_model
    from training.settings import Settings

    settings = Settings.from_env()
    if args.command == "rollout":
        from training import rollout_cli

        return rollout_cli.run(args, settings)
    if args.command == "up":
        from training.local_platform import run_up

        return run_up(args, settings)
    if args.command == "unpin":
        from training.pin import unpin

        change = unpin(args.alias, args.overlay, settings.aliases)
        output.table(
            "unpinned",
            ["overlay", "before", "after"],
            [[output.shown_path(change.overlay), change.before, change.after]],
        )
        return 0

    catalog = load_catalog(settings.tenants_file)
    entry = tenant_model(catalog, args.tenant) if args.command == "train" else None
    from training import registry

    client = registry.connect(settings)
    if args.command == "train":
        from training.train import train

        assert entry is not None
        if args.estimator:
            from training.errors import one_of
            from training.estimators import BUILDERS

            if args.estimator not in BUILDERS:
                raise one_of("estimator", args.estimator, list(BUILDERS))
            entry = replace(entry, estimator=args.estimator)
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
    if args.command in ("promote", "rollback"):
        from training import promote

        if args.command == "promote":
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
        else:
            change = promote.rollback(
                client, settings, args.model, args.alias, reason=args.reason, by=args.by
            )
        _print_change(change)
        return 0
    if args.command == "pin":
        from training.pin import pin

        change = pin(client, args.model, args.alias, args.overlay)
        output.table(
            "pinned",
            ["overlay", "before", "after"],
            [[output.shown_path(change.overlay), change.before, change.after]],
        )
        return 0
    if args.command == "seed":
        from training.seed import seed

        rows = seed(client, settings, args.cluster, by=args.by)
        output.table(
            f"first models for {args.cluster}",
            ["tenant", "model", "serves", "version", "action"],
            [[r.tenant, r.model, r.served, r.version or "-", r.action] for r in rows],
        )
        missing = [r for r in rows if r.action == "pinned version missing"]
        return 1 if missing else 0
    if args.command == "status":
        from training.status import collect

        rows = collect(client, catalog)
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
                ]
                for r in rows
            ],
        )
        return 0
    raise UsageError(f"unknown command {args.command!r}")


def _print_change(change) -> None:
    from training import output

    rows = [["alias", f"{change.model}@{change.alias}", f"{change.model}@{change.alias}"]]
    rows.append(["version", change.before or "(unset)", change.after or "(unset)"])
    if change.scores:
        for metric in ("accuracy", "f1_macro", "log_loss"):
            rows.append(
                [
                    f"{metric} (held-out)",
                    output.metric(change.scores["current"][metric]),
                    output.metric(change.scores["candidate"][metric]),
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

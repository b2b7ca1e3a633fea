"""`python -m training rollout {start,status,promote,abort}`: progressive delivery of a model
version under the tenant's rollout policy (docs/rollouts.md).

`start` reads the policy from git (the file the model's entry names, `rollout:`, in the
models.yaml of the overlay that serves the alias), runs the same quality gate as `promote`,
and records the policy snapshot and the first step on the candidate version; the judge does
the rest. Everything but the gate goes through training.rollout,
which the judge shares, so a person and the judge change the registry the same way.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.markup import escape

from training import output
from training.errors import OperationError, UsageError, one_of
from training.lifecycle import provenance, registry
from training.lifecycle.overlays import TenantOverlay, cluster_tenants, tenant_overlay
from training.rollout import actions
from training.rollout.mlflow_rest import MlflowRest, RegistryError
from training.rollout.policy import PolicyError, format_duration, load_file
from training.rollout.state import TAG_EVALUATION, TAG_HISTORY, Snapshot, StateError, read_history
from training.settings import Settings


def add_parser(commands: argparse._SubParsersAction) -> None:
    rollout = commands.add_parser(
        "rollout", help="progressive delivery of a version: shadow, canary steps, judge"
    )
    rollout.set_defaults(handler=run)
    actions_ = rollout.add_subparsers(dest="rollout_command", required=True, metavar="action")
    start = actions_.add_parser("start", help="put a version on <alias>-candidate under the policy")
    start.add_argument("--model", required=True)
    start.add_argument("--version", required=True)
    start.add_argument("--alias", required=True, help="the stable alias (staging, production)")
    start.add_argument(
        "--overlay",
        type=Path,
        help="the tenant overlay whose models.yaml names the policy (if several serve the alias)",
    )
    start.add_argument("--reason", default="", help="why; recorded in the rollout history")
    start.add_argument("--force", action="store_true", help="start even if held-out metrics drop")
    start.add_argument("--by", help="who starts it (default: git user.name, then $USER)")
    start.set_defaults(rollout_handler=_start)
    for name, text, handler in (
        ("status", "step, share, evidence per gate, verdict and history", _status),
        ("promote", "move the stable alias to the candidate now", _promote),
        ("abort", "stop the rollout: every request goes to the stable version", _abort),
    ):
        command = actions_.add_parser(name, help=text)
        command.add_argument("--model", required=True)
        command.add_argument("--alias", required=True, help="the stable alias")
        if name != "status":
            command.add_argument("--reason", default="", help="recorded in the history")
            command.add_argument("--by", help="who (default: git user.name, then $USER)")
        # Not `handler`: that key is the top-level command's (this module's run).
        command.set_defaults(rollout_handler=handler)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Checks every action shares, then the action's own function (set by add_parser)."""
    registry.check_alias_allowed(settings, args.alias)
    registry.check_reachable(settings.tracking_uri, settings.connect_timeout)
    rest = MlflowRest(settings.tracking_uri, settings.tracking_username, settings.tracking_password)
    try:
        return args.rollout_handler(rest, settings, args)
    except RegistryError as error:
        raise OperationError(f"MLflow: {error}") from None
    except StateError as error:
        raise OperationError(str(error)) from None


def _status(rest: MlflowRest, settings: Settings, args: argparse.Namespace) -> int:
    _known_model(rest, args.model)
    return _print_status(rest, args.model, args.alias)


def _promote(rest: MlflowRest, settings: Settings, args: argparse.Namespace) -> int:
    _known_model(rest, args.model)
    rollout = _in_progress(rest, args.model, args.alias)
    state = actions.promote(
        rest, rollout, provenance.actor(args.by), args.reason or "promoted by hand"
    )
    output.console.print(
        f"promoted: {args.model}@{args.alias} -> version {state.candidate_version} "
        f"(was {state.stable_version}, kept on {rollout.policy.previous_alias})"
    )
    return 0


def _abort(rest: MlflowRest, settings: Settings, args: argparse.Namespace) -> int:
    _known_model(rest, args.model)
    rollout = _in_progress(rest, args.model, args.alias)
    actions.abort(rest, rollout, provenance.actor(args.by), args.reason or "aborted by hand")
    output.console.print(
        f"aborted: {args.model}@{args.alias} stays on version "
        f"{rollout.state.stable_version}; {rollout.policy.candidate_alias} removed"
    )
    return 0


def _in_progress(rest: MlflowRest, model: str, alias: str) -> actions.Rollout:
    rollout = actions.current(rest, model, alias)
    if rollout is None or not rollout.state.active:
        raise OperationError(f"no rollout of {model}@{alias} is in progress")
    return rollout


def _known_model(rest: MlflowRest, name: str) -> None:
    try:
        rest.model(name)
    except RegistryError as error:
        if error.status != 404:
            raise
        raise one_of("model", name, [m.name for m in rest.models()]) from None


def find_policy(
    settings: Settings, model: str, alias: str, overlay: Path | None
) -> tuple[TenantOverlay, Snapshot]:
    """The policy of the overlay(s) whose models.yaml declares `model` following `alias`
    (the entry's `rollout:` file), validated."""
    wanted = f"models:/{model}@{alias}"
    if overlay is not None:
        chosen = tenant_overlay(overlay)
        entry = chosen.entry(model)
        if str(entry.uri) != wanted:
            raise UsageError(f"--overlay {overlay}: declares {entry.uri}, not {wanted}")
        serving = [(chosen, entry)]
    else:
        root = settings.overlays_root
        clusters = (
            sorted(p.name for p in (root / "overlays").iterdir() if p.is_dir())
            if (root / "overlays").is_dir()
            else []
        )
        serving = [
            (o, e)
            for cluster in clusters
            for o in cluster_tenants(cluster, root)
            for e in o.declaration().models
            if str(e.uri) == wanted
        ]
    if not serving:
        raise UsageError(f"no tenant overlay serves {wanted} (an entry of a models.yaml)")
    with_policy = [(o, e) for o, e in serving if e.rollout]
    if not with_policy:
        listed = ", ".join(output.shown_path(o.models_file) for o, _ in serving)
        raise OperationError(
            f"{listed}: {model} names no rollout policy, so {wanted} is promoted all at once; "
            "use `python -m training promote`, or add `rollout: <file>` to its entry "
            "(docs/rollouts.md)"
        )
    snapshots = []
    for found, entry in with_policy:
        path = found.path / str(entry.rollout)
        try:
            policy = load_file(path)
        except PolicyError as error:
            raise UsageError(str(error).replace(str(settings.overlays_root) + "/", "")) from None
        if policy.stable_alias != alias:
            raise UsageError(
                f"{output.shown_path(path)}: stableAlias: got "
                f"{policy.stable_alias!r}, expected {alias!r} (the alias {model} follows in "
                "models.yaml)"
            )
        commit = provenance.git_commit() + ("-dirty" if provenance.git_dirty() else "")
        source = _relative(path, settings.overlays_root)
        snapshots.append((found, Snapshot(policy, found.tenant, source, commit)))
    distinct = {json.dumps(s.policy.to_document(), sort_keys=True) for _, s in snapshots}
    if len(distinct) > 1 or len({s.tenant for _, s in snapshots}) > 1:
        listed = ", ".join(output.shown_path(o.path) for o, _ in snapshots)
        raise UsageError(
            f"several overlays serve {wanted} with different policies ({listed}); pass --overlay"
        )
    return snapshots[0]


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(path)


def _start(rest: MlflowRest, settings: Settings, args: argparse.Namespace) -> int:
    from training.lifecycle import pickle_free, promote

    overlay, snapshot = find_policy(settings, args.model, args.alias, args.overlay)
    client = registry.connect(settings)
    candidate = registry.model_version(client, args.model, args.version)
    stable = registry.alias_version(client, args.model, args.alias)
    if stable is None:
        raise OperationError(
            f"{args.model}@{args.alias} is not set: there is no stable version to roll out "
            "against; promote the first version with `python -m training promote`"
        )
    if stable == str(args.version):
        raise OperationError(f"{args.model}@{args.alias} already serves version {stable}")
    running = actions.current(rest, args.model, args.alias)
    if running is not None and running.state.active:
        raise OperationError(
            f"a rollout of {args.model} version {running.candidate.version} on {args.alias} is "
            f"{running.state.status}; promote or abort it first"
        )
    # Its pods would refuse the candidate: say so before anything moves.
    pickle_free.refuse_pickled(settings, args.model, str(args.version), args.alias)
    change = promote.AliasChange(args.model, args.alias, stable, str(args.version))
    progress = output.Progress()
    with progress.step(f"gate for {args.model} version {args.version} -> {args.alias}-candidate"):
        forced = promote.run_gate(
            client,
            change,
            candidate,
            force=args.force,
            allow_signature_change=False,  # the services refuse such a candidate
            tolerance=settings.tolerance,
        )
    reason = f"{args.reason} [forced past gate]".strip() if forced else args.reason
    state = actions.start(
        rest, snapshot, args.model, str(args.version), stable, provenance.actor(args.by), reason
    )
    policy = snapshot.policy
    output.table(
        "rollout started",
        ["", ""],
        [
            ["model", args.model],
            ["stable", f"{args.alias} -> version {stable}"],
            ["candidate", f"{policy.candidate_alias} -> version {state.candidate_version}"],
            ["policy", f"{snapshot.source} ({overlay.tenant})"],
            ["steps", ", ".join(step.describe() for step in policy.steps)],
            ["promotion", "automatic" if policy.auto_promote else "by hand (rollout promote)"],
            ["deadline", format_duration(policy.deadline_seconds)],
        ],
    )
    for note in change.notes:
        output.console.print(f"- {note}")
    return 0


def _print_status(rest: MlflowRest, model: str, alias: str) -> int:
    rollout = actions.latest(rest, model, alias)
    if rollout is None:
        output.console.print(f"no rollout of {model}@{alias} yet")
        return 0
    state, policy = rollout.state, rollout.policy
    now = time.time()
    step = policy.steps[state.step]
    share = "shadow (0%)" if state.mode == "shadow" else f"{state.weight}%"
    if state.status == "promoted":
        share = "100% (promoted)"
    elif state.status == "aborted":
        share = "0% (aborted)"
    stable_now = rollout.model.aliases.get(alias, "(unset)")
    output.table(
        f"rollout of {model} version {state.candidate_version} on {alias}",
        ["", ""],
        [
            ["status", state.status],
            ["step", f"{state.step + 1} of {len(policy.steps)}: {step.describe()}"],
            ["candidate share", share],
            [
                "stable",
                f"{alias} -> version {stable_now} (rollout compares with {state.stable_version})",
            ],
            ["in this step", format_duration(max(0, int(now - state.step_started_at)))],
            ["started", time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(state.started_at))],
            [
                "deadline",
                time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(state.deadline_at))
                + (" (passed)" if now > state.deadline_at and state.active else ""),
            ],
            ["policy", f"{rollout.snapshot.source} @ {rollout.snapshot.commit[:12]}"],
        ],
    )
    evaluation = _evaluation(rollout.candidate.tags.get(TAG_EVALUATION))
    if evaluation:
        output.table(
            f"last evaluation ({evaluation.get('at', '?')}): {evaluation.get('verdict', '?')}"
            f", action {evaluation.get('action', '?')}",
            ["gate", "verdict", "evidence"],
            [
                [g.get("gate"), g.get("verdict"), g.get("detail")]
                for g in evaluation.get("gates", [])
            ],
        )
        if evaluation.get("reason"):
            output.console.print(f"- {evaluation['reason']}")
    history = read_history(rollout.candidate.tags.get(TAG_HISTORY))
    output.table(
        "history",
        ["at", "action", "by", "step", "share", "reason / evidence"],
        _plain(
            [
                [
                    e.get("at"),
                    e.get("action"),
                    e.get("by"),
                    e.get("step"),
                    "shadow"
                    if e.get("mode") == "shadow" and e.get("action") != "promote"
                    else f"{e.get('weight')}%",
                    "; ".join(x for x in (e.get("reason"), e.get("evidence")) if x),
                ]
                for e in history
            ]
        ),
    )
    return 0


def _plain(rows: list[list[object]]) -> list[list[str]]:
    """Cells as text: reasons such as "[forced past gate]" are not rich markup."""
    return [[escape("" if cell is None else str(cell)) for cell in row] for row in rows]


def _evaluation(raw: str | None) -> dict:
    try:
        found = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}

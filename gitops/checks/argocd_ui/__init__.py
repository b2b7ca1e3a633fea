"""`argocd-ui` and `argocd-notifications`: the Argo CD UI's deep links and the
notifications, evaluated offline against the real tree and the sync simulation, with models
of Argo CD v3.5.1's template semantics (gotemplate.py: Go text/template + the sprig functions
used; expr.py: expr-lang/expr).

Deep links (links.py), for each cluster's argocd-cm (overlays/<cluster>/argocd/config): every
link of every location is evaluated on every object of the tree it can be shown on (each
Application, each resource an Application deploys, each AppProject). A finding: a condition
that fails or is not a boolean, a url that fails to render or renders "<no value>", a URL that
is not absolute or not under the cluster's configured base URL of a UI, a Grafana link to a
dashboard uid or variable base/monitoring/dashboards lacks, a link to a registered model no
tenant's models.yaml declares, a link to a file of this repository that does not exist, a link that
shows on no object of either tree, and argocd-cm keys or link fields v3.5.1 does not read.

Notifications (notifications.py), for each cluster's argocd-notifications-cm, in `argocd-ui`:
keys the controller reads, every `send` names a template, every subscription names a trigger
and a configured service, every trigger is subscribed, every `$key` a service reads is
written into argocd-notifications-secret by the tree (EKS: an ExternalSecret), and every
literal service URL is absolute. In `argocd-notifications` (a check of its own because it
runs the sync simulation, states.py; in the background): each trigger's `when` is evaluated
on every Application of each simulated first sync (it must fire on none) and of a Kind
cluster with planted faults (it must fire on at least one; a time-based trigger not at the
start of its operation); every template it sends renders for each of those, without
"<no value>", with a JSON body where the webhook posts JSON, and its links pass the URL rules
above.

What this cannot see: how the UI lays the links out, whether Slack accepts the payload, and
the corner cases of text/template and expr outside the subset modelled (reported as "not
evaluable offline" rather than guessed). docs/gitops.md ("In the Argo CD UI") says the same.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from gitops.checks import Context, register
from gitops.checks.argocd_ui import config, expr, gotemplate, links, notifications, states
from gitops.paths import CLUSTERS
from gitops.tree.findings import Finding
from gitops.tree.tenant_models import declarations
from inference.contracts.tenant_models import TenantModels

CHECK = "argocd-ui"
NOTIFICATIONS = "argocd-notifications"
_URL = r"https?://[^\s\"'<>|)]+"


@register(
    CHECK,
    "Argo CD's deep links render on every object of the trees; its settings' references hold",
)
def check(ctx: Context) -> Iterable[Finding]:
    problems: list[links.Problem] = []
    dashboards = config.dashboards(ctx.root)
    models = _models(ctx)
    uses: dict[str, links.LinkUse] = {}
    for ui, conf in _settings(ctx):
        if conf is None:
            problems.append(
                links.Problem(
                    ui.settings_dir,
                    "",
                    "does not exist or does not build",
                    "Argo CD's settings of this cluster (base/argocd)",
                )
            )
            continue
        problems += _argocd_cm_keys(ui)
        problems += links.evaluate(ui, ctx.root, dashboards, models, uses)
        problems += conf.problems
        problems += list(notifications.structure(conf, ui.settings_dir))
        problems += list(_services(ui, conf))
    for label, use in sorted(uses.items()):
        if use.evaluated and not use.shown:
            problems.append(
                links.Problem(
                    f"argocd-cm {label}",
                    "",
                    f"shows on none of the {use.evaluated} objects of the trees it is meant for",
                    "a condition some Application, resource or project meets",
                )
            )
    ctx.stats[CHECK] = {"links": len(uses)}
    return _findings(CHECK, problems)


@register(
    NOTIFICATIONS,
    "notification triggers fire on simulated failures only; their messages render",
    background=True,
)
def check_notifications(ctx: Context) -> Iterable[Finding]:
    settings = [(ui, conf) for ui, conf in _settings(ctx) if conf is not None]
    if not settings:
        return []
    configs = {ui.cluster: conf for ui, conf in settings}
    uis = {ui.cluster: ui for ui, _ in settings}
    simulated = states.simulated(ctx)
    problems = [links.Problem("first-sync simulation", "", p) for p in simulated.problems]
    problems += list(_triggers(simulated, configs, uis, ctx))
    ctx.stats[NOTIFICATIONS] = {
        "triggers": sum(len(c.triggers) for c in configs.values()),
        "states": len(simulated.healthy) + len(simulated.faulty),
    }
    return _findings(NOTIFICATIONS, problems)


def _findings(check_name: str, problems: list[links.Problem]) -> list[Finding]:
    return sorted({Finding(check_name, p.where, p.obj, p.text, p.expected) for p in problems})


def _settings(
    ctx: Context,
) -> list[tuple[config.ClusterUi, notifications.Notifications | None]]:
    out: list[tuple[config.ClusterUi, notifications.Notifications | None]] = []
    for tree in ctx.trees:
        ui = config.cluster_ui(ctx.root, tree, ctx.built)
        conf = notifications.parse(ui.notifications_cm, ui.settings_dir) if ui.found else None
        out.append((ui, conf))
    return out


def _models(ctx: Context) -> set[str]:
    """Every model a tenant declares on either cluster (models.yaml): what an MLflow link may
    open or search for."""
    out: set[str] = set()
    for cluster in CLUSTERS:
        for declared in declarations(ctx.root, cluster).values():
            if isinstance(declared, TenantModels):
                out.update(declared.names)
    return out


def _argocd_cm_keys(ui: config.ClusterUi) -> Iterator[links.Problem]:
    for key in sorted(ui.argocd_cm):
        if key in config.ARGOCD_CM_KEYS or key.startswith(config.CUSTOMIZATION_PREFIX):
            continue
        yield links.Problem(
            f"{ui.settings_dir}: argocd-cm {key}",
            "",
            "is a key Argo CD v3.5.1 does not read (util/settings/settings.go)",
            f"one of {sorted(config.ARGOCD_CM_KEYS)} or resource.customizations.*",
        )


def _services(ui: config.ClusterUi, conf: notifications.Notifications) -> Iterator[links.Problem]:
    """Each service's `$key` is written into argocd-notifications-secret by the tree; a
    literal URL is absolute."""
    written = set()
    for app in ui.tree.apps:
        for obj in app.objects:
            spec = obj.get("spec") or {}
            if (
                obj.get("kind") == "ExternalSecret"
                and (spec.get("target") or {}).get("name") == "argocd-notifications-secret"
            ):
                written |= {str(d.get("secretKey")) for d in spec.get("data") or []}
    for name, keys in sorted(notifications.secret_references(conf).items()):
        where = f"{ui.settings_dir}: argocd-notifications-cm service.*.{name}"
        for key in sorted(keys - written):
            yield links.Problem(
                where,
                "",
                f"reads ${key} from argocd-notifications-secret, which nothing in the "
                f"{ui.cluster} tree writes (the install's Secret is empty)",
                "an ExternalSecret with that secretKey targeting argocd-notifications-secret, "
                "or a literal URL from the cluster's settings",
            )
        url = str(conf.services[name].options.get("url", ""))
        if url and not url.startswith("$") and not urlsplit(url).netloc:
            yield links.Problem(where, "", f"url {url!r} is not an absolute URL", "a URL")


def _triggers(
    simulated: states.States,
    configs: dict[str, notifications.Notifications],
    uis: dict[str, config.ClusterUi],
    ctx: Context,
) -> Iterator[links.Problem]:
    fired_somewhere: dict[tuple[str, str], bool] = {}
    for state in simulated.healthy:
        conf = configs.get(state.cluster)
        if conf is None:
            continue
        for trigger, conditions in sorted(conf.triggers.items()):
            for index, condition in enumerate(conditions):
                fired, _ = notifications.fires(condition, state.app, state.now, conf)
                if fired:
                    cm = f"{uis[state.cluster].settings_dir}: argocd-notifications-cm"
                    yield links.Problem(
                        f"{cm} trigger.{trigger}[{index}]",
                        f"Application argocd/{state.name}",
                        f"fires on the simulated {state.cluster} first sync, where every "
                        "Application is Synced and Healthy",
                        "a condition that only a failure meets",
                    )
    for state in simulated.faulty:
        conf = configs[state.cluster]
        ui = uis[state.cluster]
        for trigger, conditions in sorted(conf.triggers.items()):
            for index, condition in enumerate(conditions):
                key = (trigger, str(index))
                fired, _ = notifications.fires(condition, state.app, state.now, conf)
                fired_somewhere[key] = fired_somewhere.get(key, False) or fired
                if not fired:
                    continue
                where = f"{ui.settings_dir}: argocd-notifications-cm trigger.{trigger}[{index}]"
                if "time.Now" in str(condition.get("when")):
                    started = ((state.app.get("status") or {}).get("operationState") or {}).get(
                        "startedAt"
                    )
                    if started:
                        at_start, _ = notifications.fires(
                            condition, state.app, expr.utc(str(started)), conf
                        )
                        if at_start:
                            yield links.Problem(
                                where,
                                f"Application argocd/{state.name}",
                                "fires as soon as the operation starts: no deadline",
                                "a condition on how long the operation has run",
                            )
                yield from _sent(trigger, condition, state, conf, ui, ctx)
    for (trigger, index), fired in sorted(fired_somewhere.items()):
        if not fired:
            yield links.Problem(
                f"argocd-notifications-cm trigger.{trigger}[{index}]",
                "",
                "fires on no Application of the simulated faults ("
                + "; ".join(simulated.planted)
                + ")",
                "a condition a failing sync, a Degraded Application or a stuck sync meets",
            )


def _sent(
    trigger: str,
    condition: dict[str, Any],
    state: states.State,
    conf: notifications.Notifications,
    ui: config.ClusterUi,
    ctx: Context,
) -> Iterator[links.Problem]:
    services = sorted(
        {
            str(r).split(":", 1)[0]
            for s in conf.subscriptions
            if trigger in (s.get("triggers") or [])
            for r in s.get("recipients") or []
        }
        & set(conf.services)
    )
    slug = config.repository_slug(ui.tree)
    for template_name in condition.get("send") or []:
        template = conf.templates.get(template_name)
        if template is None:
            continue
        where = f"{ui.settings_dir}: argocd-notifications-cm template.{template_name}"
        for service_name in services:
            service = conf.services[service_name]
            try:
                parts = list(notifications.render(template, state.app, service, state.now, conf))
            except gotemplate.NotModelled as exc:
                yield links.Problem(where, "", f"{exc}: {links.NOT_EVALUABLE}")
                continue
            except gotemplate.TemplateError as exc:
                yield links.Problem(
                    where,
                    f"Application argocd/{state.name}",
                    f"fails to render for {service_name} ({trigger}, {state.label}): {exc}",
                    "a template that renders for every Application its trigger fires on",
                )
                continue
            for part, text in parts:
                yield from _rendered(part, text, service, where, state, ui, ctx, slug)


def _rendered(
    part: str,
    text: str,
    service: notifications.Service,
    where: str,
    state: states.State,
    ui: config.ClusterUi,
    ctx: Context,
    slug: str,
) -> Iterator[links.Problem]:
    obj = f"Application argocd/{state.name}"
    # What the receiver reads: a JSON body's strings (toJson escapes < and >, as Go's
    # encoding/json does), else the text itself.
    readable = [text]
    if part.endswith(".body") and notifications.sends_json(service):
        try:
            readable = list(_strings(json.loads(text)))
        except ValueError as exc:
            yield links.Problem(where, obj, f"{part} is not JSON ({exc}): {text[:120]!r}", "JSON")
            return
    for item in readable:
        if gotemplate.NO_VALUE in item or "<nil>" in item:
            yield links.Problem(
                where,
                obj,
                f"{part} renders a field the Application does not have ({state.label}): "
                f"{item.strip()[:160]!r}",
                "fields the simulated Application has",
            )
            return
    dashboards = config.dashboards(ctx.root)
    for item in readable:
        for url in re.findall(_URL, item):
            url = url.rstrip(".,")
            for problem in links.check_url(url, ui, ctx.root, slug, dashboards, set()):
                yield links.Problem(where, obj, f"{part}: {problem.text}", problem.expected)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)

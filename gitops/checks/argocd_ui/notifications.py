"""argocd-notifications-cm, read and evaluated the way Argo CD v3.5.1's notifications
controller does (argoproj/notifications-engine at the commit argo-cd v3.5.1's go.mod pins):

- pkg/api/config.go ParseConfig: `subscriptions` (the default subscriptions of every
  Application: recipients "<service>[:<recipient>]", triggers, selector), `defaultTriggers`,
  `template.<name>`, `service.<type>[.<name>]`, `trigger.<name>`, `defaultTriggers.<service>`;
  argo-cd util/notification/settings/settings.go adds `context`. Any other key is ignored;
- pkg/triggers/service.go: a trigger is a list of conditions; `when` (empty: "false") and
  `oncePer` compiled with expr, a condition fires when `when` gives true;
- pkg/templates/service.go: each template part is text/template with sprig's text functions
  less env and expandenv; the webhook part is keyed by the webhook service's name
  (pkg/services/webhook.go);
- the variables (argo-cd util/notification/settings/settings.go initGetVars,
  util/notification/expression/expr.go Spawn): `app`, `context` (with notificationType),
  `appProject`, the helpers `time` and `strings`, and `serviceType` when a template is sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml

from gitops.checks.argocd_ui import expr, gotemplate
from gitops.checks.argocd_ui.links import NOT_EVALUABLE, Problem

SERVICE_TYPES = frozenset(
    {
        "awssqs",
        "email",
        "slack",
        "mattermost",
        "rocketchat",
        "grafana",
        "opsgenie",
        "webhook",
        "telegram",
        "github",
        "teams",
        "teams-workflows",
        "googlechat",
        "pushover",
        "alertmanager",
        "pagerduty",
        "pagerdutyv2",
        "newrelic",
        "webex",
        "nats",
        "gcppubsub",
    }
)
# services.Notification's fields: what a template may hold (pkg/services/services.go).
TEMPLATE_PARTS = frozenset({"message", "webhook"})
OTHER_TEMPLATE_PARTS = frozenset(
    {
        "awssqs",
        "gcppubsub",
        "email",
        "slack",
        "mattermost",
        "rocketchat",
        "teams",
        "teams-workflows",
        "opsgenie",
        "github",
        "alertmanager",
        "googlechat",
        "pagerduty",
        "pagerdutyv2",
        "newrelic",
    }
)
WEBHOOK_FIELDS = frozenset({"method", "body", "path"})
_SECRET_REFERENCE = re.compile(r"[$][\w-]+")
REMOVED_FUNCTIONS = frozenset({"env", "expandenv"})


@dataclass
class Service:
    kind: str
    name: str
    options: dict[str, Any]


@dataclass
class Notifications:
    """The parsed ConfigMap and what was wrong reading it."""

    services: dict[str, Service] = field(default_factory=dict)
    triggers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    context: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def parse(data: Mapping[str, str], where: str) -> Notifications:
    out = Notifications()

    def problem(key: str, text: str, expected: str = "") -> None:
        out.problems.append(Problem(f"{where}: argocd-notifications-cm {key}", "", text, expected))

    for key, value in sorted(data.items()):
        try:
            loaded = yaml.safe_load(value) if value.strip() else None
        except yaml.YAMLError as exc:
            problem(key, f"is not YAML: {exc}")
            continue
        parts = key.split(".")
        if key == "subscriptions":
            if not isinstance(loaded, list):
                problem(key, "is not a list of subscriptions")
                continue
            out.subscriptions = [s for s in loaded if isinstance(s, dict)]
        elif key == "context":
            out.context = {str(k): str(v) for k, v in (loaded or {}).items()}
        elif key.startswith("template."):
            if not isinstance(loaded, dict):
                problem(key, "is not a map of template parts")
                continue
            out.templates[".".join(parts[1:])] = loaded
        elif key.startswith("trigger."):
            if not isinstance(loaded, list) or not all(isinstance(c, dict) for c in loaded):
                problem(key, "is not a list of conditions")
                continue
            out.triggers[".".join(parts[1:])] = loaded
        elif key.startswith("service."):
            if len(parts) not in (2, 3):
                problem(key, "is not service.<type>(.<name>)", "service.webhook.<name>")
                continue
            kind, name = parts[1], parts[-1]
            if kind not in SERVICE_TYPES:
                problem(key, f"names service type {kind!r}, which v3.5.1 does not have")
                continue
            out.services[name] = Service(kind, name, loaded if isinstance(loaded, dict) else {})
        elif key == "defaultTriggers" or key.startswith("defaultTriggers."):
            continue
        else:
            problem(
                key,
                "is a key the notifications controller does not read (ignored)",
                "subscriptions, context, defaultTriggers, template.*, trigger.*, service.*",
            )
    return out


def structure(config: Notifications, where: str) -> Iterator[Problem]:
    """Every `send` names a template, every subscription a trigger and a service that exist,
    every expression compiles, every template part is one the controller knows."""
    cm = f"{where}: argocd-notifications-cm"
    for name, conditions in sorted(config.triggers.items()):
        for index, condition in enumerate(conditions):
            label = f"{cm} trigger.{name}[{index}]"
            for send in condition.get("send") or []:
                if send not in config.templates:
                    yield Problem(
                        label,
                        "",
                        f"sends template {send!r}, which does not exist",
                        f"one of {sorted(config.templates)}",
                    )
            for part in ("when", "oncePer"):
                source = condition.get(part)
                if part == "when" and not source:
                    yield Problem(label, "", "has no `when`: it never fires", "a condition")
                if not source:
                    continue
                try:
                    expr.compile_expression(str(source))
                except expr.NotModelled as exc:
                    yield Problem(label, "", f"{part} {source!r}: {exc}: {NOT_EVALUABLE}")
                except expr.ExprError as exc:
                    yield Problem(label, "", f"{part} {source!r} does not compile: {exc}")
    subscribed = set()
    for index, subscription in enumerate(config.subscriptions):
        label = f"{cm} subscriptions[{index}]"
        triggers = subscription.get("triggers") or []
        if not triggers:
            yield Problem(label, "", "names no trigger", "the triggers it subscribes to")
        for trigger in triggers:
            subscribed.add(trigger)
            if trigger not in config.triggers:
                yield Problem(
                    label,
                    "",
                    f"subscribes to trigger {trigger!r}, which does not exist",
                    f"one of {sorted(config.triggers)}",
                )
        for recipient in subscription.get("recipients") or []:
            service = str(recipient).split(":", 1)[0]
            if service not in config.services:
                yield Problem(
                    label,
                    "",
                    f"sends to service {service!r}, which is not configured",
                    f"one of {sorted(config.services)}",
                )
    for name in sorted(set(config.triggers) - subscribed):
        yield Problem(
            f"{cm} trigger.{name}",
            "",
            "no subscription names it: it notifies no one",
            "a subscription",
        )
    for name, template in sorted(config.templates.items()):
        label = f"{cm} template.{name}"
        for part in sorted(set(template) - TEMPLATE_PARTS - OTHER_TEMPLATE_PARTS):
            yield Problem(label, "", f"has part {part!r}, which the controller ignores")
        for part in sorted(set(template) & OTHER_TEMPLATE_PARTS):
            yield Problem(label, "", f"part {part!r} is not modelled: {NOT_EVALUABLE}")
        for service, fields in sorted((template.get("webhook") or {}).items()):
            if service not in config.services or config.services[service].kind != "webhook":
                yield Problem(
                    label,
                    "",
                    f"has a webhook part for {service!r}, which is no webhook service",
                    "the name of a service.webhook.<name>",
                )
            unknown = sorted(set(fields or {}) - WEBHOOK_FIELDS)
            if unknown:
                yield Problem(label, "", f"webhook {service} has fields {unknown} (ignored)")


def secret_references(config: Notifications) -> dict[str, set[str]]:
    """Service name -> the `$key`s of argocd-notifications-secret its options read (api
    config.go replaceServiceConfigSecrets)."""
    out: dict[str, set[str]] = {}
    for name, service in config.services.items():
        text = json.dumps(service.options)
        out[name] = {ref[1:] for ref in _SECRET_REFERENCE.findall(text)}
    return out


def variables(
    app: Mapping[str, Any], service: str, now: datetime, context: Mapping[str, str]
) -> dict[str, Any]:
    return {
        "app": app,
        "context": {"notificationType": service, **context},
        "appProject": {},
        "time": expr.time_helpers(now),
        "serviceType": service,
    }


def fires(
    condition: Mapping[str, Any], app: Mapping[str, Any], now: datetime, config: Notifications
) -> tuple[bool, str]:
    """(fired, error): `when` over the Application at `now`; an error does not fire."""
    try:
        value = expr.run(
            str(condition.get("when") or "false"), variables(app, "", now, config.context)
        )
    except expr.ExprError as exc:
        return False, str(exc)
    return value is True, ""


def render(
    template: Mapping[str, Any],
    app: Mapping[str, Any],
    service: Service,
    now: datetime,
    config: Notifications,
) -> Iterator[tuple[str, str]]:
    """(part, rendered text) of what `template` sends to `service`; TemplateError as the
    controller would fail."""
    data = variables(app, service.name, now, config.context)
    if "message" in template:
        yield (
            "message",
            gotemplate.render(str(template["message"]), data, without=REMOVED_FUNCTIONS),
        )
    for name, fields in sorted((template.get("webhook") or {}).items()):
        if name != service.name:
            continue
        for part in ("body", "path"):
            yield (
                f"webhook.{name}.{part}",
                gotemplate.render(
                    str((fields or {}).get(part, "")), data, without=REMOVED_FUNCTIONS
                ),
            )


def sends_json(service: Service) -> bool:
    for header in service.options.get("headers") or []:
        if str(header.get("name", "")).lower() == "content-type":
            return "json" in str(header.get("value", "")).lower()
    return False

"""Deep links (argocd-cm `application.links`, `resource.links`, `project.links`), rendered the
way argo-cd v3.5.1 server/deeplinks/deeplinks.go EvaluateDeepLinksResponse does: the `if`
condition with expr over the link's data (it must be a boolean; an error or another type
hides the link and is logged), then the `url` with text/template and sprig's generic
functions less env, expandenv and getHostByName."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

import yaml

from gitops.checks.argocd_ui import expr, gotemplate
from gitops.checks.argocd_ui.config import (
    LINK_FIELDS,
    LINK_LOCATIONS,
    ClusterUi,
    Dashboard,
    github_file,
    in_cluster,
    project_for_links,
    repository_slug,
)
from gitops.tree.findings import name_of, obj_ref

REMOVED_FUNCTIONS = frozenset({"env", "expandenv", "getHostByName"})
NOT_EVALUABLE = "not evaluable offline"


@dataclass(frozen=True)
class Problem:
    where: str  # e.g. "argocd-cm application.links[2] Models in MLflow"
    obj: str
    text: str
    expected: str = ""


@dataclass
class LinkUse:
    """Where one link showed, over every cluster."""

    shown: int = 0
    evaluated: int = 0
    keys: set[str] = field(default_factory=set)


def parse_links(ui: ClusterUi, location: str) -> tuple[list[dict[str, Any]], list[Problem]]:
    text = ui.argocd_cm.get(location)
    where = f"{ui.settings_dir}: argocd-cm {location}"
    if text is None:
        return [], []
    try:
        links = yaml.safe_load(text) or []
    except yaml.YAMLError as exc:
        return [], [Problem(where, "", f"is not YAML: {exc}", "a list of links")]
    if not isinstance(links, list) or not all(isinstance(x, dict) for x in links):
        return [], [Problem(where, "", "is not a list of links", "a list of {title, url, ...}")]
    problems = []
    for index, link in enumerate(links):
        unknown = sorted(set(link) - LINK_FIELDS)
        if unknown:
            problems.append(
                Problem(
                    f"{where}[{index}]",
                    "",
                    f"has fields Argo CD v3.5.1 does not read: {unknown}",
                    f"only {sorted(LINK_FIELDS)} (util/settings/settings.go DeepLink)",
                )
            )
        if not link.get("url") or not link.get("title"):
            problems.append(Problem(f"{where}[{index}]", "", "has no url or no title", "both"))
    return links, problems


def link_data(ui: ClusterUi) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(location, object the link is shown on, the data its templates see) for every place
    the tree shows links: each Application, each resource an Application deploys, each
    AppProject."""
    projects = {
        name_of(o): o
        for app in ui.tree.apps
        for o in [app.obj, *app.objects]
        if o.get("kind") == "AppProject"
    }
    for o in ui.tree.entry_objects:
        if o.get("kind") == "AppProject":
            projects.setdefault(name_of(o), o)
    cluster = in_cluster()
    for app in ui.tree.apps:
        yield (
            "application.links",
            app.obj,
            {"app": app.obj, "application": app.obj, "cluster": cluster},
        )
        project = projects.get(str((app.obj.get("spec") or {}).get("project") or ""), {})
        for obj in app.objects:
            yield (
                "resource.links",
                obj,
                {
                    "resource": obj,
                    "application": app.obj,
                    "cluster": cluster,
                    "project": project_for_links(project),
                },
            )
    for project in projects.values():
        yield "project.links", project, {"project": project_for_links(project)}


def evaluate(
    ui: ClusterUi,
    root: Path,
    dashboards: Mapping[str, Dashboard],
    models: set[str],
    uses: dict[str, LinkUse],
) -> list[Problem]:
    problems: list[Problem] = []
    parsed: dict[str, list[dict[str, Any]]] = {}
    for location in LINK_LOCATIONS:
        links, found = parse_links(ui, location)
        parsed[location] = links
        problems += found
    slug = repository_slug(ui.tree)
    reported: set[tuple[str, str]] = set()
    for location, obj, data in link_data(ui):
        for index, link in enumerate(parsed[location]):
            label = f"{location}[{index}] {link.get('title', '')}".rstrip()
            use = uses.setdefault(label, LinkUse())
            use.evaluated += 1
            where = f"{ui.settings_dir}: argocd-cm {label}"
            for problem in _one(link, data, obj, ui, root, slug, dashboards, models):
                key = (where, problem.text)
                if problem.text.endswith(NOT_EVALUABLE) and key in reported:
                    continue
                reported.add(key)
                problems.append(Problem(where, obj_ref(obj), problem.text, problem.expected))
            if _shown(link, data):
                use.shown += 1
                use.keys.add(ui.cluster)
    return problems


def _shown(link: Mapping[str, Any], data: Mapping[str, Any]) -> bool:
    condition = link.get("if")
    if condition is None:
        return True
    try:
        return expr.run(str(condition), data) is True
    except expr.ExprError:
        return False


def _one(
    link: Mapping[str, Any],
    data: Mapping[str, Any],
    obj: Mapping[str, Any],
    ui: ClusterUi,
    root: Path,
    slug: str,
    dashboards: Mapping[str, Dashboard],
    models: set[str],
) -> Iterator[Problem]:
    condition = link.get("if")
    if condition is not None:
        try:
            value = expr.run(str(condition), data)
        except expr.NotModelled as exc:
            yield Problem("", "", f"condition {condition!r}: {exc}: {NOT_EVALUABLE}")
            return
        except expr.ExprError as exc:
            yield Problem(
                "",
                "",
                f"condition {condition!r} fails: {exc} (Argo CD logs it and hides the link)",
                "a condition that evaluates on every object (use ?. for optional fields)",
            )
            return
        if not isinstance(value, bool):
            yield Problem(
                "",
                "",
                f"condition {condition!r} gives {value!r}, not a boolean (Argo CD hides it)",
                "a boolean condition",
            )
            return
        if not value:
            return
    try:
        url = gotemplate.render(str(link.get("url", "")), data, without=REMOVED_FUNCTIONS)
    except gotemplate.NotModelled as exc:
        yield Problem("", "", f"url template: {exc}: {NOT_EVALUABLE}")
        return
    except gotemplate.TemplateError as exc:
        yield Problem("", "", f"url template fails: {exc}", "a template that renders")
        return
    yield from check_url(url, ui, root, slug, dashboards, models)


def check_url(
    url: str,
    ui: ClusterUi,
    root: Path,
    slug: str,
    dashboards: Mapping[str, Dashboard],
    models: set[str],
) -> Iterator[Problem]:
    """A rendered link: complete, absolute, under one of the cluster's base URLs (or a file of
    this repository), and pointing at something that exists."""
    if gotemplate.NO_VALUE in url or "<nil>" in url:
        yield Problem(
            "",
            "",
            f"renders {url!r}: a field it reads does not exist",
            "fields every object it is shown on has",
        )
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        yield Problem("", "", f"renders {url!r}, not an absolute http(s) URL", "a URL")
        return
    file = github_file(url)
    if file is not None:
        if file[0] != slug:
            yield Problem(
                "",
                "",
                f"links {url}, a file of {file[0]}, not of this repository ({slug})",
                "this repository's file",
            )
        elif not (root / file[1]).is_file():
            yield Problem("", "", f"links {file[1]}, which does not exist", "an existing file")
        return
    service = next(
        (s for s, base in ui.base_urls.items() if url == base or url.startswith(base + "/")),
        None,
    )
    if service is None:
        bases = ", ".join(f"{s} {b}" for s, b in sorted(ui.base_urls.items()))
        yield Problem(
            "",
            "",
            f"renders {url}, under none of the {ui.cluster} cluster's base URLs",
            f"one of {bases} (clusters/{ui.cluster}/settings/settings.env)",
        )
        return
    rest = url[len(ui.base_urls[service]) :]
    if service == "grafana":
        yield from _grafana(rest, dashboards)
    if service == "mlflow":
        yield from _mlflow(rest, models)


def _grafana(rest: str, dashboards: Mapping[str, Dashboard]) -> Iterator[Problem]:
    parts = urlsplit(rest)
    segments = [s for s in parts.path.split("/") if s]
    if segments[:1] != ["d"]:
        return
    uid = segments[1] if len(segments) > 1 else ""
    dashboard = dashboards.get(uid)
    if dashboard is None:
        yield Problem(
            "",
            "",
            f"opens Grafana dashboard {uid!r}, which base/monitoring/dashboards does not have",
            f"one of {sorted(dashboards)}",
        )
        return
    for name in sorted(parse_qs(parts.query)):
        if name.startswith("var-") and name[4:] not in dashboard.variables:
            yield Problem(
                "",
                "",
                f"sets {name}, but dashboard {uid} ({dashboard.file}) has no variable {name[4:]!r}",
                f"one of {sorted(dashboard.variables)}",
            )


def _mlflow(rest: str, models: set[str]) -> Iterator[Problem]:
    # The MLflow UI (3.17.2) routes after '#': /models, /models/<name>, /models?searchInput=.
    fragment = urlsplit(rest).fragment
    segments = [s for s in urlsplit(fragment).path.split("/") if s]
    model = unquote_plus(segments[1]) if len(segments) >= 2 else ""
    if segments[:1] == ["models"] and model and model not in models:
        yield Problem(
            "",
            "",
            f"opens registered model {model!r}, which no tenant's models.yaml declares",
            f"one of {sorted(models)}",
        )
    # The list page searches `name ILIKE '%<text>%'` (MLflow 3.17.2's bundled UI, the models
    # list's search filter): a tenant's name finds all of its models, and a search matching no
    # declared model shows an empty page.
    searches = parse_qs(urlsplit(fragment).query).get("searchInput", [])
    for text in searches:
        if segments == ["models"] and text and not any(text.lower() in m.lower() for m in models):
            yield Problem(
                "",
                "",
                f"searches registered models for {text!r}, which no declared model's name holds",
                f"a tenant's name or part of one of {sorted(models)}",
            )

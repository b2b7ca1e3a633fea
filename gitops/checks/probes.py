"""`probes`: the kubelet's probes and Prometheus's scrapes reach routes the inference service
really serves, on ports its containers declare and it listens on.

The routes come from the service itself: `inference.app.create_app` is built once per run
(offline test settings, a registry factory that refuses, no lifespan, so no model and no
network) and its GET routes are read from `app.routes` (cached in ctx.cache).

For every container running the inference image (last path component `inference-service`,
tag or digest aside), each httpGet startup/liveness/readiness probe must:
- ask for a GET route of the app (the kubelet sends GET; an empty path means "/", per
  SetDefaults_HTTPGetAction; https://kubernetes.io/docs/tasks/configure-pod-container/configure-liveness-readiness-startup-probes/#http-probes),
- name or number a containerPort of that container, and that port must be the one the
  service listens on (PORT from the container's env or envFrom ConfigMaps, else the default
  in inference.settings),
- use scheme HTTP (the service serves no TLS).

Services' targetPorts are crossrefs' job. This check follows each ServiceMonitor end to end
instead: endpoint `port` (a Service port NAME, prometheus-operator API) -> that Service
port's targetPort -> a container port of every pod template the Service selects; and when
that container runs the inference image, the endpoint `path` (default /metrics) must be a
served GET route on the port it listens on. A ServiceMonitor port no selected Service has is
left to crossrefs.

Findings are per cluster (`where` is the Application of the object the finding starts with).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gitops.checks import Context, register
from gitops.tree.app_tree import App, ClusterTree
from gitops.tree.findings import Finding, labels_of, namespace_of, obj_ref
from gitops.tree.selectors import matches, matches_map, pod_template
from gitops.tree.tenant_models import INFERENCE_IMAGES

CHECK = "probes"
PROBES = ("startupProbe", "livenessProbe", "readinessProbe")
CACHE_KEY = "probes.served"
# Enough for inference.settings.Settings.from_env; nothing is contacted (the app never starts).
OFFLINE_ENV = {
    "MODEL_URI": "models:/offline-check@champion",
    "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
}


@dataclass(frozen=True)
class Served:
    """What the service answers: GET route templates (with their regexes) and its port."""

    routes: tuple[tuple[str, re.Pattern[str]], ...]  # (path template, Starlette's regex)
    default_port: int

    def serves(self, path: str) -> bool:
        return any(regex.match(path) for _, regex in self.routes)

    def listing(self) -> str:
        return ", ".join(sorted(path for path, _ in self.routes))


def served_routes() -> Served:
    """Build the service's FastAPI app offline and read its GET routes."""
    from inference.api.app import create_app  # lazy: FastAPI and numpy cost ~1.5 s to import
    from inference.settings import Settings

    settings = Settings.from_env(OFFLINE_ENV)

    def no_registry(uri: str) -> Any:
        raise RuntimeError(f"offline route listing: no registry for {uri}")

    app = create_app(settings, no_registry)
    routes = tuple(
        (str(route.path), route.path_regex)
        for route in app.routes
        if "GET" in (getattr(route, "methods", None) or ()) and hasattr(route, "path_regex")
    )
    return Served(routes, settings.port)


def _served(ctx: Context) -> Served | str:
    if CACHE_KEY not in ctx.cache:
        try:
            ctx.cache[CACHE_KEY] = served_routes()
        except Exception as exc:  # any failure is reported as a finding, not raised
            ctx.cache[CACHE_KEY] = f"{type(exc).__name__}: {exc}"
    result: Served | str = ctx.cache[CACHE_KEY]
    return result


@register(CHECK, "probes and ServiceMonitor scrapes hit GET routes the service serves, on its port")
def check(ctx: Context) -> Iterator[Finding]:
    served = _served(ctx)
    if isinstance(served, str):
        yield Finding(
            CHECK,
            "service/inference/api/app.py",
            "",
            f"cannot build the inference app to read its routes: {served}",
            "inference.api.app importable (PYTHONPATH includes service/) and create_app buildable",
        )
        return
    for tree in ctx.trees:
        configmaps = {
            (namespace_of(o), str(o["metadata"].get("name"))): o
            for o in tree.all_objects()
            if o.get("kind") == "ConfigMap" and isinstance(o.get("metadata"), dict)
        }
        for app in tree.apps:
            for obj in app.objects:
                spec = (pod_template(obj) or {}).get("spec") or {}
                for container in _serving_containers(spec):
                    if is_inference_image(str(container.get("image", ""))):
                        yield from _probes(app, obj, container, served, configmaps)
                if obj.get("kind") == "ServiceMonitor":
                    yield from _service_monitor(app, obj, tree, served, configmaps)


def is_inference_image(image: str) -> bool:
    """`.../inference-service:tag`, `...@sha256:...` or the bare placeholder (or the same of
    the slim image)."""
    name = image.split("@", 1)[0].rsplit("/", 1)[-1]
    return name.split(":", 1)[0] in INFERENCE_IMAGES


def _serving_containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    return [*sidecars, *(spec.get("containers") or [])]


def container_port(container: dict[str, Any], port: Any) -> int | None:
    """The containerPort number `port` (a name or a number) resolves to, if declared."""
    for declared in container.get("ports") or []:
        number = declared.get("containerPort")
        if port == declared.get("name") or str(port) == str(number):
            return int(number)
    return None


def _declared(container: dict[str, Any]) -> str:
    ports = [
        f"{p.get('name', '<unnamed>')} {p.get('containerPort')}"
        for p in container.get("ports") or []
    ]
    return ", ".join(ports) or "none"


def listen_port(
    container: dict[str, Any], namespace: str, configmaps: dict[tuple[str, str], Any], default: int
) -> tuple[int | None, str]:
    """The port the service binds (PORT), and where that value comes from."""
    port: Any = default
    source = "the default of inference.settings"
    for ref in container.get("envFrom") or []:
        name = (ref.get("configMapRef") or {}).get("name")
        data = (configmaps.get((namespace, str(name))) or {}).get("data") or {}
        for key, value in data.items():
            if f"{ref.get('prefix', '')}{key}" == "PORT":
                port, source = value, f"PORT in ConfigMap {namespace}/{name}"
    for env in container.get("env") or []:
        if env.get("name") == "PORT":
            if "value" not in env:
                return None, "PORT from valueFrom (not known offline)"
            port, source = env["value"], "env PORT"
    try:
        return int(str(port)), source
    except ValueError:
        return None, f"{source} {port!r} is not a number"


def _probes(
    app: App,
    workload: dict[str, Any],
    container: dict[str, Any],
    served: Served,
    configmaps: dict[tuple[str, str], Any],
) -> Iterator[Finding]:
    listen, source = listen_port(container, namespace_of(workload), configmaps, served.default_port)
    for probe_name in PROBES:
        action = (container.get(probe_name) or {}).get("httpGet")
        if not isinstance(action, dict):
            continue
        label = f"{obj_ref(workload)}: container {container.get('name')} {probe_name}"
        path = str(action.get("path") or "/")
        if not served.serves(path.split("?", 1)[0]):
            yield Finding(
                CHECK,
                app.where,
                "",
                f"{label} httpGet path {path!r} is not a GET route the service serves",
                f"one of {served.listing()} (inference.api.app)",
            )
        yield from _port(app, label, "httpGet port", action.get("port"), container, listen, source)
        if str(action.get("scheme", "HTTP")).upper() != "HTTP":
            yield Finding(
                CHECK,
                app.where,
                "",
                f"{label} httpGet scheme {action.get('scheme')} but the service serves plain HTTP",
                "scheme HTTP (or none)",
            )


def _port(
    app: App,
    label: str,
    what: str,
    port: Any,
    container: dict[str, Any],
    listen: int | None,
    source: str,
) -> Iterator[Finding]:
    number = container_port(container, port)
    if number is None:
        yield Finding(
            CHECK,
            app.where,
            "",
            f"{label} {what} {port!r} is not a containerPort of container "
            f"{container.get('name')} (it declares: {_declared(container)})",
            "the name or number of a containerPort of that container",
        )
    elif listen is not None and number != listen:
        yield Finding(
            CHECK,
            app.where,
            "",
            f"{label} {what} {port!r} is containerPort {number}, but the service listens on "
            f"{listen} ({source})",
            f"a containerPort equal to PORT ({listen})",
        )


def _service_monitor(
    app: App,
    sm: dict[str, Any],
    tree: ClusterTree,
    served: Served,
    configmaps: dict[tuple[str, str], Any],
) -> Iterator[Finding]:
    spec = sm.get("spec") or {}
    objects = tree.all_objects()
    ns_selector = spec.get("namespaceSelector") or {}
    namespaces = (
        {namespace_of(o) for o in objects}
        if ns_selector.get("any")
        else set(ns_selector.get("matchNames") or [namespace_of(sm)])
    )
    services = [
        o
        for o in objects
        if o.get("kind") == "Service"
        and namespace_of(o) in namespaces
        and matches(spec.get("selector") or {}, labels_of(o))
    ]
    for index, endpoint in enumerate(spec.get("endpoints") or []):
        path = str(endpoint.get("path") or "/metrics")
        head = f"{obj_ref(sm)}: endpoint {index}"
        for service in services:
            for chain, target in _targets(head, endpoint, service):
                for workload in _selected_pods(service, objects):
                    yield from _scrape(app, chain, path, target, workload, served, configmaps)


def _targets(head: str, endpoint: dict[str, Any], service: dict[str, Any]) -> list[tuple[str, Any]]:
    """(description, pod port) pairs an endpoint scrapes through `service`: `port` names a
    Service port (and wins over `targetPort`, as in prometheus-operator's relabelling)."""
    if "port" not in endpoint:
        target = endpoint.get("targetPort")
        return [] if target is None else [(f"{head} targetPort {target!r}", target)]
    pairs = []
    for svc_port in (service.get("spec") or {}).get("ports") or []:
        if svc_port.get("name") == endpoint["port"]:
            target = svc_port.get("targetPort", svc_port.get("port"))
            pairs.append(
                (
                    f"{head} port {endpoint['port']!r} -> {obj_ref(service)} port "
                    f"{svc_port.get('name')!r} targetPort {target!r}",
                    target,
                )
            )
    return pairs  # none: the port name is not on this Service (crossrefs reports it)


def _selected_pods(service: dict[str, Any], objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    selector = (service.get("spec") or {}).get("selector") or {}
    return [
        o
        for o in objects
        if namespace_of(o) == namespace_of(service)
        and pod_template(o) is not None
        and matches_map(selector, labels_of(pod_template(o) or {}))
    ]


def _scrape(
    app: App,
    chain: str,
    path: str,
    target: Any,
    workload: dict[str, Any],
    served: Served,
    configmaps: dict[tuple[str, str], Any],
) -> Iterator[Finding]:
    spec = (pod_template(workload) or {}).get("spec") or {}
    containers = _serving_containers(spec)
    backing = [c for c in containers if container_port(c, target) is not None]
    if not backing:
        ports = "; ".join(f"{c.get('name')}: {_declared(c)}" for c in containers)
        yield Finding(
            CHECK,
            app.where,
            "",
            f"{chain}: no container of {obj_ref(workload)} declares that port ({ports}), "
            "so Prometheus scrapes nothing",
            "a containerPort with that name or number in every pod the Service selects",
        )
        return
    for container in backing:
        if not is_inference_image(str(container.get("image", ""))):
            continue
        label = f"{chain} -> {obj_ref(workload)} container {container.get('name')}"
        if not served.serves(path.split("?", 1)[0]):
            yield Finding(
                CHECK,
                app.where,
                "",
                f"{label}: path {path!r} is not a GET route the service serves",
                f"one of {served.listing()} (inference.api.app; /metrics is the Prometheus one)",
            )
        listen, source = listen_port(
            container, namespace_of(workload), configmaps, served.default_port
        )
        yield from _port(app, label, "scrape port", target, container, listen, source)

"""HTTP API: predict, mlflow-compatible invocations, model info, health, readiness, metrics;
for every model the service serves, under /models/<name>/ and /v2/models/<name>/.

A one-model service also answers /predict, /invocations and /model/info as before; with
several, those answer 404 naming the per-model paths and the served names (the path names no
resource then: which model would answer is the client's choice, not the server's, and a 409
would suggest that retrying later could help).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Container
from contextlib import asynccontextmanager
from typing import Any, NamedTuple

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inference.api import prediction, v2
from inference.api.asgi_io import ClientGone, send_json
from inference.api.json_body import parse_json
from inference.api.model_set import ModelSet, ModelSlot
from inference.api.openapi_doc import request_bodies
from inference.api.prediction import Predictions, Protocol, Reply, error_body
from inference.models.model import ServedModel
from inference.models.registry import Registry
from inference.models.schema import FieldError, InputError
from inference.monitoring.metrics import Metrics
from inference.settings import Settings

log = logging.getLogger("inference.app")

ROUTES = ("/predict", "/invocations", "/model/info", "/health", "/ready", "/metrics", "/docs")
# The routes of one model: /models/{name}/<action>.
MODEL_ACTIONS = ("predict", "invocations", "info")
MODEL_ROUTES = tuple(f"/models/{{name}}/{action}" for action in MODEL_ACTIONS)
V2_ROUTES = (
    "/v2",
    "/v2/health/live",
    "/v2/health/ready",
    "/v2/repository/index",
    "/v2/models/{name}",
    "/v2/models/{name}/ready",
    "/v2/models/{name}/infer",
    "/v2/models/{name}/versions/{version}",
    "/v2/models/{name}/versions/{version}/ready",
    "/v2/models/{name}/versions/{version}/infer",
)
# Routes that name no model but are answered by the sole model of a one-model service.
SOLE_MODEL_ROUTES = ("/predict", "/invocations", "/model/info")


def route_template(path: str) -> str:
    """The route a path is counted under: bounded label values, whatever the client sends."""
    if path in ROUTES:
        return path
    parts = path.split("/")  # "/models/x/predict" -> ["", "models", "x", "predict"]
    if len(parts) == 4 and parts[1] == "models" and parts[2] and parts[3] in MODEL_ACTIONS:
        return f"/models/{{name}}/{parts[3]}"
    if not path.startswith("/v2"):
        return "other"
    parts = path.strip("/").split("/")
    if parts[:2] == ["v2", "models"] and len(parts) >= 3:
        template = ["v2", "models", "{name}"]
        rest = parts[3:]
        if rest[:1] == ["versions"] and len(rest) >= 2:
            template += ["versions", "{version}"]
            rest = rest[2:]
        template += rest
        path = "/" + "/".join(template)
    return path if path in V2_ROUTES else "other"


def model_in_path(path: str) -> str | None:
    """The model name a /models/<name>/... or /v2/models/<name>/... path carries."""
    parts = path.split("/", 4)
    if len(parts) >= 3 and parts[1] == "models":
        return parts[2]
    if len(parts) >= 4 and parts[1] == "v2" and parts[2] == "models":
        return parts[3]
    return None


def route_labels(path: str, served: Container[str], sole: str | None) -> tuple[str, str]:
    """(route, model) a request is counted under. `model` is a served model's name or "":
    a name in the path becomes a label value only when it names a served model, so a client
    inventing names cannot grow the series."""
    route = route_template(path)
    if route in SOLE_MODEL_ROUTES:
        return route, sole or ""
    if route.startswith(("/models/{name}", "/v2/models/{name}")):
        name = model_in_path(path)
        return route, name if name is not None and name in served else ""
    return route, ""


def json_response(
    payload: Any, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = json.dumps(payload, separators=(",", ":"), allow_nan=False).encode()
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_response(
    status: int,
    code: str,
    message: str,
    detail: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    payload: dict[str, Any] = {"error": code, "message": message}
    if detail:
        payload["detail"] = detail
    return json_response(payload, status, headers)


def reply_response(reply: Reply) -> Response:
    """A prediction handler's reply as a Starlette response (for FastAPI's routes)."""
    headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in reply.headers or ()}
    return Response(
        reply.body, status_code=reply.status, media_type="application/json", headers=headers
    )


class RequestCounter:
    """Counts and times requests by route template, model, method and status."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        # labels() hashes and locks on every call; the label sets are few, so keep the children.
        self._children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}

    def count(self, route: str, model: str, method: str, status: int, seconds: float) -> None:
        key = (route, model, method, status)
        children = self._children.get(key)
        if children is None:
            children = (
                self.metrics.requests.labels(route, model, method, str(status)),
                self.metrics.request_duration.labels(route, model, method),
            )
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


class StatusRecorder:
    """An ASGI `send` that remembers the response's status (0 until it starts)."""

    __slots__ = ("send", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 0

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)


class MetricsMiddleware:
    """Counts every request that goes through FastAPI's routing; pure ASGI."""

    def __init__(
        self, app: ASGIApp, counter: RequestCounter, labels: Callable[[str], tuple[str, str]]
    ) -> None:
        self.app = app
        self.counter = counter
        self.labels = labels

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        sent = StatusRecorder(send)
        try:
            await self.app(scope, receive, sent)
        finally:
            elapsed = time.perf_counter() - started
            status = sent.status or 500
            route, model = self.labels(scope["path"])
            self.counter.count(route, model, scope["method"], status, elapsed)


class DirectRoute(NamedTuple):
    """A prediction path answered before FastAPI's stack, with the labels it is counted under."""

    reply: Callable[[Scope, Receive], Awaitable[Reply]]
    route: str
    model: str


# A client that left before its body arrived got no answer; counted under nginx's code for it.
CLIENT_GONE = 499
INTERNAL_ERROR = Reply(500, error_body("internal_error", "the server failed; see its log"))


class InferenceApp(FastAPI):
    """FastAPI, with the prediction routes answered before its middleware stack.

    Starlette's error middleware, FastAPI's telemetry and body-limit middleware, the router and
    Starlette's Request and Response objects cost more than the model call of a 1-row
    prediction, so the prediction endpoints are plain ASGI (prediction.py, asgi_io.py), found
    by their exact path in one dict: every served model's /models/<name>/predict,
    /models/<name>/invocations and /v2/models/<name>/infer are keys of it, so routing by model
    costs one lookup, as one model did. They are still declared as routes (for /docs and the
    OpenAPI schema, and for a name no model has), and an unexpected error still becomes the
    same JSON 500 as elsewhere.
    """

    direct: dict[str, DirectRoute]
    counter: RequestCounter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            found = self.direct.get(scope["path"])
            if found is not None:
                await self._call_direct(found, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _call_direct(
        self, found: DirectRoute, scope: Scope, receive: Receive, send: Send
    ) -> None:
        started = time.perf_counter()
        status = 500
        try:
            try:
                reply = await found.reply(scope, receive)
            except ClientGone:
                status = CLIENT_GONE
                return
            except Exception:
                log.exception("unhandled error")
                reply = INTERNAL_ERROR
            await send_json(send, reply.status, reply.body, reply.headers)
            status = reply.status
        finally:
            self.counter.count(
                found.route, found.model, "POST", status, time.perf_counter() - started
            )


class ReplyResponse(Response):
    """A prediction answered through FastAPI's routing (a path the dispatcher does not take):
    the handler reads the body itself when the response is sent, as on the direct path."""

    def __init__(self, compute: Callable[[Scope, Receive], Awaitable[Reply]]) -> None:
        super().__init__()
        self.compute = compute

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            reply = await self.compute(scope, receive)
        except ClientGone:
            return
        await send_json(send, reply.status, reply.body, reply.headers)


# The repository index request is a few bytes ({"ready": true}); more is not one.
INDEX_REQUEST_MAX_BYTES = 1024


async def read_index_request(request: Request, timeout_seconds: float, max_depth: int) -> bool:
    """`ready` of a repository index request: an empty body or {} is false, {"ready": true}
    keeps only the models ready for inference (Triton's $repository_index_request)."""
    chunks, size = [], 0
    too_big = FieldError("body", "too large", f"at most {INDEX_REQUEST_MAX_BYTES} bytes")
    try:
        async with asyncio.timeout(timeout_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > INDEX_REQUEST_MAX_BYTES:
                    raise InputError([too_big], status_code=413)
                chunks.append(chunk)
    except TimeoutError:
        raise InputError(
            [FieldError("body", "not received in time", f"within {timeout_seconds:g} seconds")],
            status_code=408,
        ) from None
    body = b"".join(chunks)
    payload = parse_json(body, max_depth) if body.strip() else {}
    if not isinstance(payload, dict):
        raise InputError([FieldError("body", "not an object", '{"ready": true|false}')], 400)
    ready = payload.get("ready", False)
    if not isinstance(ready, bool):
        raise InputError([FieldError("body.ready", f"got {ready!r}", "true or false")], 400)
    return ready


def create_app(
    settings: Settings, registry_factory: Callable[[str], Registry] | None = None
) -> FastAPI:
    if registry_factory is None:

        def registry_factory(uri: str) -> Registry:
            return Registry(uri, settings.tracking_username, settings.tracking_password)

    metrics = Metrics()
    models = ModelSet(settings, metrics, registry_factory)
    drift = models.drift
    sole = models.sole
    predictions = Predictions(settings, drift)
    served_list = ", ".join(models.names)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await models.start()
        try:
            yield
        finally:
            await models.stop()

    app = InferenceApp(
        title="Inference service",
        summary=(
            f"Tenant {settings.tenant}: serves {', '.join(str(m.uri) for m in settings.models)} "
            "from the MLflow registry."
        ),
        version="1",
        lifespan=lifespan,
        redoc_url=None,
        # No OpenTelemetry SDK is configured here (metrics are Prometheus); without this,
        # FastAPI asks the global OTel providers on every request whether to trace it.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.models = models
    app.state.metrics = metrics
    direct: dict[str, DirectRoute] = {}
    app.direct = direct
    app.counter = RequestCounter(metrics)
    served_names = frozenset(models.names)
    sole_name = sole.name if sole is not None else None

    def labels(path: str) -> tuple[str, str]:
        return route_labels(path, served_names, sole_name)

    app.add_middleware(MetricsMiddleware, counter=app.counter, labels=labels)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "the server failed; see its log")

    def not_served(name: str) -> Response:
        return error_response(
            404, "not_found", f"model {name!r} is not served here; served: {served_list or 'none'}"
        )

    def model_required(path: str) -> Response:
        action = path.rsplit("/", 1)[-1]
        if not models.names:  # every model of the tenant has a Deployment of its own
            return error_response(404, "not_found", "this Deployment serves no model")
        return error_response(
            404,
            "model_required",
            f"this service serves {len(models.names)} models ({served_list}): "
            f"use /models/{{name}}/{action}",
        )

    def not_ready(slot: ModelSlot) -> Response:
        return reply_response(prediction.not_ready(slot))

    def answering(
        protocol: Protocol, slot: ModelSlot | None, path: str
    ) -> Callable[[Scope, Receive], Awaitable[Reply]]:
        """The handler of `path` for `slot`'s model (None: the one-model path of a service
        serving several, answered without reading the body)."""
        if slot is None:
            refusal = model_required(path)
            found = Reply(refusal.status_code, bytes(refusal.body))

            async def refuse(_: Scope, __: Receive) -> Reply:
                return found

            return refuse

        async def reply(scope: Scope, receive: Receive) -> Reply:
            return await predictions.reply(protocol, slot, scope, receive)

        return reply

    def delegated(protocol: Protocol, name: str) -> Response:
        slot = models.get(name)
        if slot is None:
            return not_served(name)
        return ReplyResponse(answering(protocol, slot, ""))

    @app.post(
        "/predict", summary="Predict from records or rows (one-model service)", tags=["predict"]
    )
    async def predict() -> Response:
        return ReplyResponse(answering(prediction.PREDICT, sole, "/predict"))

    @app.post(
        "/invocations",
        summary="mlflow models serve compatible scoring (one-model service)",
        tags=["predict"],
    )
    async def invocations() -> Response:
        return ReplyResponse(answering(prediction.INVOCATIONS, sole, "/invocations"))

    @app.post("/models/{name}/predict", summary="Predict with the named model", tags=["predict"])
    async def model_predict(name: str) -> Response:
        return delegated(prediction.PREDICT, name)

    @app.post(
        "/models/{name}/invocations",
        summary="mlflow models serve compatible scoring with the named model",
        tags=["predict"],
    )
    async def model_invocations(name: str) -> Response:
        return delegated(prediction.INVOCATIONS, name)

    def v2_model(name: str, version: str | None = None) -> tuple[ModelSlot, ServedModel] | Response:
        """The served model if the path names it, else the protocol's answer."""
        slot = models.get(name)
        if slot is None:
            return not_served(name)
        model = slot.holder.current
        if model is None:
            return not_ready(slot)
        if version is not None and version != model.version:
            return error_response(
                404,
                "not_found",
                f"{name} version {version!r} is not served (serving {model.version})",
            )
        return slot, model

    @app.post("/v2/models/{name}/infer", summary="Open Inference Protocol: infer", tags=["v2"])
    async def v2_infer_latest(name: str) -> Response:
        return delegated(prediction.V2_INFER, name)

    @app.post(
        "/v2/models/{name}/versions/{version}/infer",
        summary="Open Inference Protocol: infer with a given version",
        tags=["v2"],
    )
    async def v2_infer_version(name: str, version: str) -> Response:
        found = v2_model(name, version)
        if isinstance(found, Response):
            return found
        slot, model = found

        async def reply(scope: Scope, receive: Receive) -> Reply:
            # A request that names a version gets that version, never a candidate.
            return await predictions.reply(
                prediction.V2_INFER, slot, scope, receive, model=model, routable=False
            )

        return ReplyResponse(reply)

    # Answered before FastAPI's stack (InferenceApp), each counted under its route template.
    sole_label = sole.name if sole is not None else ""
    direct["/predict"] = DirectRoute(
        answering(prediction.PREDICT, sole, "/predict"), "/predict", sole_label
    )
    direct["/invocations"] = DirectRoute(
        answering(prediction.INVOCATIONS, sole, "/invocations"), "/invocations", sole_label
    )
    for slot in models:
        direct[f"/models/{slot.name}/predict"] = DirectRoute(
            answering(prediction.PREDICT, slot, ""), "/models/{name}/predict", slot.name
        )
        direct[f"/models/{slot.name}/invocations"] = DirectRoute(
            answering(prediction.INVOCATIONS, slot, ""), "/models/{name}/invocations", slot.name
        )
        direct[f"/v2/models/{slot.name}/infer"] = DirectRoute(
            answering(prediction.V2_INFER, slot, ""), "/v2/models/{name}/infer", slot.name
        )

    @app.get("/v2", summary="Open Inference Protocol: server metadata", tags=["v2"])
    async def v2_server() -> Response:
        # Only the repository extension's index is served (loading and unloading a model is a
        # change in git), so the extension itself is not claimed.
        return json_response({"name": "inference-service", "version": "1", "extensions": []})

    @app.get("/v2/health/live", summary="Open Inference Protocol: liveness", tags=["v2"])
    async def v2_live() -> Response:
        return json_response({"live": True})

    @app.get(
        "/v2/health/ready",
        summary="Open Inference Protocol: readiness (every served model loaded)",
        tags=["v2"],
    )
    async def v2_ready() -> Response:
        ready = models.ready
        return json_response({"ready": ready}, 200 if ready else 503)

    @app.post(
        "/v2/repository/index",
        summary="Model repository extension: every served model and its state",
        tags=["v2"],
    )
    async def v2_repository_index(request: Request) -> Response:
        try:
            only_ready = await read_index_request(
                request, settings.request_body_timeout_seconds, settings.max_json_depth
            )
        except InputError as exc:
            return error_response(
                exc.status_code,
                "invalid_input",
                "invalid repository index request",
                [e.as_dict() for e in exc.errors],
            )
        items = [slot.index_item() for slot in models]
        return json_response([i for i in items if i["state"] == "READY" or not only_ready])

    @app.get("/v2/models/{name}", summary="Open Inference Protocol: model metadata", tags=["v2"])
    async def v2_metadata(name: str) -> Response:
        found = v2_model(name)
        return found if isinstance(found, Response) else json_response(v2.metadata(found[1]))

    @app.get("/v2/models/{name}/versions/{version}", summary="Model metadata", tags=["v2"])
    async def v2_version_metadata(name: str, version: str) -> Response:
        found = v2_model(name, version)
        return found if isinstance(found, Response) else json_response(v2.metadata(found[1]))

    @app.get("/v2/models/{name}/ready", summary="Open Inference Protocol: model ready", tags=["v2"])
    async def v2_model_ready(name: str) -> Response:
        found = v2_model(name)
        return (
            found if isinstance(found, Response) else json_response({"name": name, "ready": True})
        )

    @app.get("/v2/models/{name}/versions/{version}/ready", summary="Model ready", tags=["v2"])
    async def v2_version_ready(name: str, version: str) -> Response:
        found = v2_model(name, version)
        return (
            found if isinstance(found, Response) else json_response({"name": name, "ready": True})
        )

    def info(slot: ModelSlot) -> Response:
        model = slot.holder.current
        if model is None:
            return not_ready(slot)
        spec, refused = slot.spec, slot.holder.refused
        return json_response(
            {
                "tenant": settings.tenant,
                "model_uri": spec.uri.uri,
                "reload_interval_seconds": settings.reload_interval_seconds,
                "last_check": slot.holder.last_check,
                "last_error": slot.holder.last_error,
                **model.describe(),
                "resources": {
                    "class": spec.entry.resources,
                    "class_bytes": spec.memory_bytes,
                    "measured_bytes": model.memory_bytes,
                    "refused": refused.describe() if refused else None,
                },
                "deployment": spec.entry.deployment,
                **({"rollout": slot.rollout.describe()} if slot.rollout is not None else {}),
                "drift": drift.info(model),
            }
        )

    @app.get("/model/info", summary="The version being served (one-model service)", tags=["model"])
    async def model_info() -> Response:
        if sole is None:
            return model_required("/info")
        return info(sole)

    @app.get("/models/{name}/info", summary="The version of the named model", tags=["model"])
    async def named_model_info(name: str) -> Response:
        slot = models.get(name)
        return not_served(name) if slot is None else info(slot)

    @app.get("/health", summary="Liveness: the process serves HTTP", tags=["probes"])
    async def health() -> Response:
        return json_response({"status": "ok"})

    @app.get("/ready", summary="Readiness: every served model is loaded", tags=["probes"])
    async def ready() -> Response:
        states = [slot.index_item() for slot in models]
        body: dict[str, Any] = {"status": "ready" if models.ready else "loading", "models": states}
        if sole is not None:  # as a one-model service has always answered
            model = sole.holder.current
            if model is None:
                body.update(model_uri=sole.spec.uri.uri, last_error=sole.holder.last_error)
            else:
                body.update(name=model.name, version=model.version)
        return json_response(body, 200 if models.ready else 503)

    @app.get("/metrics", summary="Prometheus metrics", tags=["probes"])
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        # Rebuilt per call: the request schema follows whichever version is served now. With
        # several models one path serves them all, so its body is the generic one.
        doc = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        model = sole.holder.current if sole is not None else None
        bodies = request_bodies(model.schema if model else None, several=sole is None)
        for path, body in bodies.items():
            doc["paths"][path]["post"]["requestBody"] = body
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
    return app

"""HTTP API: predict, mlflow-compatible invocations, model info, health, readiness, metrics."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import Counter as Tally
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from inference.api import v2
from inference.api.json_body import parse_json
from inference.api.openapi_doc import request_bodies
from inference.api.payloads import rows_for_invocations, rows_for_predict
from inference.models.model import ServedModel
from inference.models.registry import Registry
from inference.models.schema import FieldError, InputError, InputSchema
from inference.monitoring.drift import DriftMonitor
from inference.monitoring.metrics import Metrics
from inference.rollout.candidate import Rollout
from inference.serving.batching import Overloaded, Predictor, make_predictor
from inference.serving.swap import ModelHolder, Reloader
from inference.settings import Settings

log = logging.getLogger("inference.app")

ROUTES = ("/predict", "/invocations", "/model/info", "/health", "/ready", "/metrics", "/docs")
V2_ROUTES = (
    "/v2",
    "/v2/health/live",
    "/v2/health/ready",
    "/v2/models/{name}",
    "/v2/models/{name}/ready",
    "/v2/models/{name}/infer",
    "/v2/models/{name}/versions/{version}",
    "/v2/models/{name}/versions/{version}/ready",
    "/v2/models/{name}/versions/{version}/infer",
)


def route_template(path: str) -> str:
    """The route a path is counted under: bounded label values, whatever the client sends."""
    if path in ROUTES:
        return path
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


RETRY_AFTER_SECONDS = "1"


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


class RequestCounter:
    """Counts and times requests by route template, method and status."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics
        # labels() hashes and locks on every call; the label sets are few, so keep the children.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def count(self, route: str, method: str, status: int, seconds: float) -> None:
        children = self._children.get((route, method, status))
        if children is None:
            children = (
                self.metrics.requests.labels(route=route, method=method, status=str(status)),
                self.metrics.request_duration.labels(route=route, method=method),
            )
            self._children[(route, method, status)] = children
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

    def __init__(self, app: ASGIApp, counter: RequestCounter) -> None:
        self.app = app
        self.counter = counter

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
            self.counter.count(route_template(scope["path"]), scope["method"], status, elapsed)


class InferenceApp(FastAPI):
    """FastAPI, with the prediction routes answered before its middleware stack.

    Starlette's error middleware, FastAPI's telemetry and body-limit middleware and the router
    cost about a fifth of the CPU of a 1-row prediction; the prediction endpoints parse and
    bound their bodies themselves, so they are called directly. They are still declared as
    routes (for /docs and the OpenAPI schema), and an unexpected error still becomes the same
    JSON 500 as elsewhere.
    """

    direct: dict[str, Callable[[Request], Awaitable[Response]]]
    counter: RequestCounter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = self.direct.get(scope["path"])
            if endpoint is not None:
                await self._call_direct(endpoint, scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _call_direct(
        self,
        endpoint: Callable[[Request], Awaitable[Response]],
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        started = time.perf_counter()
        sent = StatusRecorder(send)
        try:
            response = await endpoint(Request(scope, receive))
            await response(scope, receive, sent)
        except Exception:
            log.exception("unhandled error")
            if sent.status == 0:  # nothing sent yet: answer as the exception handler does
                failed = error_response(500, "internal_error", "the server failed; see its log")
                await failed(scope, receive, sent)
            sent.status = 500
        finally:
            self.counter.count(
                route_template(scope["path"]),
                "POST",
                sent.status or 500,
                time.perf_counter() - started,
            )


async def read_json_body(
    request: Request, max_bytes: int, timeout_seconds: float, max_depth: int
) -> Any:
    content_type = request.headers.get("content-type", "")
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type != "application/json":
        raise InputError(
            [FieldError("content-type", f"got {media_type or 'none'!r}", "application/json")],
            status_code=415,
        )
    declared = request.headers.get("content-length")
    too_big = FieldError("body", "request body too large", f"at most {max_bytes} bytes")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise InputError([too_big], status_code=413)
    chunks, size = [], 0
    # uvicorn (h11) has no body read timeout: a client trickling bytes would hold its
    # connection and request slot forever.
    try:
        async with asyncio.timeout(timeout_seconds):
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise InputError([too_big], status_code=413)
                chunks.append(chunk)
    except TimeoutError:
        raise InputError(
            [FieldError("body", "not received in time", f"within {timeout_seconds:g} seconds")],
            status_code=408,
        ) from None
    return parse_json(b"".join(chunks), max_depth)


def create_app(
    settings: Settings, registry_factory: Callable[[str], Registry] | None = None
) -> FastAPI:
    if registry_factory is None:

        def registry_factory(uri: str) -> Registry:
            return Registry(uri, settings.tracking_username, settings.tracking_password)

    metrics = Metrics()
    holder = ModelHolder()
    # Rows per feature bin and predicted class of the served version, exported with the rest.
    drift = DriftMonitor(
        settings.drift_enabled,
        settings.drift_max_features,
        settings.drift_max_bins,
        lambda: (holder.current,),
    )
    metrics.registry.register(drift)
    reloader = Reloader(settings, metrics, holder, registry_factory)
    predictor: Predictor = make_predictor(
        metrics,
        settings.batch_enabled,
        settings.batch_max_rows,
        settings.batch_max_wait_seconds,
        settings.queue_max_requests,
    )
    # Only for a tenant whose rollout policy is mounted (docs/rollouts.md).
    rollout = (
        Rollout(settings, settings.rollout, metrics, holder, predictor, registry_factory)
        if settings.rollout is not None
        else None
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await predictor.start()
        task = asyncio.create_task(reloader.run(), name="reloader")
        if rollout is not None:
            await rollout.start()
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            if rollout is not None:
                await rollout.stop()
            await predictor.stop()

    app = InferenceApp(
        title="Inference service",
        summary=f"Tenant {settings.tenant}: serves {settings.model.uri} from the MLflow registry.",
        version="1",
        lifespan=lifespan,
        redoc_url=None,
        # No OpenTelemetry SDK is configured here (metrics are Prometheus); without this,
        # FastAPI asks the global OTel providers on every request whether to trace it.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.holder = holder
    app.state.metrics = metrics
    app.state.reloader = reloader
    app.state.rollout = rollout
    direct: dict[str, Callable[[Request], Awaitable[Response]]] = {}
    app.direct = direct
    app.counter = RequestCounter(metrics)
    app.add_middleware(MetricsMiddleware, counter=app.counter)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "the server failed; see its log")

    class_counters: dict[Any, Any] = {}  # predicted class -> its counter child

    def not_ready() -> Response:
        return error_response(
            503,
            "model_not_loaded",
            f"no model loaded yet for {settings.model.uri}",
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )

    def cannot_score(reason: str) -> Response:
        return error_response(
            422,
            "invalid_input",
            "the model cannot score these values",
            [{"field": "body", "message": reason[:200], "expected": "values the model can score"}],
        )

    async def serve(
        request: Request,
        to_rows: Callable[[Any, InputSchema, int], list[list[Any]]],
        shape: Callable[[ServedModel, Any, Any], dict[str, Any]],
        model: ServedModel | None = None,
        routable: bool = True,
    ) -> Response:
        model = model or holder.current  # read once: this request finishes on this version
        if model is None:
            return not_ready()
        output_names: list[str] | None = None
        try:
            payload = await read_json_body(
                request,
                settings.max_body_bytes,
                settings.request_body_timeout_seconds,
                settings.max_json_depth,
            )
            rows = to_rows(payload, model.schema, settings.max_rows_per_request)
            output_names = (
                v2.requested_outputs(payload, model.has_proba)
                if to_rows is v2.rows_from_request
                else None
            )
        except InputError as exc:
            message = "invalid request" if exc.status_code == 422 else exc.errors[0].message
            if output_names is None and to_rows is v2.rows_from_request:
                message = "invalid inference request"
            # The rest of a body too big or too slow is not worth reading: end the connection,
            # or uvicorn keeps it open to drain whatever the client still sends.
            close = {"Connection": "close"} if exc.status_code in (408, 413) else None
            return error_response(
                exc.status_code,
                "invalid_input",
                message,
                [e.as_dict() for e in exc.errors],
                headers=close,
            )
        metrics.request_rows.observe(len(rows))
        headers = None
        try:
            if rollout is not None and rollout.active and routable:
                # The version that answers may be the candidate: the response says which.
                model, prediction = await rollout.predict(model, rows, request.headers)
                headers = rollout.headers(model)
            else:
                prediction = await predictor.predict(model, rows)
        except Overloaded:
            return error_response(
                503,
                "overloaded",
                "too many requests queued; retry later",
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            )
        except ValueError as exc:
            # The rows passed the schema, and the version passed its self-check, so a value
            # error is about these values (e.g. finite numbers that overflow a scaler to inf).
            return cannot_score(str(exc).strip().splitlines()[0] if str(exc).strip() else "")
        labels = prediction.labels
        # Counter() costs more than the model call for the common 1-row request.
        tally = {labels[0]: 1} if len(labels) == 1 else Tally(labels)
        for label, count in tally.items():
            counter = class_counters.get(label)
            if counter is None:
                counter = class_counters[label] = metrics.predictions.labels(str(label))
            counter.inc(count)
        drift.observe(model, rows, prediction.labels)
        try:
            return json_response(shape(model, prediction, output_names or payload), headers=headers)
        except ValueError:  # NaN/inf in the output: huge finite inputs can overflow inside
            return cannot_score("the model returned non-finite values")

    @app.post("/predict", summary="Predict from records or rows", tags=["predict"])
    async def predict(request: Request) -> Response:
        def shape(model: ServedModel, prediction: Any, _: Any) -> dict[str, Any]:
            body: dict[str, Any] = {
                "model": {"name": model.name, "version": model.version, "alias": model.alias},
                "predictions": prediction.labels,
            }
            if prediction.probabilities is not None:
                body["classes"] = model.classes
                body["probabilities"] = prediction.probabilities
            return body

        return await serve(request, rows_for_predict, shape)

    @app.post("/invocations", summary="mlflow models serve compatible scoring", tags=["predict"])
    async def invocations(request: Request) -> Response:
        return await serve(
            request,
            rows_for_invocations,
            lambda _, prediction, __: {"predictions": prediction.labels},
        )

    def v2_model(name: str, version: str | None = None) -> ServedModel | Response:
        """The served model if the path names it, else the protocol's answer."""
        model = holder.current
        if name != settings.model.name:
            return error_response(404, "not_found", f"model {name!r} is not served here")
        if model is None:
            return not_ready()
        if version is not None and version != model.version:
            return error_response(
                404,
                "not_found",
                f"{name} version {version!r} is not served (serving {model.version})",
            )
        return model

    async def v2_infer(request: Request, name: str, version: str | None = None) -> Response:
        found = v2_model(name, version)
        if isinstance(found, Response):
            return found

        def shape(model: ServedModel, prediction: Any, outputs: Any) -> dict[str, Any]:
            return v2.response(model, prediction, outputs, request.headers.get("x-request-id"))

        # A request that names a version gets that version, never a candidate.
        return await serve(
            request, v2.rows_from_request, shape, model=found, routable=version is None
        )

    @app.post("/v2/models/{name}/infer", summary="Open Inference Protocol: infer", tags=["v2"])
    async def v2_infer_latest(request: Request, name: str) -> Response:
        return await v2_infer(request, name)

    @app.post(
        "/v2/models/{name}/versions/{version}/infer",
        summary="Open Inference Protocol: infer with a given version",
        tags=["v2"],
    )
    async def v2_infer_version(request: Request, name: str, version: str) -> Response:
        return await v2_infer(request, name, version)

    async def v2_infer_served(request: Request) -> Response:
        return await v2_infer(request, settings.model.name)

    # Still declared as routes above, for /docs and for anything that mounts the router.
    direct.update(
        {
            "/predict": predict,
            "/invocations": invocations,
            f"/v2/models/{settings.model.name}/infer": v2_infer_served,
        }
    )

    @app.get("/v2", summary="Open Inference Protocol: server metadata", tags=["v2"])
    async def v2_server() -> Response:
        return json_response({"name": "inference-service", "version": "1", "extensions": []})

    @app.get("/v2/health/live", summary="Open Inference Protocol: liveness", tags=["v2"])
    async def v2_live() -> Response:
        return json_response({"live": True})

    @app.get("/v2/health/ready", summary="Open Inference Protocol: readiness", tags=["v2"])
    async def v2_ready() -> Response:
        ready = holder.current is not None
        return json_response({"ready": ready}, 200 if ready else 503)

    @app.get("/v2/models/{name}", summary="Open Inference Protocol: model metadata", tags=["v2"])
    async def v2_metadata(name: str) -> Response:
        found = v2_model(name)
        return found if isinstance(found, Response) else json_response(v2.metadata(found))

    @app.get("/v2/models/{name}/versions/{version}", summary="Model metadata", tags=["v2"])
    async def v2_version_metadata(name: str, version: str) -> Response:
        found = v2_model(name, version)
        return found if isinstance(found, Response) else json_response(v2.metadata(found))

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

    @app.get("/model/info", summary="The model version being served", tags=["model"])
    async def model_info() -> Response:
        model = holder.current
        if model is None:
            return not_ready()
        return json_response(
            {
                "tenant": settings.tenant,
                "model_uri": settings.model.uri,
                "reload_interval_seconds": settings.reload_interval_seconds,
                "last_check": holder.last_check,
                "last_error": holder.last_error,
                **model.describe(),
                **({"rollout": rollout.describe()} if rollout is not None else {}),
                "drift": drift.info(model),
            }
        )

    @app.get("/health", summary="Liveness: the process serves HTTP", tags=["probes"])
    async def health() -> Response:
        return json_response({"status": "ok"})

    @app.get("/ready", summary="Readiness: a model is loaded", tags=["probes"])
    async def ready() -> Response:
        model = holder.current
        if model is None:
            return json_response(
                {
                    "status": "loading",
                    "model_uri": settings.model.uri,
                    "last_error": holder.last_error,
                },
                503,
            )
        return json_response({"status": "ready", "name": model.name, "version": model.version})

    @app.get("/metrics", summary="Prometheus metrics", tags=["probes"])
    async def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def openapi() -> dict[str, Any]:
        # Rebuilt per call: the request schema follows whichever version is served now.
        doc = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        model = holder.current
        bodies = request_bodies(model.schema if model else None)
        for path, body in bodies.items():
            doc["paths"][path]["post"]["requestBody"] = body
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
    return app

"""The prediction paths in plain ASGI: /predict, /invocations and v2 infer, for every model.

One request: its body read within the limits (asgi_io), parsed (json_body), turned into rows
the model's schema accepts (payloads, v2), the model called (or the rollout's candidate), the
metrics and drift counted, the answer encoded; every mistake a 4xx naming the field. What a
request to each path reads and answers is a `Protocol`.

FastAPI declares these routes too (for the OpenAPI document, and for the paths the dispatcher
in app.py does not answer directly), and answers them with the same handler.
"""

from __future__ import annotations

import math
from collections import Counter as Tally
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.types import Receive, Scope

from inference.api import v2
from inference.api.asgi_io import BodyDeadlines, header, header_map, read_body
from inference.api.json_body import encode_json, parse_json
from inference.api.model_set import ModelSlot
from inference.api.payloads import rows_for_invocations, rows_for_predict
from inference.models.model import Prediction, ServedModel
from inference.models.schema import InputError, InputSchema
from inference.monitoring.drift import DriftMonitor
from inference.serving.batching import Overloaded
from inference.settings import Settings

RETRY_AFTER_SECONDS = "1"


def error_body(code: str, message: str, detail: list[dict[str, str]] | None = None) -> bytes:
    """Every error's body: {"error", "message", "detail"?}."""
    payload: dict[str, Any] = {"error": code, "message": message}
    if detail:
        payload["detail"] = detail
    return encode_json(payload)


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]] | None = None


def _finite(values: list[Any]) -> bool:
    """No NaN or infinity among `values` (numbers): the sum is NaN or infinite when one is,
    and a finite sum proves none is; an overflowing sum is settled one value at a time."""
    return math.isfinite(sum(values)) or all(map(math.isfinite, values))


def _answer_is_finite(prediction: Prediction) -> bool:
    """JSON has no NaN or infinity: huge finite inputs can overflow inside a model."""
    labels = prediction.labels
    if labels and type(labels[0]) is float and not _finite(labels):
        return False
    probabilities = prediction.probabilities
    return probabilities is None or all(_finite(row) for row in probabilities)


@dataclass(frozen=True)
class Protocol:
    """What one kind of prediction request reads and answers.

    rows: the body's rows in signature order, validated against the schema.
    outputs: the outputs the body asks for (v2; the other protocols have none).
    answer: the response payload from the version that answered, its prediction, those outputs
    and the request's scope.
    invalid: the message of every refusal of this protocol's bodies (None: "invalid request"
    for a 422, the error's own message otherwise).
    """

    rows: Callable[[Any, InputSchema, int], list[list[Any]]]
    outputs: Callable[[Any, ServedModel], Any]
    answer: Callable[[ServedModel, Prediction, Any, Scope], dict[str, Any]]
    invalid: str | None = None


def _predict_answer(
    model: ServedModel, prediction: Prediction, _: Any, __: Scope
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "model": {"name": model.name, "version": model.version, "alias": model.alias},
        "predictions": prediction.labels,
    }
    if prediction.probabilities is not None:
        body["classes"] = model.classes
        body["probabilities"] = prediction.probabilities
    return body


def _invocations_answer(
    _: ServedModel, prediction: Prediction, __: Any, ___: Scope
) -> dict[str, Any]:
    return {"predictions": prediction.labels}


def _v2_answer(
    model: ServedModel, prediction: Prediction, outputs: Any, scope: Scope
) -> dict[str, Any]:
    request_id = header(scope, b"x-request-id")
    return v2.response(
        model, prediction, outputs, request_id.decode("latin-1") if request_id else None
    )


def _nothing(_: Any, __: ServedModel) -> None:
    return None


PREDICT = Protocol(rows_for_predict, _nothing, _predict_answer)
INVOCATIONS = Protocol(rows_for_invocations, _nothing, _invocations_answer)
V2_INFER = Protocol(
    v2.rows_from_request,
    lambda payload, model: v2.requested_outputs(payload, model.has_proba),
    _v2_answer,
    invalid="invalid inference request",
)


class Predictions:
    """Answers prediction requests for the served models."""

    def __init__(self, settings: Settings, drift: DriftMonitor) -> None:
        self.max_body_bytes = settings.max_body_bytes
        self.max_json_depth = settings.max_json_depth
        self.max_rows = settings.max_rows_per_request
        self.deadlines = BodyDeadlines(settings.request_body_timeout_seconds)
        self.drift = drift

    async def reply(
        self,
        protocol: Protocol,
        slot: ModelSlot,
        scope: Scope,
        receive: Receive,
        model: ServedModel | None = None,
        routable: bool = True,
    ) -> Reply:
        model = model or slot.holder.current  # read once: this request ends on this version
        if model is None:
            return not_ready(slot)
        try:
            body = await read_body(scope, receive, self.max_body_bytes, self.deadlines)
            payload = parse_json(body, self.max_json_depth)
            rows = protocol.rows(payload, model.schema, self.max_rows)
            outputs = protocol.outputs(payload, model)
        except InputError as exc:
            message = protocol.invalid or (
                "invalid request" if exc.status_code == 422 else exc.errors[0].message
            )
            # The rest of a body too big or too slow is not worth reading: end the connection,
            # or uvicorn keeps it open to drain whatever the client still sends.
            close = [(b"connection", b"close")] if exc.status_code in (408, 413) else None
            detail = [e.as_dict() for e in exc.errors]
            return Reply(exc.status_code, error_body("invalid_input", message, detail), close)
        slot.metrics.request_rows.observe(len(rows))
        headers = None
        rollout = slot.rollout
        try:
            if rollout is not None and rollout.active and routable:
                # The version that answers may be the candidate: the response says which.
                model, prediction = await rollout.predict(model, rows, header_map(scope))
                headers = [
                    (k.lower().encode("latin-1"), v.encode("latin-1"))
                    for k, v in rollout.headers(model).items()
                ]
            else:
                prediction = await slot.predictor.predict(model, rows)
        except Overloaded:
            return Reply(
                503,
                error_body("overloaded", "too many requests queued; retry later"),
                [(b"retry-after", RETRY_AFTER_SECONDS.encode())],
            )
        except ValueError as exc:
            # The rows passed the schema, and the version passed its self-check, so a value
            # error is about these values (e.g. finite numbers that overflow a scaler to inf).
            reason = str(exc).strip()
            return cannot_score(reason.splitlines()[0] if reason else "")
        labels = prediction.labels
        # Counter() costs more than the model call for the common 1-row request.
        tally = {labels[0]: 1} if len(labels) == 1 else Tally(labels)
        for label, count in tally.items():
            slot.metrics.predicted(label, count)
        self.drift.observe(model, rows, labels)
        if not _answer_is_finite(prediction):
            return cannot_score("the model returned non-finite values")
        return Reply(200, encode_json(protocol.answer(model, prediction, outputs, scope)), headers)


def not_ready(slot: ModelSlot) -> Reply:
    error = slot.holder.last_error
    message = f"no version of {slot.name} loaded yet ({slot.spec.uri})" + (
        f"; last error: {error}" if error else ""
    )
    return Reply(
        503,
        error_body("model_not_loaded", message),
        [(b"retry-after", RETRY_AFTER_SECONDS.encode())],
    )


def cannot_score(reason: str) -> Reply:
    return Reply(
        422,
        error_body(
            "invalid_input",
            "the model cannot score these values",
            [{"field": "body", "message": reason[:200], "expected": "values the model can score"}],
        ),
    )

"""inference.api.app in process: the prediction routes answered before FastAPI's middleware stack
still count every request and turn an unexpected error into the service's JSON 500."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest

from inference.api.app import create_app, route_template
from inference.models.model import Prediction, ServedModel
from inference.models.schema import InputSchema
from inference.settings import Settings


class FakeModel(ServedModel):
    runtime = "fake"
    fail_with: Exception | None = None

    def predict(self, rows: list[list[Any]]) -> Prediction:
        if self.fail_with is not None:
            raise self.fail_with
        return Prediction(["setosa" for _ in rows], None)

    def _check(self) -> None:
        return None


def _app(tmp_path: Path, model: ServedModel) -> Any:
    settings = Settings.from_env(
        {
            "MODEL_URI": "models:/iris@staging",
            "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
            "MODEL_CACHE_DIR": str(tmp_path),
        }
    )
    app = create_app(settings)
    app.state.models.get("iris").holder.current = model
    return app


def _model(fail_with: Exception | None = None) -> FakeModel:
    schema = InputSchema.from_signature_inputs([{"name": "x", "type": "double"}])
    model = FakeModel("iris", "3", "staging", schema, [[1.0]], call_seconds=1e-5)
    model.fail_with = fail_with
    return model


async def _calls(app: Any, *requests: tuple[str, str, Any]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return [
            await client.request(
                m,
                path,
                **(
                    {"content": body, "headers": {"content-type": "application/json"}}
                    if isinstance(body, bytes)
                    else {"json": body}
                ),
            )
            for m, path, body in requests
        ]


def _count(metrics_text: str, route: str, status: int, model: str = "iris") -> float:
    prefix = (
        f'inference_http_requests_total{{method="POST",model="{model}",route="{route}",'
        f'status="{status}"}}'
    )
    lines = [line for line in metrics_text.splitlines() if line.startswith(prefix)]
    return float(lines[0].split()[-1]) if lines else 0.0


def test_direct_routes_answer_and_are_counted(tmp_path: Path) -> None:
    app = _app(tmp_path, _model())
    v2 = {"inputs": [{"name": "x", "shape": [1], "datatype": "FP64", "data": [1.0]}]}
    ok, invoked, inferred, info, metrics = asyncio.run(
        _calls(
            app,
            ("POST", "/predict", [{"x": 1.0}]),
            ("POST", "/invocations", {"instances": [{"x": 1.0}]}),
            ("POST", "/v2/models/iris/infer", v2),
            ("GET", "/model/info", None),
            ("GET", "/metrics", None),
        )
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["predictions"] == ["setosa"]
    assert invoked.status_code == 200, invoked.text
    assert inferred.status_code == 200, inferred.text
    assert info.json()["version"] == "3"
    for route in ("/predict", "/invocations", "/v2/models/{name}/infer"):
        assert _count(metrics.text, route, 200) == 1, route
    assert 'model="iris",route="/model/info",status="200"' in metrics.text  # through FastAPI


@pytest.mark.parametrize("path", ["/predict", "/invocations"])
def test_an_unexpected_error_is_the_json_500_and_is_counted(tmp_path: Path, path: str) -> None:
    app = _app(tmp_path, _model(fail_with=RuntimeError("boom")))
    body = [{"x": 1.0}] if path == "/predict" else {"instances": [{"x": 1.0}]}
    failed, metrics = asyncio.run(_calls(app, ("POST", path, body), ("GET", "/metrics", None)))
    assert failed.status_code == 500
    assert failed.json() == {"error": "internal_error", "message": "the server failed; see its log"}
    assert "boom" not in failed.text  # details stay in the log
    assert _count(metrics.text, route_template(path), 500) == 1


def test_other_post_paths_still_go_through_fastapi(tmp_path: Path) -> None:
    app = _app(tmp_path, _model())
    (missing,) = asyncio.run(_calls(app, ("POST", "/v2/models/other/infer", {"inputs": []})))
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"


PREDICTION_ROUTES = {
    "/predict": b'[{"x": 1.0, "x": 2.0}]',
    "/invocations": b'{"instances": [{"x": 1.0, "x": 2.0}]}',
    "/v2/models/iris/infer": b'{"inputs": [{"name": "x", "name": "x", "shape": [1],'
    b' "datatype": "FP64", "data": [1.0]}]}',
    "/v2/models/iris/versions/3/infer": b'{"inputs": [], "inputs": []}',
}


@pytest.mark.parametrize("path", sorted(PREDICTION_ROUTES))
def test_every_prediction_route_refuses_depth_and_repeated_keys_without_a_traceback(
    tmp_path: Path, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The direct routes and the one FastAPI routes (a version's infer) parse alike: 400s
    naming the body, nothing logged, and the model never called."""
    app = _app(tmp_path, _model(fail_with=AssertionError("the model was called")))
    deep = b"[" * 5000 + b"]" * 5000
    objects = b'{"a":' * 5000 + b"1" + b"}" * 5000
    with caplog.at_level("DEBUG"):
        responses = asyncio.run(
            _calls(
                app, *[("POST", path, body) for body in (deep, objects, PREDICTION_ROUTES[path])]
            )
        )
    for response in responses[:2]:
        assert response.status_code == 400, response.text
        assert response.json()["detail"] == [
            {
                "field": "body",
                "message": "nested deeper than 32 levels",
                "expected": "arrays and objects nested at most 32 levels deep",
            }
        ]
    repeated = responses[2]
    assert repeated.status_code == 400, repeated.text
    assert repeated.json()["detail"][0]["field"] == "body"
    assert "given twice in one object" in repeated.json()["detail"][0]["message"]
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL") or r.exc_info]

"""inference.api.app serving several models, in process: every route per model, the model in
the path choosing who answers, unknown names and the one-model routes refused naming what to
use, readiness per model and for all, the repository index, and metrics labels that stay
bounded whatever names clients send."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from inference.api.app import route_labels
from inference.models.model import Prediction, ServedModel
from inference.models.schema import InputSchema
from inference.settings import Settings
from tests.support.servers import write_models_file

IRIS, WINE, LATE = "tenant-a-iris", "tenant-a-wine", "tenant-a-late"


class Labelled(ServedModel):
    """Answers every row with its own model name, so a response says who answered."""

    runtime = "fake"

    def predict(self, rows: list[list[Any]]) -> Prediction:
        return Prediction([self.name for _ in rows], None)

    def _check(self) -> None:
        return None


def _model(name: str, version: str, columns: tuple[str, ...]) -> Labelled:
    schema = InputSchema.from_signature_inputs([{"name": c, "type": "double"} for c in columns])
    return Labelled(name, version, "staging", schema, [[1.0] * len(columns)], call_seconds=1e-5)


def _settings(tmp_path: Path, *names: str) -> Settings:
    models_file = write_models_file(tmp_path, *({"name": n, "alias": "staging"} for n in names))
    return Settings.from_env(
        {
            "MODELS_FILE": str(models_file),
            "MLFLOW_TRACKING_URI": "http://127.0.0.1:9",
            "MODEL_CACHE_DIR": str(tmp_path / "cache"),
            "TENANT": "tenant-a",
        }
    )


def _app(tmp_path: Path, *names: str, loaded: dict[str, ServedModel]) -> Any:
    from inference.api.app import create_app

    app = create_app(_settings(tmp_path, *names))
    for name, model in loaded.items():
        app.state.models.get(name).holder.current = model
    return app


@pytest.fixture
def two(tmp_path: Path) -> Any:
    """IRIS (4 columns) and WINE (2 columns) loaded; LATE declared but not loaded yet."""
    return _app(
        tmp_path,
        IRIS,
        WINE,
        LATE,
        loaded={IRIS: _model(IRIS, "3", ("a", "b", "c", "d")), WINE: _model(WINE, "7", ("x", "y"))},
    )


async def _calls(app: Any, *requests: tuple[str, str, Any]) -> list[httpx.Response]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        return [await client.request(m, path, json=body) for m, path, body in requests]


def call(app: Any, method: str, path: str, body: Any = None) -> httpx.Response:
    return asyncio.run(_calls(app, (method, path, body)))[0]


def samples(app: Any, name: str) -> list[tuple[dict[str, str], float]]:
    text = call(app, "GET", "/metrics").text
    return [
        (s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    ]


def v2_body(columns: int) -> dict[str, Any]:
    return {
        "inputs": [
            {"name": "in", "shape": [1, columns], "datatype": "FP64", "data": [1.0] * columns}
        ]
    }


def test_each_model_answers_on_its_own_paths(two: Any) -> None:
    answers = asyncio.run(
        _calls(
            two,
            ("POST", f"/models/{IRIS}/predict", [[1, 2, 3, 4]]),
            ("POST", f"/models/{WINE}/predict", {"x": 1, "y": 2}),
            ("POST", f"/models/{WINE}/invocations", {"inputs": [[1, 2]]}),
            ("POST", f"/v2/models/{IRIS}/infer", v2_body(4)),
            ("POST", f"/v2/models/{WINE}/versions/7/infer", v2_body(2)),
            ("GET", f"/models/{WINE}/info", None),
            ("GET", f"/v2/models/{IRIS}", None),
            ("GET", f"/v2/models/{WINE}/versions/7", None),
            ("GET", f"/v2/models/{WINE}/ready", None),
            ("GET", f"/v2/models/{IRIS}/versions/3/ready", None),
        )
    )
    assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers]
    iris, wine, invoked, inferred, by_version, info, meta, meta_v, ready, ready_v = answers
    assert iris.json()["model"] == {"name": IRIS, "version": "3", "alias": "staging"}
    assert iris.json()["predictions"] == [IRIS]
    assert wine.json()["predictions"] == [WINE]  # WINE's own schema: two columns
    assert invoked.json() == {"predictions": [WINE]}
    assert inferred.json()["model_name"] == IRIS
    assert by_version.json()["model_version"] == "7"
    assert (info.json()["name"], info.json()["version"]) == (WINE, "7")
    assert info.json()["resources"]["class"] == "small"
    assert [i["name"] for i in meta.json()["inputs"]] == ["a", "b", "c", "d"]
    assert meta_v.json()["versions"] == ["7"]
    assert ready.json() == {"name": WINE, "ready": True}
    assert ready_v.json() == {"name": IRIS, "ready": True}
    # A model's schema is its own: IRIS's rows are refused by WINE.
    assert call(two, "POST", f"/models/{WINE}/predict", [[1, 2, 3, 4]]).status_code == 422


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/models/tenant-a-nope/predict", [[1]]),
        ("POST", "/models/tenant-a-nope/invocations", {"inputs": [[1]]}),
        ("GET", "/models/tenant-a-nope/info", None),
        ("POST", "/v2/models/tenant-a-nope/infer", v2_body(1)),
        ("GET", "/v2/models/tenant-a-nope", None),
        ("GET", "/v2/models/tenant-a-nope/ready", None),
    ],
)
def test_an_unknown_model_is_a_404_naming_the_served_ones(
    two: Any, method: str, path: str, body: Any
) -> None:
    answer = call(two, method, path, body)
    assert answer.status_code == 404
    assert answer.json() == {
        "error": "not_found",
        "message": f"model 'tenant-a-nope' is not served here; served: {IRIS}, {WINE}, {LATE}",
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "instead"),
    [
        ("POST", "/predict", [[1, 2, 3, 4]], "/models/{name}/predict"),
        ("POST", "/invocations", {"inputs": [[1, 2, 3, 4]]}, "/models/{name}/invocations"),
        ("GET", "/model/info", None, "/models/{name}/info"),
    ],
)
def test_the_one_model_routes_name_the_per_model_paths_when_several_are_served(
    two: Any, method: str, path: str, body: Any, instead: str
) -> None:
    answer = call(two, method, path, body)
    assert answer.status_code == 404
    assert answer.json() == {
        "error": "model_required",
        "message": f"this service serves 3 models ({IRIS}, {WINE}, {LATE}): use {instead}",
    }


def test_one_declared_model_keeps_the_one_model_routes(tmp_path: Path) -> None:
    app = _app(tmp_path, IRIS, loaded={IRIS: _model(IRIS, "3", ("a", "b", "c", "d"))})
    predicted, invoked, info, ready, same = asyncio.run(
        _calls(
            app,
            ("POST", "/predict", [[1, 2, 3, 4]]),
            ("POST", "/invocations", {"inputs": [[1, 2, 3, 4]]}),
            ("GET", "/model/info", None),
            ("GET", "/ready", None),
            ("POST", f"/models/{IRIS}/predict", [[1, 2, 3, 4]]),
        )
    )
    assert predicted.json()["model"]["name"] == IRIS
    assert invoked.json() == {"predictions": [IRIS]}
    assert info.json()["name"] == IRIS
    assert (ready.json()["name"], ready.json()["version"]) == (IRIS, "3")
    assert same.json() == predicted.json()


def test_ready_only_when_every_model_is_loaded_and_it_says_which_is_not(
    two: Any,
) -> None:
    two.state.models.get(LATE).holder.last_error = "cannot resolve models:/tenant-a-late@staging"
    ready, v2_ready, late_ready, late_info, late_predict = asyncio.run(
        _calls(
            two,
            ("GET", "/ready", None),
            ("GET", "/v2/health/ready", None),
            ("GET", f"/v2/models/{LATE}/ready", None),
            ("GET", f"/models/{LATE}/info", None),
            ("POST", f"/models/{LATE}/predict", [[1]]),
        )
    )
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "loading",
        "models": [
            {"name": IRIS, "version": "3", "state": "READY", "reason": ""},
            {"name": WINE, "version": "7", "state": "READY", "reason": ""},
            {
                "name": LATE,
                "state": "UNAVAILABLE",
                "reason": "cannot resolve models:/tenant-a-late@staging",
            },
        ],
    }
    assert v2_ready.status_code == 503
    assert late_ready.status_code == 503
    for answer in (late_info, late_predict):
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "1"
        assert "last error: cannot resolve" in answer.json()["message"]
    # The others answer all along.
    assert call(two, "POST", f"/models/{IRIS}/predict", [[1, 2, 3, 4]]).status_code == 200

    two.state.models.get(LATE).holder.current = _model(LATE, "1", ("z",))
    assert call(two, "GET", "/ready").status_code == 200
    assert call(two, "GET", "/v2/health/ready").json() == {"ready": True}


def test_the_repository_index_lists_every_model_and_its_state(two: Any) -> None:
    everything, only_ready, empty = asyncio.run(
        _calls(
            two,
            ("POST", "/v2/repository/index", {}),
            ("POST", "/v2/repository/index", {"ready": True}),
            ("POST", "/v2/repository/index", None),
        )
    )
    assert everything.status_code == 200
    assert everything.json() == [
        {"name": IRIS, "version": "3", "state": "READY", "reason": ""},
        {"name": WINE, "version": "7", "state": "READY", "reason": ""},
        {"name": LATE, "state": "LOADING", "reason": f"loading models:/{LATE}@staging"},
    ]
    assert [item["name"] for item in only_ready.json()] == [IRIS, WINE]
    assert empty.json() == everything.json()  # no body: every model, as {} does
    bad = call(two, "POST", "/v2/repository/index", {"ready": "yes"})
    assert bad.status_code == 400
    assert bad.json()["detail"][0]["field"] == "body.ready"
    assert call(two, "POST", "/v2/repository/index", [1]).status_code == 400


def test_requests_are_counted_per_model_and_unknown_names_stay_out_of_the_labels(
    two: Any,
) -> None:
    asyncio.run(
        _calls(
            two,
            ("POST", f"/models/{IRIS}/predict", [[1, 2, 3, 4]]),
            ("POST", f"/models/{WINE}/predict", [[1, 2]]),
            ("POST", f"/v2/models/{WINE}/infer", v2_body(2)),
            ("POST", "/models/made-up-1/predict", [[1]]),
            ("POST", "/v2/models/made-up-2/infer", v2_body(1)),
            ("GET", f"/models/{IRIS}/info", None),
            ("POST", "/predict", [[1, 2, 3, 4]]),
        )
    )
    counted = {
        (labels["route"], labels["model"], labels["status"]): value
        for labels, value in samples(two, "inference_http_requests_total")
    }
    assert counted[("/models/{name}/predict", IRIS, "200")] == 1
    assert counted[("/models/{name}/predict", WINE, "200")] == 1
    assert counted[("/v2/models/{name}/infer", WINE, "200")] == 1
    assert counted[("/models/{name}/predict", "", "404")] == 1
    assert counted[("/v2/models/{name}/infer", "", "404")] == 1
    assert counted[("/models/{name}/info", IRIS, "200")] == 1
    assert counted[("/predict", "", "404")] == 1
    assert {model for _, model, _ in counted} <= {IRIS, WINE, ""}
    predicted = {
        (labels["model"], labels["class"]): value
        for labels, value in samples(two, "inference_predictions_total")
    }
    assert predicted == {(IRIS, IRIS): 1, (WINE, WINE): 2}
    rows = {labels["model"]: v for labels, v in samples(two, "inference_request_rows_count")}
    assert rows == {IRIS: 1, WINE: 2, LATE: 0}  # every served model's series, from zero
    reloads = {
        (labels["model"], labels["result"])
        for labels, _ in samples(two, "inference_model_reloads_total")
    }
    assert reloads == {
        (name, result)
        for name in (IRIS, WINE, LATE)
        for result in ("success", "failure", "refused")
    }


@pytest.mark.parametrize(
    ("path", "labels"),
    [
        ("/predict", ("/predict", "")),
        (f"/models/{IRIS}/predict", ("/models/{name}/predict", IRIS)),
        (f"/models/{IRIS}/explain", ("other", "")),
        ("/models/x/predict", ("/models/{name}/predict", "")),
        ("/models//predict", ("other", "")),
        (
            f"/v2/models/{IRIS}/versions/9/ready",
            ("/v2/models/{name}/versions/{version}/ready", IRIS),
        ),
        ("/v2/models/x/ready", ("/v2/models/{name}/ready", "")),
        ("/v2/repository/index", ("/v2/repository/index", "")),
        ("/metrics", ("/metrics", "")),
    ],
)
def test_route_labels_stay_bounded(path: str, labels: tuple[str, str]) -> None:
    assert route_labels(path, {IRIS}, None) == labels


def test_a_one_model_service_counts_its_unnamed_routes_under_its_model() -> None:
    assert route_labels("/predict", {IRIS}, IRIS) == ("/predict", IRIS)
    assert route_labels("/model/info", {IRIS}, IRIS) == ("/model/info", IRIS)


def test_the_openapi_document_shows_the_per_model_routes_with_a_generic_body(two: Any) -> None:
    doc = call(two, "GET", "/openapi.json").json()
    for path in (
        "/models/{name}/predict",
        "/models/{name}/invocations",
        "/models/{name}/info",
        "/v2/repository/index",
        "/v2/models/{name}/infer",
    ):
        assert path in doc["paths"], path
    body = doc["paths"]["/models/{name}/predict"]["post"]["requestBody"]
    record = body["content"]["application/json"]["schema"]["oneOf"][0]
    assert "named model's features" in record["description"]
    assert "properties" not in record  # several schemas behind one path: none is shown


def test_a_deployment_serving_no_model_says_so(tmp_path: Path) -> None:
    models_file = write_models_file(
        tmp_path, {"name": IRIS, "alias": "staging", "deployment": "dedicated"}
    )
    from inference.api.app import create_app

    settings = Settings.from_env(
        {"MODELS_FILE": str(models_file), "MLFLOW_TRACKING_URI": "http://127.0.0.1:9"}
    )
    app = create_app(settings)
    predicted, index = asyncio.run(
        _calls(app, ("POST", "/predict", [[1]]), ("POST", "/v2/repository/index", {}))
    )
    assert predicted.status_code == 404
    assert predicted.json()["message"] == "this Deployment serves no model"
    assert index.json() == []

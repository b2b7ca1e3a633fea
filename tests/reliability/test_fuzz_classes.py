"""Bad input by class, generated, against the real services (conftest.py): nesting depth,
numbers at and beyond each datatype's range, keys given twice, very long strings and keys,
invalid UTF-8 and lone surrogates, in every body shape the prediction routes accept, plus any
method, path and body on every route. The property: never a 5xx, and never a prediction
computed on a value the request did not contain: every 200 carries only values each datatype
that bounds them holds (fuzz_bodies.fits, from numpy's limits), and its answer is what the
model answers for exactly those values, computed here from the same version."""

from __future__ import annotations

import json
import string
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.reliability.fuzz_bodies import (
    REST_SHAPES,
    V2_SHAPES,
    Request,
    as_pairs,
    depth_of,
    dumps,
    fits,
    model_value,
    objects_in,
    requests,
    rest_request,
    v2_body,
)
from tests.reliability.fuzz_targets import Target
from tests.support.raw_http import exchange

pytestmark = pytest.mark.integration

JSON = {"content-type": "application/json"}
MAX_DEPTH = 32  # the service's default MAX_JSON_DEPTH
FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=150)


def post(target: Target, route: str, body: bytes) -> httpx.Response:
    return httpx.post(f"{target.url}{route}", content=body, headers=JSON, timeout=30)


def assert_json_error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    assert response.status_code >= 400, response.text[:500]
    body = response.json()
    assert body["error"]
    assert body["message"]
    return body


def answered(request: Request, response: httpx.Response) -> tuple[list[Any] | None, Any]:
    """(labels, probabilities) of a 200, whichever route answered."""
    body = response.json()
    if request.route.startswith("/v2/"):
        outputs = {o["name"]: o for o in body["outputs"]}
        labels = outputs["predict"]["data"] if "predict" in outputs else None
        proba = outputs.get("predict_proba")
        return labels, proba and [
            proba["data"][i : i + proba["shape"][1]]
            for i in range(0, len(proba["data"]), proba["shape"][1])
        ]
    return body["predictions"], body.get("probabilities")


def assert_answer_is_the_requests(
    target: Target, request: Request, response: httpx.Response
) -> None:
    """A 200 holds only values that reach the model as themselves, and is the model's answer
    for exactly those values."""
    if response.status_code != 200:
        assert_json_error(response)
        return
    for row, row_bounds in zip(request.rows, request.bounds, strict=True):
        for value, datatypes in zip(row, row_bounds, strict=True):
            assert fits(value, datatypes), (
                f"answered for {value!r}, which {datatypes} cannot hold ({request.shape})"
            )
    expected = target.reference([[model_value(v) for v in row] for row in request.rows])
    labels, probabilities = answered(request, response)
    if labels is not None:
        assert labels == expected.labels, request.shape
    if probabilities is not None:
        assert expected.probabilities is not None
        for got, want in zip(probabilities, expected.probabilities, strict=True):
            assert got == pytest.approx(want, abs=1e-12), request.shape


def prediction_requests(target: Target) -> st.SearchStrategy[Request]:
    return requests(target.columns, target.model, target.version, target.model_float)


# --- every shape, every value class ----------------------------------------------------------


@pytest.mark.parametrize("shape", REST_SHAPES + V2_SHAPES)
@pytest.mark.parametrize("which", ["iris_service", "forest_service"])
def test_every_body_shape_is_served_with_the_models_answer(
    which: str, shape: str, request: pytest.FixtureRequest
) -> None:
    """The control: ordinary values in each shape get a 200 that the checks below accept, so
    the generated tests cannot pass by refusing everything."""
    target: Target = request.getfixturevalue(which)
    rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]][
        : 1 if shape in ("predict-record", "predict-row") else 2
    ]
    order = [3, 1, 0, 2]
    if shape in V2_SHAPES:
        outputs = ("predict", "predict_proba")
        width = 1 if shape.startswith("v2-matrix") else len(target.columns)
        body = v2_body(shape, rows, target.columns, ["FP64"] * width, outputs)
        made = Request(
            f"/v2/models/{target.model}/infer", shape, body, rows, [[["FP64"]] * 4] * 2, outputs
        )
    else:
        route, body = rest_request(shape, rows, target.columns, order)
        made = Request(route, shape, body, rows, [[["FP64"]] * 4] * len(rows))
    response = post(target, made.route, dumps(made.body).encode())
    assert response.status_code == 200, response.text
    assert_answer_is_the_requests(target, made, response)


@pytest.mark.parametrize("which", ["iris_service", "forest_service"])
@FUZZ
@given(data=st.data())
def test_numbers_at_and_beyond_every_range_in_every_shape(
    which: str, data: st.DataObject, request: pytest.FixtureRequest
) -> None:
    target: Target = request.getfixturevalue(which)
    made = data.draw(prediction_requests(target))
    response = post(target, made.route, dumps(made.body).encode())
    assert_answer_is_the_requests(target, made, response)


def test_the_issues_fp32_row_is_refused_on_the_float32_model(forest_service: Target) -> None:
    """1e300: once a 200 computed on infinity. As an FP32 element it is not an FP32; as an
    FP64 element or a record's value it is, but the model takes float32."""
    route = f"/v2/models/{forest_service.model}/infer"
    row = [1e300, 3.5, 1.4, 0.2]
    expected = {
        "message": "out of range: the model takes FP32",
        "expected": "a number within ±3.4028235e+38 (FP32)",
    }
    as_fp32 = v2_body("v2-matrix-flat", [row], forest_service.columns, ["FP32"], ())
    response = post(forest_service, route, dumps(as_fp32).encode())
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == [
        {
            "field": "inputs[0].data",
            "message": "element 0 is not representable as FP32",
            "expected": "a number within ±3.4028235e+38 (FP32)",
        }
    ]
    as_fp64 = v2_body("v2-matrix-flat", [row], forest_service.columns, ["FP64"], ())
    response = post(forest_service, route, dumps(as_fp64).encode())
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == [{"field": "inputs[0].sepal_length", **expected}]
    record = dict(zip(forest_service.columns, row, strict=True))
    response = post(forest_service, "/predict", json.dumps(record).encode())
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == [{"field": "body[0].sepal_length", **expected}]


# --- nesting depth ---------------------------------------------------------------------------

_WRAPPERS = {"arrays": ("[", "]"), "objects": ('{"a":', "}"), "mixed": ('[{"a":', "}]")}


@pytest.mark.parametrize("which", ["iris_service", "forest_service"])
@FUZZ
@given(
    data=st.data(),
    levels=st.one_of(
        st.integers(min_value=1, max_value=40),
        st.integers(min_value=26, max_value=34),
        st.integers(min_value=41, max_value=3000),
    ),
    wrapper=st.sampled_from(sorted(_WRAPPERS)),
    closed=st.booleans(),
)
def test_nesting_depth_is_refused_before_the_parser_recurses(
    which: str,
    data: st.DataObject,
    levels: int,
    wrapper: str,
    closed: bool,
    request: pytest.FixtureRequest,
) -> None:
    target: Target = request.getfixturevalue(which)
    made = data.draw(prediction_requests(target))
    opener, closer = _WRAPPERS[wrapper]
    body = opener * levels + dumps(made.body) + (closer * levels if closed else "")
    depth = levels * len(closer) + depth_of(made.body)
    response = post(target, made.route, body.encode())
    error = assert_json_error(response)
    if depth > MAX_DEPTH:
        assert response.status_code == 400
        assert error["detail"] == [
            {
                "field": "body",
                "message": f"nested deeper than {MAX_DEPTH} levels",
                "expected": f"arrays and objects nested at most {MAX_DEPTH} levels deep",
            }
        ]


# --- keys given twice ------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["iris_service", "forest_service"])
@FUZZ
@given(data=st.data(), same_value=st.booleans())
def test_a_key_given_twice_anywhere_is_named(
    which: str, data: st.DataObject, same_value: bool, request: pytest.FixtureRequest
) -> None:
    target: Target = request.getfixturevalue(which)
    made = data.draw(prediction_requests(target))
    body = as_pairs(made.body)
    objects = [o for o in objects_in(body) if o]
    assume(objects)
    chosen = data.draw(st.sampled_from(objects))
    key, value = data.draw(st.sampled_from(list(chosen)))
    again = value if same_value else data.draw(st.sampled_from([0, "x", None, [1], {"k": 1}]))
    chosen.insert(data.draw(st.integers(min_value=0, max_value=len(chosen))), (key, again))
    response = post(target, made.route, dumps(body).encode())
    assert response.status_code == 400, response.text
    assert assert_json_error(response)["detail"] == [
        {
            "field": "body",
            "message": f"key {key!r} given twice in one object",
            "expected": "each key once",
        }
    ]


# --- long strings and keys, lone surrogates, invalid UTF-8 ------------------------------------

_SURROGATES = st.sampled_from(["\ud800", "\udbff", "\udc00", "\udfff"])
_ANY_TEXT = st.text(
    alphabet=st.one_of(st.characters(codec=None, exclude_categories=()), _SURROGATES),
    max_size=50,
) | st.text(alphabet=st.sampled_from("ab\ud800é中 "), min_size=1000, max_size=8000)


@FUZZ
@given(key=_ANY_TEXT, value=_ANY_TEXT, where=st.sampled_from(["key", "value"]))
def test_long_and_surrogate_keys_and_strings_are_refused_without_being_echoed(
    iris_service: Target, key: str, value: str, where: str
) -> None:
    record: dict[str, Any] = dict(zip(iris_service.columns, [5.1, 3.5, 1.4, 0.2], strict=True))
    if where == "key":
        assume(key not in record)
        record[key] = 1.0
    else:
        record[iris_service.columns[0]] = value
    response = post(iris_service, "/predict", dumps(record).encode())
    error = assert_json_error(response)
    assert response.status_code == 422
    assert len(response.content) < 4096  # nothing long sent back
    if where == "value" and len(value) >= 20:
        assert json.dumps(value)[1:-1] not in response.text  # a value is never echoed
    assert error["detail"]


_REVIEW = st.text(
    alphabet=st.one_of(st.characters(codec=None, exclude_categories=()), _SURROGATES),
    max_size=200,
) | st.text(alphabet=st.sampled_from("good bad awful great \ud800\udfffé"), max_size=20000)


@FUZZ
@given(
    reviews=st.lists(_REVIEW, min_size=1, max_size=3),
    shape=st.sampled_from(["predict-records", "inputs-columns", "v2-columns"]),
)
def test_any_text_is_scored_as_sent(text_service: Target, reviews: list[str], shape: str) -> None:
    # The text as the body carries it: an escaped high surrogate followed by an escaped low one
    # ("\ud800\udc00") is one character in JSON (RFC 8259 section 7), so a generated pair is
    # sent as U+10000 and only unpaired surrogates stay lone. The bytes sent are the same.
    reviews = [json.loads(json.dumps(review)) for review in reviews]
    rows = [[review] for review in reviews]
    if shape == "v2-columns":
        route = f"/v2/models/{text_service.model}/infer"
        body: Any = v2_body(shape, rows, text_service.columns, ["BYTES"], ())
    else:
        route, body = rest_request(shape, rows, text_service.columns, [0])
    made = Request(route, shape, body, rows, [[[]]] * len(rows))
    response = post(text_service, route, dumps(body).encode())
    if any(0xD800 <= ord(c) <= 0xDFFF for review in reviews for c in review):
        # JSON lets a string escape a lone surrogate; it is not text (RFC 8259 section 8.2)
        assert response.status_code == 422, response.text[:500]
        assert {d["message"] for d in assert_json_error(response)["detail"]} == {
            "holds a lone surrogate"
        }
        return
    assert response.status_code == 200, response.text[:500]
    assert_answer_is_the_requests(text_service, made, response)


_NOT_UTF8 = [
    b"\xff",
    b"\x80",
    b"\xc0\xaf",  # overlong "/"
    b"\xe2\x82",  # a sequence cut short
    b"\xed\xa0\x80",  # an encoded surrogate
    b"\xf4\x90\x80\x80",  # beyond U+10FFFF
    b"\xf8\x88\x80\x80\x80",  # a five-byte form
]


@FUZZ
@given(data=st.data(), bad=st.sampled_from(_NOT_UTF8), at=st.floats(min_value=0, max_value=1))
def test_invalid_utf8_anywhere_is_a_400(
    iris_service: Target, data: st.DataObject, bad: bytes, at: float
) -> None:
    made = data.draw(prediction_requests(iris_service))
    text = dumps(made.body).encode("ascii")
    cut = int(at * len(text))
    response = post(iris_service, made.route, text[:cut] + bad + text[cut:])
    assert response.status_code == 400, response.text
    assert assert_json_error(response)["detail"][0]["message"] == "not UTF-8 text"


# --- methods, paths, bodies on every route ---------------------------------------------------

_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"]
_TOKEN = st.text(alphabet=string.ascii_uppercase + "-_!#$&'*+.^`|~", min_size=1, max_size=10)
_PATH_CHARS = string.ascii_letters + string.digits + "-._~!$&'()*+,;=:@/%?"


def routes(target: Target) -> list[str]:
    model, version = target.model, target.version
    return [
        "/predict", "/invocations", "/model/info", "/health", "/ready", "/metrics", "/docs",
        "/openapi.json", "/v2", "/v2/health/live", "/v2/health/ready", f"/v2/models/{model}",
        f"/v2/models/{model}/ready", f"/v2/models/{model}/infer",
        f"/v2/models/{model}/versions/{version}", f"/v2/models/{model}/versions/{version}/ready",
        f"/v2/models/{model}/versions/{version}/infer", "/v2/models/other/infer",
        f"/v2/models/{model}/versions/99/infer", "/predict/", "//predict", "/%70redict",
        f"/models/{model}/predict", f"/models/{model}/invocations", f"/models/{model}/info",
        "/models/other/predict", f"/models/{model}/predict/", "/v2/repository/index",
    ]  # fmt: skip


@settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=300)
@given(
    data=st.data(),
    method=st.sampled_from(_METHODS) | _TOKEN,
    body=st.binary(max_size=300) | st.sampled_from([b"{}", b"[]", b"[[1,2,3,4]]", b"null"]),
    json_type=st.booleans(),
)
def test_any_method_path_and_body_on_every_route_get_an_answer_below_500(
    iris_service: Target, data: st.DataObject, method: str, body: bytes, json_type: bool
) -> None:
    target = data.draw(
        st.sampled_from(routes(iris_service))
        | st.text(alphabet=_PATH_CHARS, max_size=60).map(lambda tail: "/" + tail)
    )
    headers = {"Content-Type": "application/json"} if json_type else {}
    status, answer = exchange(iris_service.url, method, target, body, headers)
    assert status is not None, answer[:300]
    assert status < 500, answer[:500]


def test_the_services_survive_the_fuzzing(
    iris_service: Target, forest_service: Target, text_service: Target
) -> None:
    """Last in this module: every service still ready, none logged a traceback."""
    for target in (iris_service, forest_service, text_service):
        assert target.get("/ready").status_code == 200
        log = target.child.log_path.read_text(errors="replace")
        assert "Traceback" not in log, log[-3000:]

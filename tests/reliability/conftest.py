"""The services the fuzzing runs against (test_fuzz.py, test_fuzz_classes.py), started once for
the package (fuzz_targets.py says what each holds).

- iris: logistic regression served by the pickle (float64): the scaler makes values near the
  float64 limit unscorable, so 422s of the model's own show up too.
- forest: a random forest served by onnxruntime (float32), which scores NaN and infinity:
  the model of the issue's second row, where 1e300 once reached the forest as infinity.
- text: one string column (tf-idf), for long strings and lone surrogates.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.reliability.fuzz_targets import (
    BODY_TIMEOUT,
    MAX_BODY_BYTES,
    MAX_ROWS,
    Target,
    start_target,
)
from tests.support.models import IRIS_COLUMNS, iris_forest, iris_logistic, text_pipeline
from training.local_platform.registry_server import RegistryServer


@pytest.fixture(scope="package")
def iris_service(
    registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    target = start_target(
        registry,
        tmp_path_factory.mktemp("fuzz-iris"),
        "fuzz-iris",
        iris_logistic(),
        settings={
            "MAX_BODY_BYTES": str(MAX_BODY_BYTES),
            "MAX_ROWS_PER_REQUEST": str(MAX_ROWS),
            "REQUEST_BODY_TIMEOUT_SECONDS": str(BODY_TIMEOUT),
        },
    )
    assert target.columns == IRIS_COLUMNS
    yield target
    target.stop()


@pytest.fixture(scope="package")
def forest_service(
    registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    target = start_target(
        registry,
        tmp_path_factory.mktemp("fuzz-forest"),
        "fuzz-forest",
        iris_forest(),
        onnx=True,
        settings={"MAX_BODY_BYTES": str(MAX_BODY_BYTES), "MAX_ROWS_PER_REQUEST": str(MAX_ROWS)},
    )
    yield target
    target.stop()


@pytest.fixture(scope="package")
def text_service(
    registry: RegistryServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    target = start_target(
        registry, tmp_path_factory.mktemp("fuzz-text"), "fuzz-text", text_pipeline()
    )
    yield target
    target.stop()

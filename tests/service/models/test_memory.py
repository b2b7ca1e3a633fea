"""What loading a version costs (inference/models/memory.py and the loader's measurement): the
modules a pickle names are found without running it, the reading follows real allocations,
and a version's figure is its own, not the runtime's one-time set-up."""

from __future__ import annotations

import pickle
import shutil
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle
import numpy as np
import pytest

from inference.models import onnx_model
from inference.models.loader import load_version
from inference.models.memory import growth, pickle_modules, resident_bytes
from tests.support.models import (
    iris_failing_on_long_sepals,
    iris_forest,
    iris_logistic,
    iris_oversized,
    save_model_folder,
    text_pipeline,
)

MIB = 1024 * 1024


@dataclass
class FolderRegistry:
    """Hands out one local model folder as every version; records whether the build lock
    was held while it downloaded."""

    folder: Path
    locked: list[bool] = field(default_factory=list)
    lock_held: bool = False

    def proxied_location(self, _name: str, _version: str) -> None:
        return None

    def version_tags(self, _name: str, _version: str) -> dict[str, str]:
        return {}  # no file digests recorded

    def start_download(self, _name: str, _version: str, destination: Path) -> Any:
        self.locked.append(self.lock_held)
        shutil.copytree(self.folder, destination, dirs_exist_ok=True)

        class Done:
            def wait(self) -> Path:
                return destination

        return Done()


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (iris_forest, {"sklearn.ensemble._forest", "sklearn.tree._classes"}),
        (iris_failing_on_long_sepals, {"sklearn.pipeline", "tests.support.models"}),
        (text_pipeline, {"sklearn.feature_extraction.text", "sklearn.compose._column_transformer"}),
    ],
)
@pytest.mark.parametrize(
    "dump",
    [cloudpickle.dumps, pickle.dumps, lambda o: pickle.dumps(o, protocol=2)],
    ids=["cloudpickle", "pickle", "protocol-2"],
)
def test_the_modules_a_pickle_names_are_found_without_running_it(
    make: Any, expected: set[str], dump: Any, tmp_path: Path
) -> None:
    estimator, _ = make()
    path = tmp_path / "model.pkl"
    path.write_bytes(dump(estimator))
    assert expected <= pickle_modules(path)


def test_a_module_only_a_pickle_names_is_found(tmp_path: Path) -> None:
    path = tmp_path / "planted.pkl"
    # A global from a module nothing else here mentions, beside a large binary payload.
    path.write_bytes(pickle.dumps([b"x" * 100_000, shutil.copytree], protocol=5))
    assert "shutil" in pickle_modules(path)
    path.write_bytes(pickle.dumps([b"x" * 100_000], protocol=5))
    assert "shutil" not in pickle_modules(path)


def test_the_reading_follows_what_the_process_allocates() -> None:
    before = resident_bytes()
    block = np.ones(32 * MIB // 8)  # written, so resident
    after = resident_bytes()
    assert before is not None
    assert after is not None
    assert 30 * MIB <= growth(before, after) <= 40 * MIB  # type: ignore[operator]
    del block
    assert growth(after, before) == 0  # never negative
    assert growth(None, after) is None


def test_a_version_is_measured_on_its_own(tmp_path: Path) -> None:
    small = save_model_folder(*iris_logistic(), tmp_path / "small")
    big = save_model_folder(*iris_oversized(24), tmp_path / "big")
    loaded = [
        load_version(FolderRegistry(folder), name, "1", None, None, tmp_path / "cache")  # type: ignore[arg-type]
        for name, folder in (("small", small), ("big", big))
    ]
    assert loaded[0].memory_bytes is not None
    assert loaded[0].memory_bytes < 4 * MIB
    assert loaded[1].memory_bytes is not None
    assert 20 * MIB <= loaded[1].memory_bytes <= 40 * MIB
    assert loaded[1].describe()["memory_bytes"] == loaded[1].memory_bytes


def test_the_build_holds_the_lock_and_the_download_does_not(tmp_path: Path) -> None:
    registry = FolderRegistry(save_model_folder(*iris_logistic(), tmp_path / "model"))
    held: list[bool] = []

    @contextmanager
    def lock() -> Any:
        registry.lock_held = True
        held.append(True)
        try:
            yield
        finally:
            registry.lock_held = False

    load_version(registry, "iris", "1", None, None, tmp_path / "cache", "auto", lock())  # type: ignore[arg-type]
    load_version(registry, "iris", "1", None, None, tmp_path / "cache", "auto", lock())  # type: ignore[arg-type]
    assert registry.locked == [False]  # downloaded once, outside the lock
    assert held == [True, True]  # built twice (the second from the cache), inside it


def test_onnxruntime_is_set_up_once_with_the_identity_model() -> None:
    import onnxruntime

    session = onnxruntime.InferenceSession(
        onnx_model.identity_model(), providers=["CPUExecutionProvider"]
    )
    (out,) = session.run(None, {"x": np.array([2.5], dtype=np.float32)})
    assert out.tolist() == [2.5]
    onnx_model.warm_up()
    before = resident_bytes()
    onnx_model.warm_up()  # the second call does nothing
    assert growth(before, resident_bytes()) < MIB  # type: ignore[operator]

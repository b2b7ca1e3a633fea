"""inference.models.loader on real model folders (written by mlflow.sklearn), with a registry that
hands them out from disk: the cache is filled only by versions that load and pass their
check, a broken cached copy is dropped, and pruning keeps what it is told to."""

from __future__ import annotations

import shutil
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from inference.contracts import model_files
from inference.models.load_policy import IntegrityError, LimitError, LoadPolicy
from inference.models.loader import load_version, prune_cache
from inference.models.model import ModelCheckError
from tests.support.models import (
    iris_hanging,
    iris_logistic,
    save_model_folder,
    save_onnx_model_folder,
)


@dataclass
class Done:
    path: Path

    def wait(self) -> Path:
        return self.path


@dataclass
class DiskRegistry:
    """Stands in for MLflow without the artifact proxy: a download copies a local folder."""

    folders: dict[str, Path]
    downloads: list[str] = field(default_factory=list)
    # version -> its tags, as the registry's database holds them
    tags: dict[str, dict[str, str]] = field(default_factory=dict)

    def version_tags(self, _name: str, version: str) -> dict[str, str]:
        return self.tags.get(version, {})

    def proxied_location(self, _name: str, _version: str) -> None:
        return None  # not proxied: the loader asks for a whole-folder download

    def start_download(self, _name: str, version: str, destination: Path) -> Done:
        self.downloads.append(version)
        shutil.copytree(self.folders[version], destination, dirs_exist_ok=True)
        return Done(destination)


@pytest.fixture(scope="module")
def good_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    estimator, features = iris_logistic()
    return save_model_folder(estimator, features, tmp_path_factory.mktemp("good") / "model")


@pytest.fixture
def broken_folder(good_folder: Path, tmp_path: Path) -> Path:
    broken = Path(shutil.copytree(good_folder, tmp_path / "broken"))
    (broken / "model.pkl").write_bytes(b"not a pickle")
    return broken


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in (cache / "iris").iterdir()) if (cache / "iris").exists() else []


def test_a_good_version_is_cached_once_and_reused(good_folder: Path, tmp_path: Path) -> None:
    registry = DiskRegistry({"1": good_folder})
    cache = tmp_path / "cache"
    first = load_version(registry, "iris", "1", "staging", "run", cache)  # type: ignore[arg-type]
    assert first.runtime == "sklearn"  # no ONNX flavor in this folder
    assert first.predict([[5.1, 3.5, 1.4, 0.2]]).labels == [0]
    again = load_version(registry, "iris", "1", "staging", "run", cache)  # type: ignore[arg-type]
    assert again.version == "1"
    assert registry.downloads == ["1"]
    assert _leftovers(cache) == ["1"]


def test_a_broken_version_never_reaches_the_cache(broken_folder: Path, tmp_path: Path) -> None:
    registry = DiskRegistry({"2": broken_folder})
    cache = tmp_path / "cache"
    with pytest.raises(ModelCheckError, match="cannot load iris v2"):
        load_version(registry, "iris", "2", "staging", "run", cache)  # type: ignore[arg-type]
    assert _leftovers(cache) == []  # neither the version nor its staging folder


def test_a_cached_copy_that_no_longer_loads_is_dropped(good_folder: Path, tmp_path: Path) -> None:
    registry = DiskRegistry({"1": good_folder})
    cache = tmp_path / "cache"
    load_version(registry, "iris", "1", "staging", "run", cache)  # type: ignore[arg-type]
    (cache / "iris" / "1" / "model.pkl").write_bytes(b"corrupted on disk")
    with pytest.raises(ModelCheckError):
        load_version(registry, "iris", "1", "staging", "run", cache)  # type: ignore[arg-type]
    assert _leftovers(cache) == []
    load_version(registry, "iris", "1", "staging", "run", cache)  # type: ignore[arg-type]
    assert registry.downloads == ["1", "1"]  # downloaded again, not served from the bad copy


def test_prune_keeps_what_it_is_told_and_downloads_in_progress(tmp_path: Path) -> None:
    for name in ("1", "2", "3", ".4-inprogress"):
        (tmp_path / "iris" / name).mkdir(parents=True)
    prune_cache(tmp_path, "iris", keep={"2", "3"})
    assert _leftovers(tmp_path) == [".4-inprogress", "2", "3"]
    prune_cache(tmp_path, "absent", keep=set())  # nothing cached yet: no error


# --- what a version must be (models/load_policy.py) ----------------------------------------


@pytest.fixture(scope="module")
def onnx_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    estimator, features = iris_logistic()
    return save_onnx_model_folder(estimator, features, tmp_path_factory.mktemp("onnx") / "model")


def _recorded(folder: Path) -> dict[str, str]:
    return model_files.to_tags(model_files.folder_digests(folder))


def _load(registry: DiskRegistry, cache: Path, version: str = "1", **policy: object) -> object:
    return load_version(
        registry,  # type: ignore[arg-type]
        "iris",
        version,
        "staging",
        "run",
        cache,
        policy=LoadPolicy(**policy),  # type: ignore[arg-type]
    )


def test_a_file_changed_after_registration_is_refused_naming_it(
    good_folder: Path, tmp_path: Path
) -> None:
    tags = _recorded(good_folder)
    changed = Path(shutil.copytree(good_folder, tmp_path / "changed"))
    (changed / "model.pkl").write_bytes((good_folder / "model.pkl").read_bytes() + b"\x00")
    registry = DiskRegistry({"1": changed}, tags={"1": tags})
    with pytest.raises(IntegrityError) as refused:
        _load(registry, tmp_path / "cache")
    recorded = model_files.from_tags(tags)["model.pkl"]  # type: ignore[index]
    assert refused.value.reason == "mismatch"
    assert f"iris v1: downloaded file model.pkl: recorded sha256 {recorded}, found " in str(
        refused.value
    )
    assert _leftovers(tmp_path / "cache") == []


def test_a_changed_cached_copy_is_refused_and_dropped(good_folder: Path, tmp_path: Path) -> None:
    registry = DiskRegistry({"1": good_folder}, tags={"1": _recorded(good_folder)})
    cache = tmp_path / "cache"
    _load(registry, cache)
    (cache / "iris" / "1" / "input_example.json").write_text('{"columns": [], "data": []}')
    with pytest.raises(IntegrityError, match=r"cached file input_example\.json"):
        _load(registry, cache)
    assert _leftovers(cache) == []
    _load(registry, cache)  # downloaded again, checked, served
    assert registry.downloads == ["1", "1"]


def test_digests_are_required_only_where_the_tenant_says_so(
    good_folder: Path, tmp_path: Path
) -> None:
    registry = DiskRegistry({"1": good_folder})
    with pytest.raises(IntegrityError, match="records no file digests") as refused:
        _load(registry, tmp_path / "strict", require_digests=True)
    assert refused.value.reason == "unrecorded"
    assert registry.downloads == []  # refused before a byte is downloaded
    assert _load(registry, tmp_path / "lenient").version == "1"  # type: ignore[attr-defined]


def test_a_pickle_free_tenant_never_unpickles(
    good_folder: Path, onnx_folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pickle

    def no_unpickling(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a pickle-free tenant unpickled a model")

    monkeypatch.setattr(pickle, "load", no_unpickling)
    registry = DiskRegistry({"1": good_folder, "2": onnx_folder})
    with pytest.raises(
        ModelCheckError, match=r"pickle-free .* never unpickle; this version has none"
    ):
        _load(registry, tmp_path / "cache", "1", pickle_free=True)
    served = _load(registry, tmp_path / "cache", "2", pickle_free=True)
    assert served.runtime == "onnx"  # type: ignore[attr-defined]


def test_a_version_with_too_many_files_or_bytes_is_refused(
    good_folder: Path, tmp_path: Path
) -> None:
    registry = DiskRegistry({"1": good_folder}, tags={"1": _recorded(good_folder)})
    files = len(model_files.folder_files(good_folder))
    with pytest.raises(LimitError, match=f"has {files} files, more than MODEL_MAX_FILES=3"):
        _load(registry, tmp_path / "few", max_files=3)
    assert registry.downloads == []  # the recorded manifest said so before any download
    size = sum(p.stat().st_size for p in good_folder.iterdir())
    with pytest.raises(LimitError, match="above MODEL_MAX_MIB"):
        _load(registry, tmp_path / "small", max_bytes=size - 1)
    assert _load(registry, tmp_path / "fits", max_bytes=size).version == "1"  # type: ignore[attr-defined]


def test_a_truncated_onnx_file_is_refused_with_the_reason(
    onnx_folder: Path, tmp_path: Path
) -> None:
    truncated = Path(shutil.copytree(onnx_folder, tmp_path / "truncated"))
    content = (onnx_folder / "model.onnx").read_bytes()
    (truncated / "model.onnx").write_bytes(content[: len(content) // 2])
    registry = DiskRegistry({"1": truncated})
    refused = r"iris v1: onnxruntime cannot load model\.onnx: .*INVALID_PROTOBUF"
    with pytest.raises(ModelCheckError, match=refused):
        _load(registry, tmp_path / "cache")
    assert _leftovers(tmp_path / "cache") == []


def test_a_self_check_that_hangs_is_refused_within_the_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    estimator, features = iris_hanging()
    folder = save_model_folder(estimator, features, tmp_path / "hanging")
    registry = DiskRegistry({"1": folder})
    monkeypatch.setenv("HANG_SECONDS", "5")
    started = time.monotonic()
    with pytest.raises(LimitError, match=r"did not finish within MODEL_CHECK_TIMEOUT_SECONDS=0\.5"):
        _load(registry, tmp_path / "cache", check_timeout_seconds=0.5)
    assert time.monotonic() - started < 4
    # Tried again while the first load still hangs: refused at once, no second thread.
    threads = threading.active_count()
    with pytest.raises(LimitError, match=r"an earlier load of it .* still runs"):
        _load(registry, tmp_path / "cache", check_timeout_seconds=0.5)
    assert threading.active_count() == threads

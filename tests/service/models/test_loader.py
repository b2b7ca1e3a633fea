"""inference.models.loader on real model folders (written by mlflow.sklearn), with a registry that
hands them out from disk: the cache is filled only by versions that load and pass their
check, a broken cached copy is dropped, and pruning keeps what it is told to."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from inference.models.loader import load_version, prune_cache
from inference.models.model import ModelCheckError
from tests.support.models import iris_logistic, save_model_folder


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

"""service/image_prune.py and the list it applies (service/image-prune.txt), without Docker.

The real list matches files of the installed packages (uv.lock's pins, the images' too), and
what it removes from onnxruntime is never loaded: a process that runs an ONNX session maps
the Python binding and not the C API library beside it. Each way a list can be wrong (an entry
without a reason, an unknown action, a path outside site-packages, a glob that matches
nothing) stops the build; `strip` keeps the symbols an extension module is loaded by.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import image_prune as prune  # service/, on pytest's pythonpath
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PRUNE_LIST = REPO_ROOT / "service/image-prune.txt"
SITE_PACKAGES = Path(sysconfig.get_paths()["purelib"])


def test_every_entry_of_the_real_list_matches_installed_files() -> None:
    entries = prune.parse(PRUNE_LIST.read_text(encoding="utf-8"))
    assert {e.action for e in entries} == {"remove", "strip"}
    unmatched = [f"{e.action} {e.glob}" for e in entries if not any(SITE_PACKAGES.glob(e.glob))]
    assert unmatched == []


def test_what_it_removes_from_onnxruntime_is_never_mapped(tmp_path: Path) -> None:
    """A session runs on the binding alone: libonnxruntime.so.* is there and stays unmapped."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "x"], ["y"])],
        "double",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "double.onnx")
    script = (
        "import json, numpy, onnxruntime as ort, sys\n"
        f"s = ort.InferenceSession({str(tmp_path / 'double.onnx')!r})\n"
        "y = s.run(None, {'x': numpy.ones((1, 2), numpy.float32)})[0]\n"
        "maps = open('/proc/self/maps').read().split()\n"
        "print(json.dumps({'y': y.tolist(), 'mapped': sorted({p for p in maps if '.so' in p})}))"
    )
    ran = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    found = json.loads(ran.stdout)
    assert found["y"] == [[2.0, 2.0]]
    removed = sorted(SITE_PACKAGES.glob("onnxruntime/capi/libonnxruntime.so.*"))
    assert removed, "the wheel no longer ships libonnxruntime.so.*: update image-prune.txt"
    assert any("onnxruntime_pybind11_state" in p for p in found["mapped"])
    assert not any("libonnxruntime.so" in p for p in found["mapped"]), found["mapped"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("remove numpy/tests\n", "has no comment saying why"),
        ("# why\n\nremove numpy/tests\n", "has no comment saying why"),
        ("# why\ndelete numpy/tests\n", "expected `remove <glob>` or `strip <glob>`"),
        ("# why\nremove\n", "expected `remove <glob>` or `strip <glob>`"),
        ("# why\nremove ../bin/python\n", "is not inside site-packages"),
        ("# why\nremove /usr/lib\n", "is not inside site-packages"),
    ],
)
def test_a_malformed_list_is_refused(text: str, problem: str) -> None:
    with pytest.raises(prune.PruneListError, match=problem):
        prune.parse(text)


def test_one_comment_covers_its_paragraph() -> None:
    entries = prune.parse("# tests\nremove a/tests\nremove b/tests\n\n# stubs\nremove **/*.pyi\n")
    assert [(e.action, e.glob) for e in entries] == [
        ("remove", "a/tests"),
        ("remove", "b/tests"),
        ("remove", "**/*.pyi"),
    ]


def venv_with(tmp_path: Path, files: dict[str, bytes]) -> Path:
    venv = tmp_path / "venv"
    root = venv / "lib/python3.13/site-packages"
    for relative, content in files.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(content)
    return venv


def test_it_removes_what_the_list_names_and_nothing_else(tmp_path: Path) -> None:
    venv = venv_with(
        tmp_path,
        {"pkg/__init__.py": b"", "pkg/tests/test_a.py": b"x" * 100, "pkg/a.pyi": b"y" * 10},
    )
    listing = tmp_path / "prune.txt"
    listing.write_text("# test suites\nremove pkg/tests\n# stubs\nremove pkg/*.pyi\n")

    assert prune.main([str(listing), str(venv)]) == 0
    left = sorted(p.relative_to(venv).as_posix() for p in venv.rglob("*") if p.is_file())
    assert left == ["lib/python3.13/site-packages/pkg/__init__.py"]


def test_a_glob_that_matches_nothing_stops_the_build(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    venv = venv_with(tmp_path, {"pkg/__init__.py": b""})
    listing = tmp_path / "prune.txt"
    listing.write_text("# moved in a release\nremove pkg/tests\n")

    assert prune.main([str(listing), str(venv)]) == 1
    assert "line 2: remove pkg/tests matches nothing" in capsys.readouterr().err
    assert (venv / "lib/python3.13/site-packages/pkg/__init__.py").is_file()


@pytest.mark.skipif(shutil.which("strip") is None, reason="binutils (strip) is not installed")
def test_strip_keeps_what_the_module_is_loaded_by(tmp_path: Path) -> None:
    """uvloop's loop module, stripped, is smaller and still exports PyInit_loop and imports."""
    found = sorted(SITE_PACKAGES.glob("uvloop/loop.*.so"))
    if not found:
        pytest.skip("uvloop is not installed here")
    package = tmp_path / "venv/lib/python3.13/site-packages/uvloop"
    shutil.copytree(found[0].parent, package)
    listing = tmp_path / "prune.txt"
    listing.write_text("# debug information\nstrip uvloop/*.so\n")
    before = found[0].stat().st_size

    assert prune.main([str(listing), str(tmp_path / "venv")]) == 0
    stripped = package / found[0].name
    assert stripped.stat().st_size < before
    symbols = subprocess.run(
        ["readelf", "--dyn-syms", "--wide", str(stripped)], capture_output=True, text=True
    ).stdout
    assert "PyInit_loop" in symbols
    imported = subprocess.run(
        [sys.executable, "-c", "import uvloop; uvloop.new_event_loop().close()"],
        env={"PYTHONPATH": str(package.parent)},
        capture_output=True,
        text=True,
    )
    assert imported.returncode == 0, imported.stderr

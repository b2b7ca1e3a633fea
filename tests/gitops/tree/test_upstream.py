"""The pinned upstream files (gitops/tree/upstream.py): a clone without ../shared gets them
from a server and keeps them in its cache; a different file is refused wherever it comes from;
without a source the one error says what to do.

The server is a small HTTP server on 127.0.0.1 serving the pinned files as
raw.githubusercontent.com does (/<repo>/<tag>/<path>), built from the folders this session
resolved (../shared, or the cache of a clone that downloaded them)."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gitops import paths
from gitops.settings import Settings
from gitops.tree import upstream
from tests.gitops.tree_copies import copy_real_tree
from training.local_platform.ports import free_port

SETS = ("crds", "argocd-health")
ALTERED = "argoproj.io/appproject-crd.yaml"
SHARED = paths.REPO_ROOT.parent / "shared"


@dataclass
class FileServer:
    """Serves `files` (URL path -> bytes) on 127.0.0.1 and records every path asked for."""

    files: dict[str, bytes]
    requests: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def server() -> Iterator[FileServer]:
    served = FileServer(_upstream_layout())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            served.requests.append(self.path)
            body = served.files.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.end_headers()
            self.wfile.write(body or b"not found")

        def log_message(self, *_args: object) -> None:
            pass

    http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served.url = f"http://127.0.0.1:{http.server_address[1]}"
    thread = threading.Thread(target=http.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield served
    finally:
        http.shutdown()
        http.server_close()


def _upstream_layout() -> dict[str, bytes]:
    """/<repo>/<tag>/<path> -> the pinned bytes, for every file of every set."""
    settings = Settings.from_env()
    files = {}
    for set_name in SETS:
        where = upstream.folder(set_name, settings)
        for pinned in upstream.pinned_files(set_name):
            files[f"/{pinned.repo}/{pinned.tag}/{pinned.path}"] = (where / pinned.file).read_bytes()
    return files


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test resolves as a new process would; loopback never goes through a proxy."""
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    upstream.forget()
    yield
    upstream.forget()


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    """A repository with only its manifest of pinned files, and no ../shared beside it."""
    root = tmp_path / "clone"
    root.mkdir()
    shutil.copy2(paths.upstream_manifest(), paths.upstream_manifest(root))
    assert not paths.upstream_mirror("crds", root).exists()
    return root


def settings_for(root: Path, base_url: str, **changes: object) -> Settings:
    changes = {"upstream_dirs": {}, **changes}
    return replace(
        Settings.from_env(root), upstream_root=root, upstream_base_url=base_url, **changes
    )


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def pinned_sum(set_name: str, file: str) -> str:
    return next(p.sha256 for p in upstream.pinned_files(set_name) if p.file == file)


def copy_of_set(set_name: str, target: Path) -> Path:
    shutil.copytree(upstream.folder(set_name, Settings.from_env()), target)
    return target


def test_a_clone_without_the_mirror_downloads_each_file_once(
    clone: Path, server: FileServer
) -> None:
    settings = settings_for(clone, server.url)
    for set_name in SETS:
        resolved = upstream.resolve(set_name, settings)
        assert resolved.folder == clone / ".cache" / "upstream" / set_name
        assert resolved.origin == f"downloaded from {server.url}"
        for pinned in upstream.pinned_files(set_name):
            assert sha256((resolved.folder / pinned.file).read_bytes()) == pinned.sha256
    assert len(server.requests) == len(server.files) == 34
    assert not list(clone.rglob("*.part"))

    upstream.forget()  # as a second process would start
    for set_name in SETS:
        assert upstream.resolve(set_name, settings).origin == "the cache"
    assert len(server.requests) == 34


def test_validate_in_a_clone_without_the_mirror(tmp_path: Path, server: FileServer) -> None:
    repo = copy_repository(tmp_path / "repo")
    env = clone_env(repo, server.url)
    run = subprocess.run(
        [sys.executable, "-m", "gitops", "validate", "--only", "crd-schemas"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"crd-schemas\s+ok", run.stdout)
    crds = upstream.pinned_files("crds")
    assert sorted(server.requests) == sorted(f"/{p.repo}/{p.tag}/{p.path}" for p in crds)
    assert all((repo / ".cache/upstream/crds" / p.file).is_file() for p in crds)

    again = subprocess.run(
        [sys.executable, "-m", "gitops", "upstream", "crds"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "crds: 9 files in" in again.stdout
    assert "(the cache)" in again.stdout
    assert len(server.requests) == len(crds)


def test_an_altered_download_is_refused(clone: Path, server: FileServer) -> None:
    pinned = next(p for p in upstream.pinned_files("crds") if p.file == ALTERED)
    altered = server.files[f"/{pinned.repo}/{pinned.tag}/{pinned.path}"] + b"# changed\n"
    server.files[f"/{pinned.repo}/{pinned.tag}/{pinned.path}"] = altered
    with pytest.raises(upstream.UpstreamFilesError) as raised:
        upstream.folder("crds", settings_for(clone, server.url))
    message = str(raised.value)
    assert f"{ALTERED}: {pinned.url(server.url)} has sha256 {sha256(altered)}" in message
    assert f"upstream-files.yaml pins {pinned.sha256}; not written to the cache" in message
    cache = paths.upstream_cache("crds", clone)
    assert not (cache / ALTERED).exists()
    assert not list(cache.rglob("*.part"))
    # The other files were checked and kept; the instruction names only the one still missing.
    assert len(list(cache.rglob("*.yaml"))) == 8
    assert message.count(" -> ") == 1
    assert f"-> {cache / ALTERED}" in message


def test_without_a_mirror_or_a_server_validate_says_what_to_do(tmp_path: Path) -> None:
    repo = copy_repository(tmp_path / "repo")
    nobody = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    run = subprocess.run(
        [sys.executable, "-m", "gitops", "validate", "--only", "crd-schemas"],
        cwd=repo,
        env=clone_env(repo, nobody),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 2
    assert "FAIL" not in run.stdout  # no findings: one message instead
    assert run.stderr.count("are not available") == 1
    assert f"could not download {nobody}/argoproj/argo-cd/v3.5.1/" in run.stderr
    for pinned in upstream.pinned_files("crds"):
        assert f"      {pinned.url(nobody)}\n" in run.stderr
        assert f"        -> {repo / '.cache/upstream/crds' / pinned.file}\n" in run.stderr
    assert "or set CRDS_DIR to a folder that holds every file of the set" in run.stderr
    assert "or set UPSTREAM_BASE_URL to a mirror" in run.stderr
    assert not (repo / ".cache/upstream/crds").exists()


def test_a_folder_named_by_the_variable_is_used_as_given(clone: Path, tmp_path: Path) -> None:
    crds = copy_of_set("crds", tmp_path / "crds")
    nobody = f"http://127.0.0.1:{free_port()}"
    settings = settings_for(clone, nobody, upstream_dirs={"crds": crds})
    assert upstream.resolve("crds", settings).folder == crds
    assert upstream.resolve("crds", settings).origin == "CRDS_DIR"


def test_a_folder_named_by_the_variable_with_a_wrong_file_is_refused(
    clone: Path, tmp_path: Path, server: FileServer
) -> None:
    crds = copy_of_set("crds", tmp_path / "crds")
    with (crds / ALTERED).open("ab") as changed:
        changed.write(b"# changed\n")
    (crds / "external-secrets.io/secretstores.yaml").unlink()
    settings = settings_for(clone, server.url, upstream_dirs={"crds": crds})
    with pytest.raises(upstream.UpstreamFilesError) as raised:
        upstream.folder("crds", settings)
    message = str(raised.value)
    assert message.startswith(f"CRDS_DIR={crds} does not hold the pinned crds files")
    actual = sha256((crds / ALTERED).read_bytes())
    expected = pinned_sum("crds", ALTERED)
    assert f"{ALTERED}: sha256 {actual}, but upstream-files.yaml pins {expected}" in message
    assert "external-secrets.io/secretstores.yaml: missing" in message
    assert not server.requests  # asked for explicitly: never replaced by a download


def test_the_health_checks_folder_variable(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("ARGOCD_HEALTH_DIR", str(tmp_path))
    monkeypatch.delenv("CRDS_DIR", raising=False)
    settings = Settings.from_env()
    assert settings.upstream_dirs == {"argocd-health": tmp_path.resolve()}
    with pytest.raises(upstream.UpstreamFilesError, match=r"ARGOCD_HEALTH_DIR=.* does not hold"):
        upstream.folder("argocd-health", settings)


def test_a_complete_mirror_is_used_without_a_request(clone: Path, server: FileServer) -> None:
    mirror = copy_of_set("argocd-health", paths.upstream_mirror("argocd-health", clone))
    resolved = upstream.resolve("argocd-health", settings_for(clone, server.url))
    assert (resolved.folder, resolved.origin) == (mirror, "the offline mirror")
    assert not server.requests


def test_a_mirror_with_a_wrong_file_is_skipped(clone: Path, server: FileServer) -> None:
    mirror = copy_of_set("crds", paths.upstream_mirror("crds", clone))
    (mirror / ALTERED).write_text("kind: Changed\n")
    resolved = upstream.resolve("crds", settings_for(clone, server.url))
    assert resolved.folder == paths.upstream_cache("crds", clone)
    assert (resolved.folder / ALTERED).read_bytes() != (mirror / ALTERED).read_bytes()

    # Offline, the error says why the mirror was not used.
    shutil.rmtree(resolved.folder)
    upstream.forget()
    nobody = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(upstream.UpstreamFilesError) as raised:
        upstream.folder("crds", settings_for(clone, nobody))
    message = str(raised.value)
    assert f"{mirror} (the offline mirror) skipped:" in message
    expected = pinned_sum("crds", ALTERED)
    actual = sha256(b"kind: Changed\n")
    assert f"{ALTERED}: sha256 {actual}, but upstream-files.yaml pins {expected}" in message


def test_a_damaged_or_stale_cache_is_repaired(clone: Path, server: FileServer) -> None:
    settings = settings_for(clone, server.url)
    cache = upstream.folder("crds", settings)
    (cache / ALTERED).write_text("half a fi")
    stale = cache / "argoproj.io" / "removed-crd.yaml"
    stale.write_text("kind: CustomResourceDefinition\n")
    upstream.forget()
    before = len(server.requests)
    assert upstream.folder("crds", settings) == cache
    assert server.requests[before:] == [
        next(
            f"/{p.repo}/{p.tag}/{p.path}"
            for p in upstream.pinned_files("crds")
            if p.file == ALTERED
        )
    ]
    assert sha256((cache / ALTERED).read_bytes()) == pinned_sum("crds", ALTERED)
    assert not stale.exists()  # no longer pinned: the CRD loader must not read it


def test_an_entry_naming_an_unknown_release_is_refused(clone: Path) -> None:
    manifest = paths.upstream_manifest(clone)
    manifest.write_text(manifest.read_text().replace("release: argo-cd", "release: argocd", 1))
    with pytest.raises(upstream.UpstreamFilesError, match=r"upstream-files.yaml: set 'crds': "):
        upstream.pinned_files("crds", clone)


@pytest.mark.skipif(
    not SHARED.is_dir(), reason="no offline mirror ../shared beside the repository to compare"
)
@pytest.mark.parametrize("set_name", SETS)
def test_the_pinned_sums_are_the_mirrors(set_name: str) -> None:
    """The sums of upstream-files.yaml are the ones ../shared/<set>/VERSIONS.md records."""
    recorded = versions_md_sums(SHARED / set_name / "VERSIONS.md")
    assert {p.file: p.sha256 for p in upstream.pinned_files(set_name)} == recorded


def versions_md_sums(versions: Path) -> dict[str, str]:
    """file -> sha256 from the table rows of a VERSIONS.md (cells may be in backticks)."""
    sums = {}
    for line in versions.read_text(encoding="utf-8").splitlines():
        cells = [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
        digests = [c for c in cells if re.fullmatch(r"[0-9a-f]{64}", c)]
        files = [c for c in cells if re.fullmatch(r"[\w.-]+(/[\w.-]+)+\.\w+", c)]
        if line.startswith("|") and digests and files:
            sums[files[-1]] = digests[-1]
    return sums


def copy_repository(target: Path) -> Path:
    """The tools, the packages they import and the tree, without ../shared or a cache."""
    copy_real_tree(target)
    for package in ("gitops", "service", "training"):
        shutil.copytree(
            paths.REPO_ROOT / package,
            target / package,
            ignore=shutil.ignore_patterns("__pycache__"),
            dirs_exist_ok=True,  # the tree copy holds service/Dockerfile already
        )
    assert not (target.parent / "shared").exists()
    return target


def clone_env(repo: Path, base_url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CRDS_DIR", "ARGOCD_HEALTH_DIR")}
    env.update(
        PYTHONPATH=f"{repo / 'service'}{os.pathsep}{repo}",
        UPSTREAM_BASE_URL=base_url,
        no_proxy="127.0.0.1",
        NO_PROXY="127.0.0.1",
    )
    return env

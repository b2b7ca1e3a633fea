"""The pinned upstream files of upstream-files.yaml: each set (`crds`, `argocd-health`)
resolved to a folder laid out like ../shared/<set>, in which every listed file exists with its
pinned sha256. Everything that reads these files asks `folder(set_name, settings)`.

Where a set comes from, the first that applies:
1. the folder its environment variable names (settings.UPSTREAM_DIR_VARIABLES: CRDS_DIR,
   ARGOCD_HEALTH_DIR). Asked for explicitly, so a missing or different file is an error;
2. ../shared/<set> beside the repository, the optional offline mirror, when every file is
   there with its sum. A mirror that differs is skipped (a stale copy must not stop a
   machine that can download), and the reason is part of the error if nothing else works;
3. .cache/upstream/<set> in the repository (gitignored), when every file is there with its sum;
4. a download of each file the cache lacks from <base>/<repo>/<tag>/<path> (base:
   UPSTREAM_BASE_URL, default raw.githubusercontent.com), checked against its sum before it is
   written to the cache, atomically: a partial or different download never lands there.
If none works, UpstreamFilesError says what to do: each missing file's URL and the path to put
it at, or the variable to set. A set is resolved once per process (sums checked once).

`python -m gitops upstream [SET...]` resolves the sets (all by default) and says where each
came from: the way to fill the cache ahead of going offline, and CI's way to get them.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import yaml

from gitops import paths
from gitops.settings import DEFAULT_UPSTREAM_BASE_URL, UPSTREAM_DIR_VARIABLES, Settings

MANIFEST = "upstream-files.yaml"
# One download of the largest file (ApplicationSet's CRD, 1.4 MB) takes well under this; a
# network that swallows packets costs it once, as the remaining downloads are not attempted.
TIMEOUT = 60  # seconds


class UpstreamFilesError(Exception):
    """A set of pinned upstream files cannot be provided; the message says what to do."""


@dataclass(frozen=True)
class PinnedFile:
    file: str  # path inside the set's folder, e.g. argoproj.io/application-crd.yaml
    repo: str  # the release's GitHub repository, owner/name
    tag: str  # the release tag the file is taken from
    path: str  # the file's path in that repository at that tag
    sha256: str

    def url(self, base_url: str) -> str:
        return f"{base_url.rstrip('/')}/{self.repo}/{self.tag}/{self.path}"


@dataclass(frozen=True)
class Resolved:
    set_name: str
    folder: Path
    origin: str  # where the folder came from, in words
    file_count: int


def pinned_files(set_name: str, root: Path = paths.REPO_ROOT) -> list[PinnedFile]:
    """The files of one set as upstream-files.yaml under `root` lists them."""
    sets, releases = _read_manifest(root)
    if set_name not in sets:
        raise UpstreamFilesError(f"{MANIFEST} has no set {set_name!r}; it has {sorted(sets)}")
    files = []
    for entry in sets[set_name] or []:
        try:
            release = releases[entry["release"]]
            pinned = PinnedFile(
                entry["file"], release["repo"], release["tag"], entry["path"], entry["sha256"]
            )
        except KeyError as missing:
            raise UpstreamFilesError(
                f"{MANIFEST}: set {set_name!r}: {entry} has no {missing} (or no such release)"
            ) from None
        files.append(pinned)
    return files


def set_names(root: Path = paths.REPO_ROOT) -> list[str]:
    return list(_read_manifest(root)[0])


def _read_manifest(
    root: Path,
) -> tuple[dict[str, list[dict[str, str]]], dict[str, dict[str, str]]]:
    data = yaml.safe_load(paths.upstream_manifest(root).read_text(encoding="utf-8")) or {}
    return data.get("sets") or {}, data.get("releases") or {}


def folder(set_name: str, settings: Settings) -> Path:
    """A folder laid out like ../shared/<set_name> in which every pinned file exists with its
    sha256; UpstreamFilesError when there is none and none can be made."""
    return resolve(set_name, settings).folder


_RESOLVED: dict[tuple[str, Path, Path | None, str], Resolved] = {}
# Checks run in threads: one resolution (and download) per set at a time.
_LOCK = threading.Lock()


def resolve(set_name: str, settings: Settings) -> Resolved:
    key = (
        set_name,
        settings.upstream_root,
        settings.upstream_dirs.get(set_name),
        settings.upstream_base_url,
    )
    with _LOCK:
        if key not in _RESOLVED:
            _RESOLVED[key] = _resolve(set_name, settings)
        return _RESOLVED[key]


def forget() -> None:
    """Drop what this process has resolved, as a new process would start."""
    with _LOCK:
        _RESOLVED.clear()


def _resolve(set_name: str, settings: Settings) -> Resolved:
    root = settings.upstream_root
    files = pinned_files(set_name, root)
    explicit = settings.upstream_dirs.get(set_name)
    if explicit is not None:
        variable = UPSTREAM_DIR_VARIABLES[set_name]
        problems = _problems(explicit, files)
        if problems:
            raise UpstreamFilesError(
                f"{variable}={explicit} does not hold the pinned {set_name} files "
                f"({MANIFEST}):\n" + "\n".join(f"  {p}" for p in problems)
            )
        return Resolved(set_name, explicit, variable, len(files))
    skipped: list[str] = []
    mirror = paths.upstream_mirror(set_name, root)
    if mirror.is_dir():
        problems = _problems(mirror, files)
        if not problems:
            return Resolved(set_name, mirror, "the offline mirror", len(files))
        skipped = [f"{mirror} (the offline mirror) skipped:", *(f"  {p}" for p in problems)]
    cache = paths.upstream_cache(set_name, root)
    missing = [f for f in files if _sha256(cache / f.file) != f.sha256]
    failures = _download(missing, cache, settings.upstream_base_url) if missing else []
    _prune(cache, files)
    if failures:
        still_missing = [f for f in missing if _sha256(cache / f.file) != f.sha256]
        raise UpstreamFilesError(
            _instructions(set_name, still_missing, cache, settings, failures + skipped)
        )
    origin = f"downloaded from {settings.upstream_base_url}" if missing else "the cache"
    return Resolved(set_name, cache, origin, len(files))


def _problems(where: Path, files: list[PinnedFile]) -> list[str]:
    """What keeps `where` from being the set's folder: each missing or different file."""
    if not where.is_dir():
        return [f"{where} is not a folder"]
    problems = []
    for pinned in files:
        digest = _sha256(where / pinned.file)
        if digest is None:
            problems.append(f"{pinned.file}: missing")
        elif digest != pinned.sha256:
            problems.append(f"{pinned.file}: sha256 {digest}, but {MANIFEST} pins {pinned.sha256}")
    return problems


def _sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _download(missing: list[PinnedFile], cache: Path, base_url: str) -> list[str]:
    """Download each file into the cache; what went wrong, one line per file."""
    if not base_url.startswith(("https://", "http://")):
        return [f"UPSTREAM_BASE_URL={base_url} is not an http(s) URL"]
    failures = []
    for pinned in missing:
        url = pinned.url(base_url)
        try:
            with urllib.request.urlopen(url, timeout=TIMEOUT) as response:  # noqa: S310 (http(s) only)
                body = response.read()
        except urllib.error.HTTPError as error:
            failures.append(f"{url}: HTTP {error.code} {error.reason}")
            continue
        except OSError as error:  # URLError, refused, timed out
            # Unreachable: the other files would fail the same way, only slower.
            failures.append(f"could not download {url}: {getattr(error, 'reason', error)}")
            break
        digest = hashlib.sha256(body).hexdigest()
        if digest != pinned.sha256:
            failures.append(
                f"{pinned.file}: {url} has sha256 {digest}, but {MANIFEST} pins "
                f"{pinned.sha256}; not written to the cache"
            )
            continue
        _write_atomically(cache / pinned.file, body)
    return failures


def _write_atomically(target: Path, body: bytes) -> None:
    """A reader sees the whole file or none: written beside the target, then renamed over it.
    The temporary name (.<name>.<random>.part) matches no reader's pattern (`*.y*ml`)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        dir=target.parent, prefix=f".{target.name}.", suffix=".part"
    )
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _prune(cache: Path, files: list[PinnedFile]) -> None:
    """Files a former version of the manifest listed: gone, so no reader of the folder (the
    CRDs are loaded by glob) takes them for pinned ones. Temporary files are left to their
    writers."""
    if not cache.is_dir():
        return
    listed = {pinned.file for pinned in files}
    for path in cache.rglob("*"):
        rel = path.relative_to(cache).as_posix()
        if path.is_file() and not path.name.startswith(".") and rel not in listed:
            path.unlink()


def _instructions(
    set_name: str,
    missing: list[PinnedFile],
    cache: Path,
    settings: Settings,
    reasons: list[str],
) -> str:
    lines = [f"The pinned upstream files of set {set_name!r} ({MANIFEST}) are not available:"]
    lines += [f"  {reason}" for reason in reasons]
    lines.append("Do one of these, then run the command again:")
    lines.append(f"  - download each file from its URL to the path below it ({len(missing)}):")
    for pinned in missing:
        lines.append(f"      {pinned.url(settings.upstream_base_url)}")
        lines.append(f"        -> {cache / pinned.file}")
    variable = UPSTREAM_DIR_VARIABLES.get(set_name)
    if variable:
        lines.append(
            f"  - or set {variable} to a folder that holds every file of the set at its path "
            f"relative to {cache} (as ../shared/{set_name} holds them)"
        )
    lines.append(
        "  - or set UPSTREAM_BASE_URL to a mirror that serves <repo>/<tag>/<path> "
        f"as {DEFAULT_UPSTREAM_BASE_URL} does"
    )
    lines.append(f"Each file's sha256 is checked against {MANIFEST} wherever it comes from.")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gitops upstream",
        description="Resolve the pinned upstream files (download what is missing) and say "
        "where each set comes from.",
    )
    parser.add_argument("sets", nargs="*", help="sets to resolve (default: every set)")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    known = set_names(settings.upstream_root)
    unknown = sorted(set(args.sets) - set(known))
    if unknown:
        print(f"error: unknown set(s) {unknown}; expected some of {known}", file=sys.stderr)
        return 2
    for set_name in args.sets or known:
        resolved = resolve(set_name, settings)
        print(f"{set_name}: {resolved.file_count} files in {resolved.folder} ({resolved.origin})")
    return 0

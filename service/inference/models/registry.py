"""The MLflow registry as the service sees it: resolve a reference, download a version.

Neither needs mlflow in the serving process. Resolving (every poll) is one call to MLflow's
REST API. Downloading (once per new version) goes, when the server proxies artifacts (its
`--serve-artifacts`, how the platform runs it), through the same REST API: the version's
`source` names its logged model (`models:/m-<id>`), whose `artifact_uri` is an
`mlflow-artifacts:` location, and the proxy serves each file at
/api/2.0/mlflow-artifacts/artifacts/<path> (mlflow/server/handlers.py: get_logged_model,
_download_artifact). Only the files the chosen runtime needs are fetched. Any other location
(S3 read directly, MLFLOW_S3_ENDPOINT_URL) is downloaded by `python -m inference.fetch`, a
short-lived child with MLflow's client, whose imports and memory end with it.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import os
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from inference.contracts.model_uri import ModelUri

log = logging.getLogger("inference.registry")

# Same bound as the MLFLOW_HTTP_REQUEST_TIMEOUT default __main__ gives MLflow's client.
REQUEST_TIMEOUT_SECONDS = 15.0
# A download that takes longer than this is stuck; the reloader retries with backoff.
DOWNLOAD_TIMEOUT_SECONDS = 600.0
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


class RegistryError(RuntimeError):
    """The registry could not answer (unreachable, unknown model or alias, no permission)."""


class FileTooLarge(RegistryError):
    """A download stopped because the file went past the bytes it was allowed."""

    def __init__(self, relative: str, written: int) -> None:
        super().__init__(f"{relative} is larger than allowed ({written} bytes read so far)")
        self.written = written


class PendingDownload:
    """A download running in a child process; `wait()` returns the local folder."""

    def __init__(self, process: subprocess.Popen[str], what: str) -> None:
        self._process = process
        self._what = what

    def wait(self) -> Path:
        try:
            out, err = self._process.communicate(timeout=DOWNLOAD_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.cancel()
            raise RegistryError(
                f"cannot download {self._what}: no result after {DOWNLOAD_TIMEOUT_SECONDS:g} s"
            ) from None
        if err.strip():
            log.debug("fetch child for %s said: %s", self._what, err.strip())
        if self._process.returncode != 0:
            raise RegistryError(
                _last_line(err)
                or f"cannot download {self._what}: exit code {self._process.returncode}"
            )
        try:
            return Path(json.loads(out)["path"])
        except (ValueError, KeyError, TypeError):
            raise RegistryError(
                f"cannot download {self._what}: unreadable result {out!r:.200}"
            ) from None

    def cancel(self) -> None:
        if self._process.poll() is None:
            self._process.kill()
            self._process.communicate()


class Registry:
    def __init__(
        self, tracking_uri: str, username: str | None = None, password: str | None = None
    ) -> None:
        self.tracking_uri = tracking_uri.rstrip("/")
        self._headers = {"Accept": "application/json"}
        if username is not None and password is not None:
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"

    @property
    def _speaks_rest(self) -> bool:
        return self.tracking_uri.startswith(("http://", "https://"))

    def resolve(self, ref: ModelUri) -> tuple[str, str | None]:
        """Return (version, run_id) that `ref` points at right now."""
        if not self._speaks_rest:  # file:/sqlite: stores: only MLflow's client reads them
            found = self._run_fetch([ref.uri]).wait_json()
            return str(found["version"]), found.get("run_id")
        if ref.alias:
            query = {"name": ref.name, "alias": ref.alias}
            endpoint = "registered-models/alias"
        else:
            query = {"name": ref.name, "version": str(ref.version)}
            endpoint = "model-versions/get"
        url = f"{self.tracking_uri}/api/2.0/mlflow/{endpoint}?{urllib.parse.urlencode(query)}"
        try:
            found = self._get_json(url)["model_version"]
            return str(found["version"]), found.get("run_id") or None
        except RegistryError as exc:
            raise RegistryError(f"cannot resolve {ref.uri}: {exc}") from None
        except (KeyError, TypeError):
            raise RegistryError(f"cannot resolve {ref.uri}: unexpected answer from {url}") from None

    def aliases(self, name: str) -> dict[str, str]:
        """alias -> version of a registered model (one GET; rollouts look for a candidate)."""
        query = urllib.parse.urlencode({"name": name})
        found = self._get_json(f"{self._api}/mlflow/registered-models/get?{query}")
        model = found.get("registered_model") or {}
        return {str(a["alias"]): str(a["version"]) for a in model.get("aliases") or []}

    def alias_with_tags(self, name: str, alias: str) -> tuple[str, str | None, dict[str, str]]:
        """(version, run_id, the version's tags) an alias points at right now."""
        query = urllib.parse.urlencode({"name": name, "alias": alias})
        url = f"{self._api}/mlflow/registered-models/alias?{query}"
        try:
            found = self._get_json(url)["model_version"]
            tags = {str(t["key"]): str(t.get("value", "")) for t in found.get("tags") or []}
            return str(found["version"]), found.get("run_id") or None, tags
        except (KeyError, TypeError):
            raise RegistryError(f"cannot resolve {name}@{alias}: unexpected answer") from None

    def version_tags(self, name: str, version: str) -> dict[str, str]:
        """The version's tags, read from the registry's database (never its artifact store):
        the file digests recorded at registration are among them."""
        if not self._speaks_rest:
            found = self._run_fetch([f"models:/{name}/{version}"]).wait_json()
            return {str(k): str(v) for k, v in (found.get("tags") or {}).items()}
        query = urllib.parse.urlencode({"name": name, "version": version})
        try:
            found = self._get_json(f"{self._api}/mlflow/model-versions/get?{query}")
            listed = found["model_version"].get("tags") or []
            return {str(t["key"]): str(t.get("value", "")) for t in listed}
        except RegistryError as exc:
            raise RegistryError(f"cannot read the tags of {name} v{version}: {exc}") from None
        except (KeyError, TypeError, AttributeError):
            raise RegistryError(f"cannot read the tags of {name} v{version}") from None

    def start_download(self, name: str, version: str, destination: Path) -> PendingDownload:
        """Start downloading the version's artifacts; the caller may work meanwhile."""
        if importlib.util.find_spec("mlflow") is None:
            # The slim image (service/requirements-slim.txt) has no MLflow client.
            raise RegistryError(
                f"cannot download {name} v{version}: its artifacts are not behind the MLflow "
                "server's artifact proxy, and this image has no MLflow client to read them "
                "elsewhere (run the server with --serve-artifacts, or use the full image)"
            )
        return self._run_fetch([f"models:/{name}/{version}", str(destination)])

    def proxied_location(self, name: str, version: str) -> str | None:
        """The version's artifacts as a path under the server's artifact proxy, or None when
        they live elsewhere (or the server cannot say): then `start_download` fetches them."""
        if not self._speaks_rest:
            return None
        what = f"{name} v{version}"
        query = urllib.parse.urlencode({"name": name, "version": version})
        found = self._get_json(f"{self._api}/mlflow/model-versions/get?{query}")
        source = str((found.get("model_version") or {}).get("source") or "")
        if source.startswith("models:/m-"):
            model_id = source.removeprefix("models:/")
            logged = self._get_json(f"{self._api}/mlflow/logged-models/{model_id}")
            source = str((((logged.get("model") or {}).get("info")) or {}).get("artifact_uri", ""))
        elif source.startswith("runs:/"):
            run_id, _, path = source.removeprefix("runs:/").partition("/")
            query = urllib.parse.urlencode({"run_id": run_id})
            run = self._get_json(f"{self._api}/mlflow/runs/get?{query}")
            root = str((((run.get("run") or {}).get("info")) or {}).get("artifact_uri", ""))
            source = f"{root.rstrip('/')}/{path}" if root else ""
        if not source.startswith("mlflow-artifacts:"):
            log.debug("%s lives at %r, not behind the artifact proxy", what, source)
            return None
        # mlflow-artifacts:/<path> or mlflow-artifacts://<host>/<path>
        location = source.removeprefix("mlflow-artifacts:")
        if location.startswith("//"):
            location = location[2:].partition("/")[2]
        return location.strip("/")

    def download_file(
        self, location: str, relative: str, destination: Path, max_bytes: int | None = None
    ) -> int:
        """One file of a proxied location into destination/relative; its size. A file larger
        than `max_bytes` is cut off there and raises FileTooLarge."""
        quoted = urllib.parse.quote(f"{location}/{relative}")
        url = f"{self._api}/mlflow-artifacts/artifacts/{quoted}"
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        request = urllib.request.Request(url, headers=self._headers)  # noqa: S310 (http(s) only)
        try:
            with (
                urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response,  # noqa: S310
                target.open("wb") as out,
            ):
                written = 0
                while chunk := response.read(1 << 20):
                    written += len(chunk)
                    if max_bytes is not None and written > max_bytes:
                        raise FileTooLarge(relative, written)
                    out.write(chunk)
                return written
        except urllib.error.HTTPError as exc:
            raise RegistryError(f"cannot download {relative}: {_http_error(exc)}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RegistryError(f"cannot download {relative}: {reason}") from None

    @property
    def _api(self) -> str:
        return f"{self.tracking_uri}/api/2.0"

    def _run_fetch(self, arguments: list[str]) -> _FetchChild:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        env.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "inference.fetch",
                "--tracking-uri",
                self.tracking_uri,
                *arguments,
            ],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        return _FetchChild(process, " ".join(arguments[:1]).removeprefix("models:/"))

    def _get_json(self, url: str) -> dict:
        # Only http(s) tracking URIs get here (see _speaks_rest).
        request = urllib.request.Request(url, headers=self._headers)  # noqa: S310
        try:
            with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT_SECONDS) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            raise RegistryError(_http_error(exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise RegistryError(f"{self.tracking_uri} unreachable: {reason}") from None
        except ValueError as exc:
            raise RegistryError(f"not JSON from {url}: {exc}") from None


class _FetchChild(PendingDownload):
    def wait_json(self) -> dict:
        try:
            out, err = self._process.communicate(timeout=DOWNLOAD_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.cancel()
            raise RegistryError(f"cannot resolve models:/{self._what}: no answer") from None
        if self._process.returncode != 0:
            raise RegistryError(_last_line(err) or f"cannot resolve models:/{self._what}")
        return json.loads(out)


def _http_error(exc: urllib.error.HTTPError) -> str:
    """'HTTP 403 PERMISSION_DENIED: <MLflow's message>' from an error answer."""
    detail = ""
    try:
        body = json.loads(exc.read() or b"{}")
        parts = [str(body[k]) for k in ("error_code", "message") if body.get(k)]
        detail = ": ".join(parts)
    except (ValueError, AttributeError, OSError):
        pass
    detail = detail or str(exc.reason)
    return f"HTTP {exc.code} {detail}".splitlines()[0][:300]


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith("cannot "):
            return line
    return lines[-1][:300] if lines else ""

"""The MLflow registry over its REST API, standard library only (the judge's image has no
mlflow package). Endpoints as MLflow 3.17.2 serves them (mlflow/server/handlers.py): alias
lookups answer with the version and its tags; deleting an alias takes a JSON body."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


class RegistryError(RuntimeError):
    """The registry refused or could not answer; `status` is the HTTP status (0: no answer)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class RestFailure(Exception):
    """An MLflow REST call that got no success: `status` is the HTTP status (0: no answer),
    `payload` the error body when it is a JSON object, `text` the error body as text."""

    def __init__(
        self, status: int, reason: str, text: str = "", payload: dict[str, Any] | None = None
    ) -> None:
        super().__init__(f"HTTP {status} {reason}" if status else reason)
        self.status, self.reason, self.text, self.payload = status, reason, text, payload


def send(
    method: str,
    url: str,
    params: dict[str, str] | None,
    body: Any,
    headers: dict[str, str],
    timeout: float,
) -> bytes:
    """One MLflow REST call with a JSON body (if any); the raw answer, or RestFailure. The one
    transport of the judge's client here and of training/registry_access.py."""
    query = f"?{urllib.parse.urlencode(params)}" if params else ""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(f"{url}{query}", data=data, method=method, headers=headers)  # noqa: S310 (the configured registry URL)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.read()
    except urllib.error.HTTPError as error:
        try:
            text = error.read().decode(errors="replace")
        except OSError:
            text = ""
        try:
            payload = json.loads(text or "{}")
        except ValueError:
            payload = None
        payload = payload if isinstance(payload, dict) else None
        raise RestFailure(error.code, str(error.reason), text, payload) from None
    except (urllib.error.URLError, OSError) as error:
        raise RestFailure(0, str(getattr(error, "reason", error))) from None


@dataclass(frozen=True)
class ModelInfo:
    name: str
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> version
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class VersionInfo:
    name: str
    version: str
    run_id: str | None
    tags: dict[str, str] = field(default_factory=dict)


class MlflowRest:
    def __init__(
        self,
        tracking_uri: str,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 15.0,
    ) -> None:
        self.url = tracking_uri.rstrip("/")
        self.timeout = timeout
        self._headers = {"Accept": "application/json", "Content-Type": "application/json"}
        if username and password:
            token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"

    def _call(
        self, method: str, endpoint: str, params: dict[str, str] | None = None, body: Any = None
    ) -> dict[str, Any]:
        url = f"{self.url}/api/2.0/mlflow/{endpoint}"
        try:
            raw = send(method, url, params, body, self._headers, self.timeout)
        except RestFailure as failure:
            if not failure.status:
                raise RegistryError(f"MLflow at {self.url} unreachable: {failure.reason}") from None
            raise RegistryError(
                f"{method} {endpoint}: {_http_error(failure)}", failure.status
            ) from None
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            raise RegistryError(f"{method} {endpoint}: not JSON") from None

    def model(self, name: str) -> ModelInfo:
        found = self._call("GET", "registered-models/get", {"name": name})
        return _model(found.get("registered_model") or {})

    def models(self) -> Iterator[ModelInfo]:
        """Every registered model this user may read, page by page."""
        token = ""
        while True:
            params = {"max_results": "1000"}
            if token:
                params["page_token"] = token
            found = self._call("GET", "registered-models/search", params)
            for model in found.get("registered_models") or []:
                yield _model(model)
            token = found.get("next_page_token") or ""
            if not token:
                return

    def version(self, name: str, version: str) -> VersionInfo:
        found = self._call("GET", "model-versions/get", {"name": name, "version": version})
        return _version(found.get("model_version") or {})

    def version_by_alias(self, name: str, alias: str) -> VersionInfo:
        found = self._call("GET", "registered-models/alias", {"name": name, "alias": alias})
        return _version(found.get("model_version") or {})

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self._call(
            "POST",
            "registered-models/alias",
            body={"name": name, "alias": alias, "version": version},
        )

    def delete_alias(self, name: str, alias: str) -> None:
        self._call("DELETE", "registered-models/alias", body={"name": name, "alias": alias})

    def set_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self._call(
            "POST",
            "model-versions/set-tag",
            body={"name": name, "version": version, "key": key, "value": value},
        )

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        self._call(
            "POST", "registered-models/set-tag", body={"name": name, "key": key, "value": value}
        )


def _tags(raw: Any) -> dict[str, str]:
    return {str(t["key"]): str(t.get("value", "")) for t in raw or [] if "key" in t}


def _model(raw: dict[str, Any]) -> ModelInfo:
    aliases = {str(a["alias"]): str(a["version"]) for a in raw.get("aliases") or []}
    return ModelInfo(str(raw.get("name", "")), aliases, _tags(raw.get("tags")))


def _version(raw: dict[str, Any]) -> VersionInfo:
    return VersionInfo(
        str(raw.get("name", "")),
        str(raw.get("version", "")),
        raw.get("run_id") or None,
        _tags(raw.get("tags")),
    )


def _http_error(failure: RestFailure) -> str:
    body = failure.payload or {}
    detail = ": ".join(str(body[k]) for k in ("error_code", "message") if body.get(k))
    return f"HTTP {failure.status} {detail or failure.reason}".splitlines()[0][:300]

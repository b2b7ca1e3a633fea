"""Prometheus's HTTP API (instant queries), standard library only."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass


class PrometheusError(RuntimeError):
    """Prometheus could not answer the query."""


@dataclass(frozen=True)
class Sample:
    labels: dict[str, str]
    value: float


class Prometheus:
    def __init__(self, url: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def query(self, expr: str) -> list[Sample]:
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode({'query': expr})}"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310 (the configured Prometheus URL)
                body = json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise PrometheusError(f"HTTP {error.code} for {expr!r}") from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise PrometheusError(f"Prometheus at {self.url} unreachable: {reason}") from None
        if body.get("status") != "success":
            raise PrometheusError(f"query {expr!r} failed: {body.get('error', body)}")
        data = body.get("data") or {}
        if data.get("resultType") != "vector":
            raise PrometheusError(
                f"query {expr!r}: expected a vector, got {data.get('resultType')}"
            )
        return [
            Sample(dict(item.get("metric") or {}), float(item["value"][1]))
            for item in data.get("result") or []
        ]

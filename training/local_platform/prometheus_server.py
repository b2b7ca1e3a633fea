"""A local Prometheus (Debian's `prometheus` package) that scrapes the local services and
evaluates the platform's own rules, so alerts, recording rules and the rollout judge can be
watched on one machine exactly as the cluster's Prometheus computes them.

In the cluster, the ServiceMonitor gives each series `job="inference-service"` and
`tenant=<namespace>`; the static targets below carry the same labels, so the PromQL in
base/monitoring reads the local series unchanged.

Tests may start it with `rule_time_divisor=N`: every range selector, offset and `for:` of the
rules is divided by N (a [1h] window becomes [15s] with N=240), so what takes hours on a
cluster takes seconds, with the rules' logic unchanged. `make up` never does."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from training.local_platform import processes
from training.settings import REPO_ROOT

RULES_DIR = REPO_ROOT / "base" / "monitoring"
SCRAPE_JOB = "inference-service"


class PrometheusMissing(RuntimeError):
    """No `prometheus` binary on PATH."""


@dataclass(frozen=True)
class ScrapeTarget:
    tenant: str
    address: str  # host:port


@dataclass
class LocalPrometheus:
    url: str
    child: processes.Child

    def stop(self) -> None:
        self.child.stop()

    def query(self, expr: str, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Instant query; the result vector (`[{"metric": {...}, "value": [t, "v"]}, ...]`)."""
        return instant_query(self.url, expr, timeout)

    def targets_up(self) -> int:
        """How many service targets the last scrape reached."""
        result = self.query(f'count(up{{job="{SCRAPE_JOB}"}} == 1)')
        return int(float(result[0]["value"][1])) if result else 0

    def wait_for_targets(self, expected: int, timeout: float) -> None:
        """Until every target has been scraped once; RuntimeError naming how many were."""
        deadline = time.monotonic() + timeout
        while (reached := self.targets_up()) < expected:
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"Prometheus scraped {reached} of {expected} services after {timeout:.0f}s; "
                    f"see {self.url}/targets and {self.child.log_path}"
                )
            time.sleep(0.5)


def instant_query(url: str, expr: str, timeout: float = 10.0) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"query": expr})
    with urllib.request.urlopen(f"{url}/api/v1/query?{query}", timeout=timeout) as response:  # noqa: S310 (URL from settings)
        body = json.loads(response.read())
    if body.get("status") != "success":
        raise RuntimeError(f"Prometheus query failed: {body.get('error', body)}")
    return list(body["data"]["result"])


def rule_groups(rules_dir: Path = RULES_DIR) -> list[dict[str, Any]]:
    """The rule groups of every PrometheusRule in the monitoring base (their `spec.groups`)."""
    groups: list[dict[str, Any]] = []
    for path in sorted(rules_dir.glob("prometheusrule-*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document and document.get("kind") == "PrometheusRule":
                groups.extend(document.get("spec", {}).get("groups", []))
    return groups


_DURATION_PART = re.compile(r"(\d+)(ms|[smhdwy])")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
_UNIT_MS |= {"w": 7 * _UNIT_MS["d"], "y": 365 * _UNIT_MS["d"]}
# A range selector or subquery ([1h], [10m:1m]) and an offset (offset 5m) in PromQL.
_RANGE = re.compile(r"\[((?:\d+(?:ms|[smhdwy]))+)(?::((?:\d+(?:ms|[smhdwy]))+))?\]")
_OFFSET = re.compile(r"\boffset\s+((?:\d+(?:ms|[smhdwy]))+)")


def divided_duration(duration: str, divisor: int) -> str:
    """A Prometheus duration divided by `divisor`, in milliseconds (at least 1)."""
    parts = _DURATION_PART.findall(duration)
    if "".join(n + u for n, u in parts) != duration:
        raise ValueError(f"not a Prometheus duration: {duration!r}")
    total = sum(int(number) * _UNIT_MS[unit] for number, unit in parts)
    return f"{max(total // divisor, 1)}ms"


def divided_rule_times(groups: list[dict[str, Any]], divisor: int) -> list[dict[str, Any]]:
    """The rule groups with every window, offset and `for:` divided by `divisor` (tests only)."""
    if divisor == 1:
        return groups
    scaled = copy.deepcopy(groups)

    def window(match: re.Match[str]) -> str:
        inner = divided_duration(match[1], divisor)
        if match[2]:
            inner += ":" + divided_duration(match[2], divisor)
        return f"[{inner}]"

    for group in scaled:
        for rule in group["rules"]:
            expr = _RANGE.sub(window, rule["expr"])
            rule["expr"] = _OFFSET.sub(lambda m: f"offset {divided_duration(m[1], divisor)}", expr)
            if "for" in rule:
                rule["for"] = divided_duration(rule["for"], divisor)
    return scaled


def config(
    targets: Sequence[ScrapeTarget],
    scrape_interval: str,
    rules_file: Path,
    extra_jobs: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """`extra_jobs`: job name -> addresses of other local scrape targets (the rollout judge,
    job `rollout-judge` as its ServiceMonitor names it in the cluster)."""
    jobs = [
        {"job_name": job, "static_configs": [{"targets": list(addresses)}]}
        for job, addresses in (extra_jobs or {}).items()
    ]
    return {
        "global": {"scrape_interval": scrape_interval, "evaluation_interval": scrape_interval},
        "rule_files": [str(rules_file)],
        "scrape_configs": [
            {
                "job_name": SCRAPE_JOB,
                "static_configs": [
                    {
                        "targets": [target.address],
                        "labels": {"tenant": target.tenant, "namespace": target.tenant},
                    }
                    for target in targets
                ],
            },
            *jobs,
        ],
    }


def start(
    data_dir: Path,
    port: int,
    targets: Sequence[ScrapeTarget],
    scrape_interval: str = "5s",
    env: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    extra_jobs: Mapping[str, Sequence[str]] | None = None,
    rule_time_divisor: int = 1,
) -> LocalPrometheus:
    """Write the config and rules, start Prometheus on 127.0.0.1:port, wait for /-/ready.
    `rule_time_divisor` > 1 shortens the rules' windows and `for:` (tests only)."""
    binary = shutil.which("prometheus")
    if binary is None:
        raise PrometheusMissing(
            "prometheus not found on PATH (Debian package `prometheus`; `make up` installs it)"
        )
    data_dir.mkdir(parents=True, exist_ok=True)
    rules_file = data_dir / "rules.yaml"
    groups = divided_rule_times(rule_groups(), rule_time_divisor)
    rules_file.write_text(yaml.safe_dump({"groups": groups}), encoding="utf-8")
    config_file = data_dir / "prometheus.yaml"
    config_file.write_text(
        yaml.safe_dump(config(targets, scrape_interval, rules_file, extra_jobs)), encoding="utf-8"
    )
    url = f"http://127.0.0.1:{port}"
    child = processes.start(
        "prometheus",
        [
            binary,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={data_dir / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
            # Short local runs: keep a day, never fill the disk.
            "--storage.tsdb.retention.time=1d",
        ],
        dict(os.environ if env is None else env),
        data_dir / "prometheus.log",
    )
    try:
        processes.wait_until(child, lambda: processes.http_ok(f"{url}/-/ready"), timeout)
    except BaseException:
        child.stop()
        raise
    return LocalPrometheus(url, child)

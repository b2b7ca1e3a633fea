"""The same load shape as wrk, from asyncio + httpx, for machines without wrk.

Slower than wrk as a client (it shares the CPU with the servers), so absolute numbers are
lower; both servers are measured with the same client, which keeps the ratios comparable.
"""

from __future__ import annotations

import asyncio
import time

import httpx

from tests.benchmarks.load_result import LoadResult


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def _drive(url: str, body: bytes, concurrency: int, seconds: float) -> LoadResult:
    latencies: list[float] = []
    counts = {"non_2xx": 0, "socket": 0}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Content-Type": "application/json"}
    async with httpx.AsyncClient(limits=limits, timeout=10.0) as client:
        started = time.perf_counter()
        deadline = started + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                try:
                    response = await client.post(url, content=body, headers=headers)
                except httpx.HTTPError:
                    counts["socket"] += 1
                    continue
                latencies.append(time.perf_counter() - sent)
                if not 200 <= response.status_code < 400:
                    counts["non_2xx"] += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return LoadResult(
        requests=len(latencies),
        duration_seconds=elapsed,
        p50_ms=percentile(latencies, 0.50) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        non_2xx=counts["non_2xx"],
        socket_errors=counts["socket"],
    )


def run_python_load(url: str, body: str, concurrency: int, seconds: float) -> LoadResult:
    return asyncio.run(_drive(url, body.encode(), concurrency, seconds))

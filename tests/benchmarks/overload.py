"""A burst beyond a small queue: every refusal must be a 503 carrying Retry-After."""

from __future__ import annotations

import asyncio

import httpx


def overload_probe(label: str, url: str, body: str, concurrency: int) -> str:
    """`concurrency` requests at once to `url`; a sentence for the report's notes."""

    async def burst() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=concurrency)
        async with httpx.AsyncClient(limits=limits, timeout=30) as client:
            return await asyncio.gather(
                *(
                    client.post(url, content=body, headers={"Content-Type": "application/json"})
                    for _ in range(concurrency)
                )
            )

    responses = asyncio.run(burst())
    refused = [r for r in responses if r.status_code == 503]
    with_retry = [r for r in refused if r.headers.get("retry-after")]
    others = sorted({r.status_code for r in responses} - {200, 503})
    return (
        f"Overload probe ({label}): a burst of {concurrency} concurrent requests got "
        f"{len(responses) - len(refused)} answers and {len(refused)} refusals (503), "
        f"{len(with_retry)} of them with Retry-After"
        + (f"; unexpected statuses {others}" if others else "")
        + "."
    )

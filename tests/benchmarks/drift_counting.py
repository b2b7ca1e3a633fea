"""The CPU time the service's drift counting takes for one request, timed on its own.

Run in the harness's process on the version's own reference and the bench's request rows, with
nothing else of the run going on: unlike req/s on a shared machine, a process's CPU time per
call barely moves with what else runs. Divided by the server's CPU per request (measured in the
same run), it is the share of throughput counting costs when the server is CPU-bound."""

from __future__ import annotations

import time
from typing import Any

from inference.models.schema import InputSchema
from inference.models.version_drift import DriftCounts, parse_reference

REPEATS = 5
# Calls per timing: enough CPU time per repeat that the clock's resolution does not matter.
CALLS_PER_ROW_BUDGET = 2000


def counting_seconds(
    reference: dict[str, Any], columns: list[str], rows: list[list[float]], labels: list[Any]
) -> float:
    """CPU seconds DriftCounts.observe takes for one request of `rows` (best of REPEATS)."""
    schema = InputSchema.from_signature_inputs([{"name": c, "type": "double"} for c in columns])
    counts = DriftCounts(parse_reference(reference, schema, 32, 20), schema)
    calls = max(CALLS_PER_ROW_BUDGET // len(rows), 50)
    best = float("inf")
    for _ in range(REPEATS):
        started = time.process_time()
        for _ in range(calls):
            counts.observe(rows, labels)
        best = min(best, (time.process_time() - started) / calls)
    return best

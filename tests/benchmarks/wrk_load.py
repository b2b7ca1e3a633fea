"""Drive a server with wrk: a Lua script POSTs one JSON body and prints exact statistics."""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

from tests.benchmarks.load_result import LoadResult

RESULT_MARKER = "BENCH_RESULT"
# wrk's own text summary rounds latencies to two decimals in varying units; done() gets the
# raw histogram, so the script prints microseconds as key=value pairs on one line.
_DONE = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "%s requests=%d duration_us=%d p50_us=%d p99_us=%d "
    .. "status=%d connect=%d read=%d write=%d timeout=%d\\n",
    "MARKER", summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect, e.read, e.write, e.timeout))
end
""".replace("MARKER", RESULT_MARKER)
_PAIR = re.compile(r"(\w+)=(\d+)")


class WrkOutputError(ValueError):
    """wrk's output lacks the result line the script prints."""


def lua_script(body: str) -> str:
    """A wrk script sending `body` as a JSON POST; the body is inlined in a long bracket."""
    level = "=" * 3
    while f"]{level}]" in body:
        level += "="
    return (
        'wrk.method = "POST"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
        f"wrk.body = [{level}[{body}]{level}]\n" + _DONE
    )


def parse_wrk_output(output: str) -> LoadResult:
    """Read the line printed by the script's done() into a LoadResult."""
    for line in output.splitlines():
        if line.startswith(RESULT_MARKER):
            values = {key: int(value) for key, value in _PAIR.findall(line)}
            break
    else:
        raise WrkOutputError(f"no {RESULT_MARKER} line in wrk output:\n{output[-1000:]}")
    expected = ("requests", "duration_us", "p50_us", "p99_us", "status")
    missing = [key for key in expected if key not in values]
    if missing:
        raise WrkOutputError(f"{RESULT_MARKER} line lacks {missing}: {line}")
    return LoadResult(
        requests=values["requests"],
        duration_seconds=values["duration_us"] / 1e6,
        p50_ms=values["p50_us"] / 1000,
        p99_ms=values["p99_us"] / 1000,
        non_2xx=values["status"],
        socket_errors=sum(values.get(k, 0) for k in ("connect", "read", "write", "timeout")),
    )


def run_wrk(url: str, body: str, concurrency: int, seconds: float) -> LoadResult:
    """`wrk -t2 -cN -dS` against url; at most as many threads as connections, and as cores
    this process may run on (wrk inherits its affinity: one_core.py)."""
    threads = min(2, concurrency, len(os.sched_getaffinity(0)))
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as folder:
        script = Path(folder) / "post.lua"
        script.write_text(lua_script(body))
        completed = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{concurrency}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(script),
                url,
            ],
            capture_output=True,
            text=True,
            timeout=seconds + 30,
            check=False,
        )
    if completed.returncode != 0:
        raise WrkOutputError(f"wrk exited with {completed.returncode}: {completed.stderr.strip()}")
    return parse_wrk_output(completed.stdout)

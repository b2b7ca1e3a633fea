"""`python -m tests.benchmarks` (`make bench`): run, print the targets, write BENCHMARKS.md."""

from __future__ import annotations

import signal
import sys
from types import FrameType

from tests.benchmarks.report import render
from tests.benchmarks.run import run_bench
from tests.benchmarks.settings import BenchSettingsError, load_bench_settings
from tests.benchmarks.targets import evaluate


def _interrupt(signum: int, _: FrameType | None) -> None:
    # SIGTERM takes the same path as Ctrl-C, so every started server is stopped.
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    try:
        settings = load_bench_settings()
    except BenchSettingsError as exc:
        print(f"bench: {exc}", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        run = run_bench(settings)
    except KeyboardInterrupt:
        print("bench: interrupted; every server it started has been stopped", file=sys.stderr)
        return 130
    results = evaluate(run, settings.models)
    settings.output.write_text(render(run, settings.models, results))
    for target in results:
        print(f"{target.verdict:>14}  {target.name}: {target.measured}")
    print(f"wrote {settings.output} ({run.elapsed_seconds:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

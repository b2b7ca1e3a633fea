"""Issue 24's goals for the slim image (ONNX only, for pickle-free tenants), from the run's
containers: its size and its start to ready, beside the full image's in the report."""

from __future__ import annotations

from tests.benchmarks.results import BenchRun
from tests.benchmarks.targets import TargetResult

SLIM = "inference-service-slim:bench"
MAX_SLIM_IMAGE_MB = 250.0  # 10^6 bytes, as `docker image inspect` Size counts
MAX_SLIM_READY_SECONDS = 1.0


def slim_image_targets(run: BenchRun) -> list[TargetResult]:
    slim = [c for c in run.containers if c.image == SLIM]
    size_name = "slim image: size (docker image inspect)"
    size_goal = f"<= {MAX_SLIM_IMAGE_MB:g} MB"
    ready_name = "slim image: docker run -> /ready, every model"
    ready_goal = f"<= {MAX_SLIM_READY_SECONDS:g} s"
    if not slim:
        return [
            TargetResult(size_name, size_goal, "not measured", None),
            TargetResult(ready_name, ready_goal, "not measured", None),
        ]
    size_mb = slim[0].image_bytes / 1e6
    full = [c for c in run.containers if c.image != SLIM and c.image_bytes]
    beside = f" (full image {full[0].image_bytes / 1e6:.1f} MB)" if full else ""
    slowest = max(slim, key=lambda c: c.start_to_ready_seconds)
    readies = ", ".join(f"{c.model} {c.start_to_ready_seconds:.2f} s" for c in slim)
    return [
        TargetResult(
            size_name, size_goal, f"{size_mb:.1f} MB{beside}", size_mb <= MAX_SLIM_IMAGE_MB
        ),
        TargetResult(
            ready_name,
            ready_goal,
            readies,
            slowest.start_to_ready_seconds <= MAX_SLIM_READY_SECONDS,
            ""
            if slowest.start_to_ready_seconds <= MAX_SLIM_READY_SECONDS
            else f"{slowest.model}: {slowest.start_to_ready_seconds:.2f} s (imports, then resolve, "
            "download, load and self-check; docs/serving.md, Image)",
        ),
    ]

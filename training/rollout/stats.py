"""The statistics of the gates: bounds that account for how much evidence there is.

A raw ratio over 20 requests says little; the judge acts on confidence bounds instead, so a
small sample is inconclusive rather than a pass or a failure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist


def z_for(confidence: float) -> float:
    """One-sided normal quantile: 1.645 for 0.95."""
    return NormalDist().inv_cdf(confidence)


def wilson(successes: float, trials: float, z: float) -> tuple[float, float]:
    """Wilson score interval of a proportion (Wilson 1927): (lower, upper), each in [0, 1].
    Unlike the normal approximation it stays inside [0, 1] and is honest at 0 and n."""
    if trials <= 0:
        return 0.0, 1.0
    p = min(max(successes / trials, 0.0), 1.0)
    z2 = z * z
    denominator = 1 + z2 / trials
    center = (p + z2 / (2 * trials)) / denominator
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / denominator
    return max(0.0, center - half), min(1.0, center + half)


def distribution(counts: Mapping[str, float]) -> dict[str, float]:
    total = sum(max(v, 0.0) for v in counts.values())
    return {k: max(v, 0.0) / total for k, v in counts.items()} if total > 0 else {}


def total_variation(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Half the L1 distance between two class distributions (0: identical, 1: disjoint)."""
    pa, pb = distribution(a), distribution(b)
    return 0.5 * sum(abs(pa.get(k, 0.0) - pb.get(k, 0.0)) for k in pa.keys() | pb.keys())


def total_variation_margin(a: Mapping[str, float], b: Mapping[str, float], z: float) -> float:
    """How far the distance can stray from 0 by sampling alone: half the sum, over classes,
    of the z-margin of a difference of two proportions (pooled). Conservative: the per-class
    deviations are not independent, and their worst case is summed."""
    na, nb = sum(a.values()), sum(b.values())
    if na <= 0 or nb <= 0:
        return 1.0
    pooled = distribution({k: a.get(k, 0.0) + b.get(k, 0.0) for k in a.keys() | b.keys()})
    spread = 1 / na + 1 / nb
    return 0.5 * sum(z * math.sqrt(p * (1 - p) * spread) for p in pooled.values())


Buckets = list[tuple[float, float]]  # (upper bound `le`, cumulative count), +Inf last


def bucket_quantile(buckets: Buckets, q: float) -> float | None:
    """The q-quantile of a cumulative histogram, interpolated linearly inside its bucket as
    Prometheus's histogram_quantile does (a quantile in the +Inf bucket is the largest finite
    bound). None without observations."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    total = ordered[-1][1]
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def count_above(buckets: Buckets, threshold: float) -> float:
    """Observations above `threshold`, interpolating linearly inside the bucket holding it."""
    ordered = sorted(buckets)
    if not ordered:
        return 0.0
    total = ordered[-1][1]
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if threshold < bound:
            if math.isinf(bound):
                return total - lower_count
            share = (threshold - lower_bound) / (bound - lower_bound)
            return total - (lower_count + share * (count - lower_count))
        lower_bound, lower_count = bound, count
    return 0.0

"""One evaluation of a step: a verdict per gate, an overall verdict and the action it calls
for. Pure (no I/O), so every rule is tested on numbers.

- Fewer than minRequests candidate requests in the window: inconclusive, never a failure.
- A gate fails only when the evidence is confidently bad (a bound beyond the threshold); it
  passes only when confidently good; otherwise it is inconclusive.
- Any failure aborts at once. Success after the step's duration advances (or, after the last
  step, promotes when the policy allows, else waits for a person). Inconclusive after the
  step's duration pauses; the judge keeps evaluating and proceeds when the evidence settles.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

from .evidence import CANDIDATE, STABLE, Evidence
from .policy import Policy
from .state import AWAITING_PROMOTION, PAUSED, RolloutState
from .stats import (
    bucket_quantile,
    count_above,
    total_variation,
    total_variation_margin,
    wilson,
    z_for,
)

PASS, FAIL, INCONCLUSIVE = "pass", "fail", "inconclusive"
SUCCESS, FAILURE = "success", "failure"
# Actions the judge takes on an evaluation.
WAIT, ADVANCE, PAUSE, ABORT, PROMOTE, AWAIT = (
    "wait",
    "advance",
    "pause",
    "abort",
    "promote",
    "await-promotion",
)


@dataclass(frozen=True)
class GateResult:
    gate: str
    verdict: str
    detail: str


@dataclass(frozen=True)
class Evaluation:
    verdict: str  # success, failure or inconclusive
    action: str
    reason: str
    step: int
    mode: str
    weight: int
    window_seconds: int
    candidate_requests: float
    stable_requests: float
    gates: list[GateResult] = field(default_factory=list)
    at: str = ""

    def summary(self) -> str:
        """One line of evidence for the history (which keeps it short)."""
        parts = [f"{g.gate} {g.verdict}: {g.detail}" for g in self.gates]
        head = (
            f"{self.verdict} over {self.window_seconds}s, "
            f"{self.candidate_requests:.0f} candidate requests"
        )
        return "; ".join([head, *parts])

    def encode(self) -> str:
        data = asdict(self)
        data["candidate_requests"] = round(self.candidate_requests, 1)
        data["stable_requests"] = round(self.stable_requests, 1)
        return json.dumps(data, separators=(",", ":"))


def _pct(value: float) -> str:
    return f"{100 * value:.2f}%"


def errors_gate(policy: Policy, ev: Evidence, z: float) -> GateResult:
    n, k = ev.requests.get(CANDIDATE, 0.0), ev.errors.get(CANDIDATE, 0.0)
    ns, ks = ev.requests.get(STABLE, 0.0), ev.errors.get(STABLE, 0.0)
    stable_ratio = ks / ns if ns > 0 else 0.0
    low, high = wilson(k, n, z)
    limit = policy.gates.max_error_increase
    detail = (
        f"candidate {k:.0f}/{n:.0f} failed (bounds {_pct(low)}..{_pct(high)}), stable "
        f"{_pct(stable_ratio)}; increase allowed {_pct(limit)}"
    )
    if low - stable_ratio > limit:
        return GateResult("errorRatio", FAIL, detail)
    if high - stable_ratio <= limit:
        return GateResult("errorRatio", PASS, detail)
    return GateResult("errorRatio", INCONCLUSIVE, detail)


def latency_gate(policy: Policy, ev: Evidence, z: float) -> GateResult:
    """Fails only when the candidate is confidently slower: more than 1 - quantile of its
    requests took longer than the stable version's quantile times maxRatio (and longer by
    more than toleranceSeconds), by the lower Wilson bound. Two quantiles of a hundred
    requests each are too noisy to compare directly (a good candidate measured 1.53 times
    slower at p95 for a moment here), so this counts requests instead."""
    gates = policy.gates
    q = gates.latency_quantile
    candidate, stable = ev.latency.get(CANDIDATE, []), ev.latency.get(STABLE, [])
    stable_q, candidate_q = bucket_quantile(stable, q), bucket_quantile(candidate, q)
    name = f"p{100 * q:g}"
    if stable_q is None or candidate_q is None:
        return GateResult("latency", INCONCLUSIVE, f"no {name} for both versions yet")
    limit = max(stable_q * gates.max_latency_ratio, stable_q + gates.latency_tolerance_seconds)
    total = max(count for _, count in candidate)
    slower = count_above(candidate, limit)
    low, high = wilson(slower, total, z)
    allowed = 1 - q
    detail = (
        f"{name} candidate {1000 * candidate_q:.2f} ms, stable {1000 * stable_q:.2f} ms; "
        f"{slower:.0f}/{total:.0f} candidate requests over {1000 * limit:.2f} ms (bounds "
        f"{_pct(low)}..{_pct(high)}), at most {_pct(allowed)} allowed"
    )
    if low > allowed:
        return GateResult("latency", FAIL, detail)
    return GateResult("latency", PASS, detail)


def agreement_gate(policy: Policy, ev: Evidence, z: float) -> GateResult:
    n = ev.agree + ev.disagree
    low, high = wilson(ev.agree, n, z)
    minimum = policy.gates.min_agreement
    detail = (
        f"{ev.agree:.0f}/{n:.0f} rows agree (bounds {_pct(low)}..{_pct(high)}), "
        f"at least {_pct(minimum)} required"
    )
    if n <= 0:
        return GateResult("agreement", INCONCLUSIVE, "no rows compared yet")
    if high < minimum:
        return GateResult("agreement", FAIL, detail)
    if low >= minimum:
        return GateResult("agreement", PASS, detail)
    return GateResult("agreement", INCONCLUSIVE, detail)


def class_shift_gate(policy: Policy, ev: Evidence, z: float) -> GateResult:
    candidate, stable = ev.classes.get(CANDIDATE, {}), ev.classes.get(STABLE, {})
    if sum(candidate.values()) <= 0 or sum(stable.values()) <= 0:
        return GateResult("classShift", INCONCLUSIVE, "no predictions of both versions yet")
    distance = total_variation(candidate, stable)
    margin = total_variation_margin(candidate, stable, z)
    limit = policy.gates.max_class_shift
    detail = f"distance {distance:.3f} (sampling margin {margin:.3f}), at most {limit:g}"
    if distance - margin > limit:
        return GateResult("classShift", FAIL, detail)
    if distance <= limit:
        return GateResult("classShift", PASS, detail)
    return GateResult("classShift", INCONCLUSIVE, detail)


def evaluate(policy: Policy, state: RolloutState, ev: Evidence, now: float) -> Evaluation:
    z = z_for(policy.confidence)
    step = policy.steps[state.step]
    elapsed = now - state.step_started_at
    done = elapsed >= step.duration_seconds
    last = state.step == len(policy.steps) - 1
    candidate_requests = ev.requests.get(CANDIDATE, 0.0)
    gates = [errors_gate(policy, ev, z), latency_gate(policy, ev, z)]
    if state.mode == "shadow":
        gates.append(agreement_gate(policy, ev, z))
    gates.append(class_shift_gate(policy, ev, z))

    if candidate_requests < policy.min_requests:
        verdict = INCONCLUSIVE
        reason = (
            f"too little traffic: {candidate_requests:.0f} of {policy.min_requests} candidate "
            f"requests in {ev.window_seconds}s"
        )
    elif failed := [g.gate for g in gates if g.verdict == FAIL]:
        verdict, reason = FAILURE, f"gate failed: {', '.join(failed)}"
    elif open_ := [g.gate for g in gates if g.verdict == INCONCLUSIVE]:
        verdict, reason = INCONCLUSIVE, f"not enough evidence yet: {', '.join(open_)}"
    else:
        verdict, reason = SUCCESS, "every gate passed"

    if verdict == FAILURE:
        action = ABORT
    elif state.status == AWAITING_PROMOTION:
        action, reason = WAIT, f"{reason}; waiting for `rollout promote`"
    elif verdict == SUCCESS and done:
        action = (PROMOTE if policy.auto_promote else AWAIT) if last else ADVANCE
    elif verdict == INCONCLUSIVE and done and state.status != PAUSED:
        action = PAUSE
    else:
        action = WAIT
        if not done:
            reason = f"{reason}; {step.duration_seconds - elapsed:.0f}s left in the step"
    return Evaluation(
        verdict=verdict,
        action=action,
        reason=reason,
        step=state.step,
        mode=state.mode,
        weight=state.weight,
        window_seconds=ev.window_seconds,
        candidate_requests=candidate_requests,
        stable_requests=ev.requests.get(STABLE, 0.0),
        gates=gates,
        at=datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds"),
    )

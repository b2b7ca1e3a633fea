"""The judge's Prometheus queries select one model's series: every query of a step names the
rollout's model, and a name that could change the query's meaning is refused."""

from __future__ import annotations

import pytest

from tests.support.rollouts import policy_document
from training.rollout.evidence import gather, model_matcher
from training.rollout.policy import parse_policy
from training.rollout.prometheus import Sample
from training.rollout.state import initial_state


class RecordingPrometheus:
    def __init__(self) -> None:
        self.queries: list[str] = []

    def query(self, expr: str) -> list[Sample]:
        self.queries.append(expr)
        return []


def test_every_query_of_a_step_names_the_model() -> None:
    state = initial_state(
        parse_policy(policy_document()), "tenant-a-churn", "tenant-a", "1", "2", 1000.0
    )
    prometheus = RecordingPrometheus()
    gather(prometheus, state, 1010.0, "inference-service")  # type: ignore[arg-type]
    assert len(prometheus.queries) == 4
    for query in prometheus.queries:
        assert 'tenant="tenant-a",model=~"tenant-a-churn|"' in query, query


@pytest.mark.parametrize("name", ['a"b', "a.b", "a|b", "a b", ""])
def test_a_name_that_would_change_the_query_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="letters, digits"):
        model_matcher(name)

"""The tokenizer that finds metric names in PromQL."""

from __future__ import annotations

import pytest

from .promql_names import PromQLSyntaxError, metric_names


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("up", {"up"}),
        ('up{job="inference-service"} == 0', {"up"}),
        (
            "sum by (tenant, le) (rate(a_bucket[5m]))",
            {"a_bucket"},
        ),
        # Label names in matchers and grouping lists are not metrics.
        ('count by (tenant) (count without (pod) (info{version!="1"} == 1))', {"info"}),
        ("a / on (namespace, pod) group_left (node) b", {"a", "b"}),
        ("a / ignoring (le) group_right c", {"a", "c"}),
        # Strings may hold anything, including braces and names.
        ('label_replace(a, "tenant", "$1", "namespace", "(.*)")', {"a"}),
        ('a{route=~"/x|}{y"} unless b', {"a", "b"}),
        # Durations, subqueries, offsets and numbers with exponents.
        ("max_over_time(a[10m:1m] offset 5m) > bool 1e-3", {"a"}),
        ("time() - max(a)", {"a"}),
        ('{__name__="a", job="x"} or b', {"a", "b"}),
        ("histogram_quantile(0.99, sum by (le) (rate(h_bucket[5m])))", {"h_bucket"}),
        ("rate (a [1m]) and on() vector(1)", {"a"}),
        ("sum(rate(a[5m])) by (job) > 0.5 and inf > nan", {"a"}),
        ("a:recorded:rate5m * 2", {"a:recorded:rate5m"}),
    ],
)
def test_metric_names(expr: str, expected: set[str]) -> None:
    assert metric_names(expr) == expected


# Parentheses are left to promtool; strings, selectors and ranges must close for the
# tokenizer to know what it is skipping.
@pytest.mark.parametrize("expr", ['a{job="x}', "rate(a[5m)", "a{job='x}", 'a{job="x\\"}'])
def test_unterminated_strings_and_selectors_are_errors(expr: str) -> None:
    with pytest.raises(PromQLSyntaxError):
        metric_names(expr)

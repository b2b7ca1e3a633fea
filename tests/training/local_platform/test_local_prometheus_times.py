"""The test-only time scaling of the local Prometheus' rules: windows, offsets and `for:` are
divided, nothing else changes."""

from __future__ import annotations

import pytest

from training.local_platform.prometheus_server import (
    divided_duration,
    divided_rule_times,
    rule_groups,
)


def test_durations_are_divided_into_milliseconds() -> None:
    assert divided_duration("1h", 240) == "15000ms"
    assert divided_duration("1h30m", 2) == "2700000ms"
    assert divided_duration("500ms", 1000) == "1ms"
    with pytest.raises(ValueError, match="not a Prometheus duration"):
        divided_duration("1 hour", 2)


def test_windows_offsets_and_for_are_divided_and_the_rest_kept() -> None:
    groups = [
        {
            "name": "g",
            "rules": [
                {
                    "alert": "A",
                    "expr": 'rate(x{le="1h"}[5m]) > max_over_time(y[1h:1m] offset 10m)',
                    "for": "30m",
                    "labels": {"severity": "warning"},
                },
                {"record": "r", "expr": "sum(increase(z[1h]))"},
            ],
        }
    ]

    scaled = divided_rule_times(groups, 60)

    assert scaled[0]["rules"][0]["expr"] == (
        'rate(x{le="1h"}[5000ms]) > max_over_time(y[60000ms:1000ms] offset 10000ms)'
    )
    assert scaled[0]["rules"][0]["for"] == "30000ms"
    assert scaled[0]["rules"][0]["labels"] == {"severity": "warning"}
    assert scaled[0]["rules"][1] == {"record": "r", "expr": "sum(increase(z[60000ms]))"}
    assert groups[0]["rules"][0]["for"] == "30m", "the caller's groups are left alone"
    assert divided_rule_times(groups, 1) is groups


def test_every_platform_rule_can_be_scaled() -> None:
    scaled = divided_rule_times(rule_groups(), 240)

    exprs = [rule["expr"] for group in scaled for rule in group["rules"]]
    assert not [e for e in exprs if "[1h]" in e or "[5m]" in e]

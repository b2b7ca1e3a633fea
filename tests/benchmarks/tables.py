"""Markdown tables and the number formats every section of the report uses."""

from __future__ import annotations

from collections.abc import Sequence

from tests.benchmarks.results import Point

MIB = 2**20


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; cells are str()-ed with pipes escaped."""

    def line(cells: Sequence[object]) -> str:
        return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"

    return "\n".join([line(header), line(["---"] * len(header)), *(line(row) for row in rows)])


def rate(point: Point | None) -> str:
    return f"{point.result.requests_per_second:,.0f}" if point and point.result else "-"


def ms(value: float) -> str:
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def ratio(ours: Point | None, theirs: Point | None) -> str:
    if not (ours and theirs and ours.result and theirs.result):
        return "-"
    if not theirs.result.requests_per_second:
        return "inf"
    return f"{ours.result.requests_per_second / theirs.result.requests_per_second:.1f}x"

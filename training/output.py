"""Console output: result tables and timed progress lines (rich)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.table import Table

# Piped output (CI, tests) gets a wide fixed width instead of rich's 80-column default.
console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
errors = Console(stderr=True, width=None if sys.stderr.isatty() else 160, highlight=False)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    grid = Table(title=title, title_justify="left")
    for column in columns:
        grid.add_column(column)
    for row in rows:
        grid.add_row(*("" if cell is None else str(cell) for cell in row))
    console.print(grid)


def shown_path(path: Path | str) -> str:
    """Relative to the working directory when inside it, as a user would type it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def metric(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


class Progress:
    """Prints `[  12.3s] step ...` lines; long steps show a spinner on a terminal."""

    def __init__(self) -> None:
        self.started = time.monotonic()

    def elapsed(self) -> str:
        return f"[{time.monotonic() - self.started:7.1f}s]"

    def note(self, message: str) -> None:
        console.print(f"{self.elapsed()} {message}")

    @contextmanager
    def step(self, message: str) -> Iterator[None]:
        step_started = time.monotonic()
        console.print(f"{self.elapsed()} {message} ...")
        if console.is_terminal:
            with console.status(message):
                yield
        else:
            yield
        console.print(f"{self.elapsed()} {message}: done in {time.monotonic() - step_started:.1f}s")

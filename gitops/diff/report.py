"""Markdown (PR comment) and plain-text reports of a rendered manifest diff."""

from __future__ import annotations

import re

from gitops.diff.resources import AppDiff

MARKER = "<!-- rendered-manifest-diff -->"
ARTIFACT_NAME = "rendered-manifest-diff"
# GitHub rejects comments over 65,536 characters.
DEFAULT_MAX_CHARS = 65_000


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _counts(app: AppDiff) -> str:
    return f"+{app.count('added')} ~{app.count('changed')} -{app.count('removed')}"


def _label(app: AppDiff) -> str:
    suffix = {"added": " (new application)", "removed": " (removed application)"}
    return f"{app.key}{suffix.get(app.status, '')}"


def _markdown_summary(apps: list[AppDiff], base: str, head: str) -> str:
    changed = [a for a in apps if a.status != "unchanged"]
    lines = [MARKER, "### Rendered manifest diff", "", f"base `{base}` → head `{head}`", ""]
    if not changed:
        lines.append(f"No rendered change in any of the {len(apps)} applications.")
    else:
        lines += [
            f"{len(changed)} of {len(apps)} applications change.",
            "",
            "| application | added | changed | removed |",
            "| --- | ---: | ---: | ---: |",
        ]
        lines += [
            f"| `{_label(a)}` | {a.count('added')} | {a.count('changed')} | {a.count('removed')} |"
            for a in changed
        ]
    errors = [f"- `{a.key}`: {e}" for a in apps for e in a.errors]
    if errors:
        lines += ["", "**Could not render** (the diff above may be incomplete):", *errors]
    return "\n".join(lines) + "\n"


def _markdown_block(app: AppDiff) -> str:
    parts = [
        f"<details><summary><code>{_label(app)}</code> {_counts(app)}"
        f" (source: {app.source})</summary>\n"
    ]
    if not app.changes:
        parts.append("\nOnly the application's source changed.\n")
    for change in app.changes:
        fence = _fence(change.diff)
        parts.append(f"\n**{change.status}** `{change.key}`\n\n{fence}diff\n{change.diff}{fence}\n")
    parts.append("\n</details>\n")
    return "".join(parts)


def _text_summary(apps: list[AppDiff], base: str, head: str) -> str:
    changed = [a for a in apps if a.status != "unchanged"]
    lines = [f"Rendered manifest diff: base {base} -> head {head}"]
    if not changed:
        lines.append(f"No rendered change in any of the {len(apps)} applications.")
    else:
        lines.append(f"{len(changed)} of {len(apps)} applications change:")
        width = max(len(_label(a)) for a in changed)
        lines.append(f"  {'application'.ljust(width)}  added  changed  removed")
        lines += [
            f"  {_label(a).ljust(width)}  {a.count('added'):>5}  {a.count('changed'):>7}"
            f"  {a.count('removed'):>7}"
            for a in changed
        ]
    lines += [f"could not render {a.key}: {e}" for a in apps for e in a.errors]
    return "\n".join(lines) + "\n"


def _text_block(app: AppDiff) -> str:
    parts = [f"\n=== {_label(app)} {_counts(app)} (source: {app.source})\n"]
    parts += [f"--- {change.status}: {change.key}\n{change.diff}" for change in app.changes]
    return "".join(parts)


def build(apps: list[AppDiff], base: str, head: str, fmt: str, max_chars: int) -> tuple[str, str]:
    """Return (report cut to `max_chars`, full report). Only whole application diffs are
    dropped, from the end, and the summary table always stays."""
    markdown = fmt == "markdown"
    summary = (_markdown_summary if markdown else _text_summary)(apps, base, head)
    blocks = [
        (_markdown_block if markdown else _text_block)(a) for a in apps if a.status != "unchanged"
    ]
    full = summary + "".join(blocks)
    if len(full) <= max_chars:
        return full, full
    kept: list[str] = []
    for block in blocks:
        notice = _notice(markdown, len(kept) + 1, len(blocks))
        if len(summary) + len(notice) + sum(map(len, kept)) + len(block) > max_chars:
            break
        kept.append(block)
    notice = _notice(markdown, len(kept), len(blocks))
    return summary + notice + "".join(kept), full


def _notice(markdown: bool, shown: int, total: int) -> str:
    text = (
        f"The diff is truncated: {shown} of {total} application diffs are shown here. "
        f"The full diff is in the workflow artifact `{ARTIFACT_NAME}`."
    )
    return f"\n> [!WARNING]\n> {text}\n\n" if markdown else f"\n*** {text}\n"

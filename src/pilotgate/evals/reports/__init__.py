"""Reports of a stored run: JSON (scripts), JUnit XML (any CI's test view), Markdown (a PR comment).

Each takes a ``StoredRun`` and returns text; the terminal table lives in the CLI (nothing below ``cli/``
imports rich).
"""

from __future__ import annotations

from collections.abc import Callable

from pilotgate.errors import UsageError
from pilotgate.evals.reports.json_report import json_report, run_json
from pilotgate.evals.reports.junit import junit_report
from pilotgate.evals.reports.markdown import comparison_markdown, markdown_report
from pilotgate.evals.runs import StoredRun

FORMATS: dict[str, Callable[[StoredRun], str]] = {
    "json": json_report,
    "junit": junit_report,
    "markdown": markdown_report,
}


def render(run: StoredRun, fmt: str) -> str:
    """The report of *run* in *fmt* (json, junit or markdown)."""
    try:
        return FORMATS[fmt](run)
    except KeyError:
        raise UsageError(f"unknown report format {fmt!r}", hint=f"one of {', '.join(FORMATS)}") from None


__all__ = [
    "FORMATS",
    "comparison_markdown",
    "json_report",
    "junit_report",
    "markdown_report",
    "render",
    "run_json",
]

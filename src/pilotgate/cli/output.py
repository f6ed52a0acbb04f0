"""Shared console objects for the CLI: one for results (stdout), one for messages (stderr)."""

from __future__ import annotations

from rich.console import Console

console = Console(highlight=False, soft_wrap=True)
"""Results: tables, answers, JSON."""

err_console = Console(stderr=True, highlight=False, soft_wrap=True)
"""Messages: progress, warnings, hints."""

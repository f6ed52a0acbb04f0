"""The typer app, assembled from one module per command group, and the one place errors become exits.

A ``PilotgateError`` becomes its message, its hint and its exit code (2 usage or config, 1 a failed
check); any other exception is a bug and says so. Tracebacks only with ``--debug`` or PILOTGATE_DEBUG=1.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console

from pilotgate import settings
from pilotgate.errors import PilotgateError

app = typer.Typer(
    name="pilotgate",
    help="Take one AI workflow from pilot to production: receipts, not claims.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)

_state = {"debug": False}


@app.callback()
def _root(
    debug: Annotated[bool, typer.Option("--debug", help="Print tracebacks for errors.")] = False,
) -> None:
    """Take one AI workflow from pilot to production: receipts, not claims."""
    _state["debug"] = debug or settings.DEBUG.get() == "1"


def _register() -> None:
    """Attach each command group's module to the app."""
    from pilotgate.cli import commands

    commands.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``pilotgate`` console script."""
    _register()
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    try:
        app(args=argv, prog_name="pilotgate")
    except PilotgateError as exc:
        if _state["debug"] or settings.DEBUG.get() == "1":
            raise
        err.print(f"[bold red]error:[/] {_escape(exc.message)}")
        if exc.hint:
            err.print(f"[dim]hint:[/] {_escape(exc.hint)}")
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]; nothing already recorded was changed")
        sys.exit(130)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)

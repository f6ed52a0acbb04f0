"""An in-process CLI for the fast CLI tests: a fresh typer app with every command registered."""

from __future__ import annotations

import typer
from typer.testing import CliRunner, Result

from pilotgate.cli import commands


def fresh_app() -> typer.Typer:
    """The pilotgate command tree on a new app (registering twice on one app would duplicate commands)."""
    app = typer.Typer(no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)

    @app.callback()
    def root() -> None:
        """Test root."""

    commands.register(app)
    return app


def invoke(app: typer.Typer, *args: str) -> Result:
    """Run one command in this process, wide enough that tables do not wrap ids."""
    return CliRunner().invoke(app, list(args), env={"COLUMNS": "250"})

"""`pilotgate tools list`: the declared tools, what they change, and who may call them."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pilotgate.cli.options import PilotOption
from pilotgate.cli.output import console, err_console
from pilotgate.workspace import load_workspace_config

tools_app = typer.Typer(name="tools", help="Inspect the pilot's declared tools.", no_args_is_help=True)

_RISK = {"low": "green", "medium": "yellow", "high": "red"}


def _adapter_kind(adapter: str) -> str:
    return "python" if adapter.startswith("python:") else "mcp" if adapter.startswith("mcp:") else "http"


@tools_app.command("list")
def list_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print the tools as JSON.")] = False,
    pilot: PilotOption = None,
) -> None:
    """Show each tool's effect, risk, replay safety, cost per call, roles and adapter kind."""
    spec = load_workspace_config(pilot).spec
    if as_json:
        rows = [
            {
                "name": tool.name,
                "effect": tool.effect,
                "risk": tool.risk,
                "replay": tool.replay,
                "cost_per_call": str(tool.cost_per_call),
                "roles": list(tool.roles),
                "adapter": _adapter_kind(tool.adapter),
            }
            for tool in spec.tools
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    if not spec.tools:
        err_console.print("no tools declared; add them under `tools:` in pilot.yaml (see docs/tools.md)")
        return
    table = Table(title_justify="left")
    for column in ("tool", "effect", "risk", "replay", "cost", "roles", "adapter"):
        table.add_column(column, overflow="fold")
    for tool in spec.tools:
        table.add_row(
            escape(tool.name),
            tool.effect,
            f"[{_RISK[tool.risk]}]{tool.risk}[/]",
            tool.replay,
            str(tool.cost_per_call),
            escape(", ".join(tool.roles)) or "[red](nobody)[/]",
            _adapter_kind(tool.adapter),
        )
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add the ``tools`` command group."""
    app.add_typer(tools_app, name="tools")

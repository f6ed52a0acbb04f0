"""`pilotgate check` and `pilotgate schema`: validate pilot.yaml (and the eval packs it names); print its JSON
Schema."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from pilotgate.cli.options import PilotOption
from pilotgate.cli.output import console
from pilotgate.evals import load_packs
from pilotgate.spec import pilot_json_schema
from pilotgate.workspace import check_environment, load_workspace_config


def check(
    path: Annotated[
        Path | None, typer.Argument(help="pilot.yaml or its folder. Default: --pilot, then ./pilot.yaml.")
    ] = None,
    pilot: PilotOption = None,
) -> None:
    """Validate pilot.yaml and its eval packs: every problem at once, each with file:line:column, field and a
    hint."""
    loaded = load_workspace_config(path or pilot)
    check_environment(loaded)
    spec = loaded.spec
    cases = len(load_packs(loaded).cases) if spec.evals.packs else 0
    counts = ", ".join(
        _count(number, noun)
        for number, noun in (
            (len(spec.users), "user"),
            (len(spec.sources), "source"),
            (len(spec.models) or 1, "model"),
            (len(spec.tools), "tool"),
            (len(spec.policy.rules), "policy rule"),
            (cases, "eval case"),
        )
    )
    pilot = f"pilot [bold]{spec.pilot.name}[/] (owner {spec.pilot.owner})"
    console.print(f"[green]ok[/] {loaded.path}: {pilot}, {counts}")
    for warning in loaded.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def schema() -> None:
    """Print the JSON Schema of pilot.yaml (point your editor's YAML language server at it)."""
    typer.echo(json.dumps(pilot_json_schema(), indent=2))


def register(app: typer.Typer) -> None:
    """Add `check` and `schema`."""
    app.command()(check)
    app.command()(schema)

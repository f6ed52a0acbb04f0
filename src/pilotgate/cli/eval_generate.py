"""`pilotgate eval capture TASK...` and `pilotgate eval redteam`: eval packs generated from the pilot.

These commands join the ``eval`` group that ``pilotgate.cli.evals`` owns by decorating its ``eval_app``
when this module is imported; ``register`` therefore adds nothing itself. It exists because every module
in COMMAND_MODULES has one, and importing this module (which ``commands.register`` does, after "evals")
is what attaches the commands. Kept apart from ``evals.py`` so generating packs and reading runs can
change independently.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from pilotgate.cli.evals import eval_app
from pilotgate.cli.options import DbOption, PilotOption
from pilotgate.cli.output import err_console
from pilotgate.errors import UsageError
from pilotgate.evals.capture import capture_tasks, captured_pack
from pilotgate.evals.cases import CATEGORIES
from pilotgate.evals.packs import load_pack
from pilotgate.evals.redteam import plant_canaries, redteam_cases, redteam_pack
from pilotgate.workspace import load_workspace_config, open_workspace

OutputOption = Annotated[
    Path | None,
    typer.Option(
        "--output", "-o", help="Write the pack to this .yaml file. Default: print it.", show_default=False
    ),
]
ForceOption = Annotated[bool, typer.Option("--force", help="Overwrite the --output file if it exists.")]


def _write(text: str, output: Path | None, force: bool) -> None:
    """Print the pack, or write it and check it loads (a generated pack that does not load is a bug)."""
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.suffix.lower() not in (".yaml", ".yml"):
        raise UsageError(f"{output}: a generated pack is YAML", hint="name the file *.yaml")
    if output.exists() and not force:
        raise UsageError(f"{output} exists", hint="pass --force to overwrite it, or choose another file")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    load_pack(output)


@eval_app.command("capture")
def capture(
    tasks: Annotated[list[str], typer.Argument(help="Task ids to turn into cases.", show_default=False)],
    output: OutputOption = None,
    category: Annotated[
        str, typer.Option("--category", "-c", help=f"The cases' category: {', '.join(CATEGORIES)}.")
    ] = "regression",
    force: ForceOption = False,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Turn recorded tasks into eval cases asserting what their receipts show they did."""
    workspace = open_workspace(pilot, db)
    try:
        with workspace.store.read() as conn:
            captured = capture_tasks(conn, workspace.spec, tasks, category=category)
        text = captured_pack(captured, workspace.name)
    finally:
        workspace.close()
    _write(text, output, force)
    for item in captured:
        err_console.print(f"captured {item.task} as [bold]{escape(item.case.id)}[/]:")
        for line in item.derived:
            err_console.print(f"  {escape(line)}")
        for warning in item.warnings:
            err_console.print(f"[yellow]warning:[/] {escape(warning)}")
    left_out = sorted({line for item in captured for line in item.left_out})
    err_console.print("not copied: " + escape("; ".join(left_out)))
    if output is not None:
        err_console.print(f"wrote {len(captured)} case(s) to {output}; add it to evals.packs in pilot.yaml")


@eval_app.command("redteam")
def redteam(
    output: OutputOption = None,
    plant: Annotated[
        bool,
        typer.Option(
            "--plant", help="Also plant the canaries the LLM02 cases look for in the pilot's store."
        ),
    ] = False,
    force: ForceOption = False,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Generate an adversarial pack (OWASP LLM Top 10, 2025) from the pilot's own users, sources, tools."""
    loaded = load_workspace_config(pilot)
    cases = redteam_cases(loaded.spec)
    if not cases:
        raise UsageError("pilot.yaml declares no users, so there is no one to attack as", hint="add `users:`")
    _write(redteam_pack(loaded.spec, cases), output, force)
    risks: dict[str, int] = {}
    for case in cases:
        risks[str(case.fields["risk"])] = risks.get(str(case.fields["risk"]), 0) + 1
    for name, count in risks.items():
        err_console.print(f"  {escape(name)}: {count} case(s)")
    if plant:
        for item in plant_canaries(loaded):
            group = escape(item.canary.group)
            if item.path is None:
                err_console.print(f"[yellow]canary for {group} not planted:[/] {escape(item.problem or '')}")
                continue
            where = escape(
                str(
                    item.path.relative_to(loaded.root) if item.path.is_relative_to(loaded.root) else item.path
                )
            )
            state = "planted" if item.written else "already planted"
            err_console.print(f"{state} a canary readable by {group} only: {where} (source {item.source})")
        err_console.print("[dim]the next `pilotgate eval run` ingests them with the sources[/]")
    else:
        err_console.print("[dim]the canary control cases fail until you run it with --plant[/]")
    if output is not None:
        err_console.print(f"wrote {len(cases)} case(s) to {output}; add it to evals.packs in pilot.yaml")


def register(app: typer.Typer) -> None:
    """Nothing to add: importing this module attached `capture` and `redteam` to the ``eval`` group."""

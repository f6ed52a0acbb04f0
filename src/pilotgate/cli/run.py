"""`pilotgate run QUESTION --user NAME`: one task, end to end, with its answer, citations and receipts."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pilotgate.cli.options import DbOption, PilotOption
from pilotgate.cli.output import console
from pilotgate.runtime import TaskResult, open_runtime
from pilotgate.workspace import open_workspace


def run(
    question: Annotated[str, typer.Argument(help="The request, in quotes.")],
    user: Annotated[str, typer.Option("--user", "-u", help="Who asks: a user declared in pilot.yaml.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Run one task: retrieval with the user's permissions, the model, an answer with citations."""
    workspace = open_workspace(pilot, db)
    try:
        runtime = open_runtime(workspace)
        result = runtime.run(question, user=user)
    finally:
        workspace.close()
    if as_json:
        typer.echo(json.dumps(result_json(result), indent=2, ensure_ascii=False))
    else:
        print_result(result)


def result_json(result: TaskResult) -> dict[str, object]:
    """The result as plain JSON: what scripts and CI read."""
    return {
        "task": result.task_id,
        "user": result.user,
        "outcome": result.outcome.value,
        "answer": result.answer,
        "citations": [
            {"chunk": c.chunk_id, "source": c.source, "uri": c.uri, "version": c.version}
            for c in result.citations
        ],
        "receipts": [{"seq": r.seq, "hash": r.hash} for r in result.receipts],
    }


def print_result(result: TaskResult) -> None:
    """The result for a person: outcome, answer, sources and the receipts that prove it."""
    colour = {"resolved": "green", "escalated": "yellow", "failed": "red"}[result.outcome.value]
    console.print(
        f"[bold {colour}]{result.outcome.value}[/]  task {result.task_id}  ({result.latency_ms:.1f} ms)"
    )
    console.print(escape(result.answer))
    if result.citations:
        table = Table(title="sources", title_justify="left", show_edge=False)
        table.add_column("#", justify="right")
        table.add_column("source")
        table.add_column("document")
        table.add_column("version", justify="right")
        for number, chunk in enumerate(result.citations, 1):
            table.add_row(str(number), chunk.source, escape(chunk.uri), str(chunk.version))
        console.print(table)
    seqs = [r.seq for r in result.receipts]
    if seqs:
        console.print(
            f"[dim]receipts {seqs[0]}..{seqs[-1]} — `pilotgate receipts show SEQ` for any of them[/]"
        )


def register(app: typer.Typer) -> None:
    """Add `run`."""
    app.command()(run)

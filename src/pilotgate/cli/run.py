"""`pilotgate run QUESTION --user NAME`: one task, end to end, with its answer, citations and receipts.

When a release is in production the task runs under the served release (production, or the canary for its
share of task keys, as ``pilotgate.gate.serve`` picks); ``--release R`` runs a stored release and
``--draft`` the files on disk. With nothing in production the files on disk serve, as before.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pilotgate.cli.options import DbOption, PilotOption
from pilotgate.cli.output import console
from pilotgate.gate import Served, serve
from pilotgate.runtime import TaskResult, TaskState, open_runtime
from pilotgate.workspace import open_workspace

COLOURS = {
    "resolved": "green",
    "escalated": "yellow",
    "failed": "red",
    "awaiting_approval": "cyan",
    "parked": "magenta",
}


def run(
    question: Annotated[str, typer.Argument(help="The request, in quotes.")],
    user: Annotated[str, typer.Option("--user", "-u", help="Who asks: a user declared in pilot.yaml.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    release: Annotated[
        str | None, typer.Option("--release", "-r", help="Run under this stored release (its snapshot).")
    ] = None,
    draft: Annotated[
        bool, typer.Option("--draft", help="Run under the files on disk, whatever is in production.")
    ] = False,
    key: Annotated[
        str | None,
        typer.Option("--key", help="The task key the canary split hashes (default: a new one per task)."),
    ] = None,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Run one task: retrieval with the user's permissions, the model, tool calls under policy, an answer."""
    workspace = open_workspace(pilot, db)
    try:
        served_workspace, served = serve(workspace, release=release, draft=draft, key=key)
        with open_runtime(served_workspace, release=served.release) as runtime:
            result = runtime.run(question, user=user)
    finally:
        workspace.close()
    if as_json:
        body = result_json(result)
        body["release"] = served.release
        body["served"] = served.reason
        typer.echo(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        print_served(served)
        print_result(result)


def print_served(served: Served) -> None:
    """Which release served the task, and why."""
    if served.release is None:
        why = "--draft" if served.reason == "draft" else "nothing is in production"
        console.print(f"[dim]served by the files on disk ({why})[/]")
    elif served.reason == "chosen":
        console.print(f"[dim]served by release {served.release} (--release)[/]")
    else:
        console.print(
            f"[dim]served by release {served.release} ({served.reason}, {served.share}% of tasks)[/]"
        )


def result_json(result: TaskResult) -> dict[str, object]:
    """The result as plain JSON: what scripts and CI read."""
    return {
        "task": result.task_id,
        "user": result.user,
        "state": result.state.value,
        "outcome": result.outcome.value if result.outcome else None,
        "answer": result.answer,
        "citations": [
            {"chunk": c.chunk_id, "source": c.source, "uri": c.uri, "version": c.version}
            for c in result.citations
        ],
        "tool_calls": [
            {
                "id": call.id,
                "tool": call.name,
                "arguments": dict(call.arguments),
                "result": None if answer is None else answer.content,
                "is_error": None if answer is None else answer.is_error,
            }
            for call, answer in result.tool_summary()
        ],
        "approval": result.approval.id if result.approval else None,
        "receipts": [{"seq": r.seq, "hash": r.hash} for r in result.receipts],
    }


def print_result(result: TaskResult) -> None:
    """The result for a person: outcome (or what it waits for), answer, tools, sources and receipts."""
    colour = COLOURS[result.label]
    console.print(f"[bold {colour}]{result.label}[/]  task {result.task_id}  ({result.latency_ms:.1f} ms)")
    console.print(escape(result.answer))
    for call, answer in result.tool_summary():
        args = json.dumps(dict(call.arguments), ensure_ascii=False, sort_keys=True)
        if answer is None:
            what = "[cyan]waiting[/]"
        elif answer.is_error:
            what = f"[red]not run[/]: {escape(answer.content[:160])}"
        else:
            what = "[green]ran[/]"
        console.print(f"  tool {escape(call.name)}({escape(args)}): {what}")
    if result.citations:
        table = Table(title="sources", title_justify="left", show_edge=False)
        table.add_column("#", justify="right")
        table.add_column("source")
        table.add_column("document")
        table.add_column("version", justify="right")
        for number, cite in enumerate(result.citations, 1):
            version = "" if cite.version is None else str(cite.version)
            table.add_row(str(number), cite.source, escape(cite.uri), version)
        console.print(table)
    if result.state is TaskState.AWAITING_APPROVAL and result.approval is not None:
        console.print(
            f"[cyan]next:[/] pilotgate approvals approve {result.approval.id} --as USER  "
            f"(a user in {escape(', '.join(result.approval.approvers))}; the task then resumes)"
        )
    elif result.state is TaskState.PARKED:
        console.print("[magenta]parked:[/] a person must check the tool call before the task can go on")
    seqs = [r.seq for r in result.receipts]
    if seqs:
        console.print(
            f"[dim]receipts {min(seqs)}..{max(seqs)} — `pilotgate receipts show SEQ` for any of them[/]"
        )


def register(app: typer.Typer) -> None:
    """Add `run`."""
    app.command()(run)

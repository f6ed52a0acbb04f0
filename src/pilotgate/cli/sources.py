"""`pilotgate sources`: the source registry as a table or as the data contract; `sources ingest [NAME...]`.

The library does the work (``pilotgate.data.source_inventory``, ``data_contract_markdown``,
``sync_sources``); this module only prints: a table, the contract in Markdown or JSON, and for ingest a
progress display, a summary table, and what was skipped, unreadable or failed and why.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated

import typer
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from pilotgate.cli.options import DbOption, PilotOption
from pilotgate.cli.output import console, err_console
from pilotgate.clock import utc_now
from pilotgate.data.inventory import (
    RemovedInventory,
    SourceInventory,
    data_contract_markdown,
    freshness,
    location,
    removed_inventory,
    source_inventory,
    system_of_record,
)
from pilotgate.data.sync import SourceSync, sync_sources
from pilotgate.receipts import ReceiptLog
from pilotgate.runtime import logs
from pilotgate.secrets import SecretResolver
from pilotgate.workspace import Workspace, open_workspace

sources_app = typer.Typer(
    name="sources",
    help="The pilot's sources: the registry, the data contract, and ingest.",
    invoke_without_command=True,
    no_args_is_help=False,
)


class Format(StrEnum):
    """How `pilotgate sources` prints the registry."""

    table = "table"
    markdown = "markdown"
    json = "json"


@sources_app.callback()
def list_sources(
    ctx: typer.Context,
    output: Annotated[
        Format,
        typer.Option(
            "--format",
            "-f",
            help="table (default), markdown (the data contract to sign), or json.",
            case_sensitive=False,
        ),
    ] = Format.table,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """List the declared sources with what the store holds of each, or write the data contract."""
    if ctx.invoked_subcommand is not None:
        return
    workspace = open_workspace(pilot, db)
    try:
        now = utc_now()
        with workspace.store.read() as conn:
            inventory = source_inventory(conn, pilot=workspace.name, sources=workspace.spec.sources, now=now)
            removed = removed_inventory(
                conn, pilot=workspace.name, declared=[source.name for source in workspace.spec.sources]
            )
    finally:
        workspace.close()
    if output is Format.markdown:
        typer.echo(data_contract_markdown(workspace.name, inventory, now=now, removed=removed), nl=False)
    elif output is Format.json:
        rows = [_inventory_json(item) for item in inventory] + [_removed_json(gone) for gone in removed]
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        _print_inventory(workspace.name, inventory)
        _print_removed(removed)


@sources_app.command("ingest")
def ingest(
    names: Annotated[
        list[str] | None, typer.Argument(help="Sources to ingest (default: all).", show_default=False)
    ] = None,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Ingest sources: new versions, tombstones, conflicts and duplicates, each with an ingest receipt."""
    workspace = open_workspace(pilot, db)
    try:
        results = _ingest_with_progress(workspace, names or None)
    finally:
        workspace.close()
    _print_summary(results)
    if any(result.error is not None for result in results):
        raise typer.Exit(code=2)


def _ingest_with_progress(workspace: Workspace, names: list[str] | None) -> list[SourceSync]:
    # A SQL source's secret-reference URL is resolved through the pilot's resolver, whose every value goes
    # to the receipt log's redactor (and, through it, the log filter) before the connector gets it.
    log = workspace.receipt_log()
    resolver = SecretResolver.for_pilot(workspace.loaded, on_resolved=log.redactor.register)
    log_filter = logs.install(log.redactor)
    try:
        return _sync_with_progress(workspace, log, names, resolver.resolve)
    finally:
        logs.uninstall(log_filter)
        resolver.close()


def _sync_with_progress(
    workspace: Workspace, log: ReceiptLog, names: list[str] | None, resolve_secret: Callable[[str], str]
) -> list[SourceSync]:
    wanted = names or [source.name for source in workspace.spec.sources]
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[documents]:>7,} documents"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as progress:
        overall = progress.add_task("sources", total=len(wanted), documents=0)
        current = {"source": "", "count": 0}

        def on_document(source: str, uri: str) -> None:
            if source != current["source"]:
                current.update(source=source, count=0)
                progress.update(overall, description=f"ingesting {escape(source)}")
            current["count"] = int(current["count"]) + 1
            if int(current["count"]) % 50 == 1:
                progress.update(overall, documents=current["count"])

        def on_source(result: SourceSync) -> None:
            progress.update(overall, advance=1, documents=current["count"])

        return sync_sources(
            workspace.store,
            log,
            workspace.loaded,
            names=names,
            on_source=on_source,
            on_document=on_document,
            resolve_secret=resolve_secret,
        )


def _print_summary(results: list[SourceSync]) -> None:
    table = Table(title="ingest", title_justify="left", show_edge=False)
    for name, justify in (
        ("source", "left"),
        ("new", "right"),
        ("changed", "right"),
        ("unchanged", "right"),
        ("acl", "right"),
        ("tombstoned", "right"),
        ("skipped", "right"),
        ("unreadable", "right"),
        ("conflicts", "right"),
        ("duplicates", "right"),
        ("receipt", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for result in results:
        report = result.report
        if report is None:
            table.add_row(escape(result.name), *(["-"] * 9), "[red]failed[/]")
            continue
        found = report.reconciliation
        table.add_row(
            escape(result.name) + (" [dim](removed)[/]" if result.removed else ""),
            str(report.count("new")),
            str(report.count("changed")),
            str(report.count("unchanged")),
            str(report.count("acl_changed")),
            str(report.count("tombstoned")),
            _warn(len(report.skipped)),
            _warn(len(report.unreadable)),
            _warn(len(found.conflicts)) if found else "-",
            str(len(found.duplicates)) if found else "-",
            str(result.receipt_seq) if result.receipt_seq is not None else "[dim]unchanged[/]",
        )
    console.print(table)
    for result in results:
        if result.error is not None:
            console.print(f"[bold red]{escape(result.name)}[/]: {escape(result.error.message)}")
            if result.error.hint:
                console.print(f"  [dim]hint:[/] {escape(result.error.hint)}")
            console.print(
                "  [dim]nothing of this source was changed; its previous version stays searchable[/]"
            )
            continue
        report = result.report
        assert report is not None
        if result.removed:
            console.print(
                f"[cyan]removed from pilot.yaml[/] {escape(result.name)}: "
                f"{report.count('tombstoned'):,} document(s) tombstoned, "
                f"{report.chunks_deactivated:,} chunk(s) no longer retrieved; versions and provenance kept"
                + (f" (receipt {result.receipt_seq})" if result.receipt_seq is not None else "")
            )
        for skip in report.skipped:
            console.print(
                f"[yellow]skipped[/] {escape(result.name)}: {escape(skip.uri)}: {escape(skip.reason)}"
                " [dim](previous version kept)[/]"
            )
        for item in report.unreadable_documents:
            where = f"{escape(result.name)}: {escape(item.uri)}"
            console.print(f"[yellow]readable by nobody[/] {where}: {escape(item.reason)}")
        if report.reconciliation is not None:
            for conflict in report.reconciliation.conflicts:
                losers = escape(", ".join(f"{m.source}:{m.uri}" for m in conflict.losers))
                winner = escape(f"{conflict.winner.source}:{conflict.winner.uri}")
                console.print(
                    f"[cyan]conflict[/] {escape(conflict.subject)}: {winner} wins over {losers}"
                    f" [dim](by {conflict.decided_by})[/]"
                )


def _print_inventory(pilot: str, inventory: list[SourceInventory]) -> None:
    table = Table(title=f"sources of {escape(pilot)}", title_justify="left", show_edge=False)
    for name, justify in (
        ("source", "left"),
        ("kind", "left"),
        ("owner", "left"),
        ("sensitivity", "left"),
        ("read by", "left"),
        ("rank", "right"),
        ("record", "left"),
        ("freshness", "left"),
        ("documents", "right"),
        ("last ingest", "left"),
        ("oldest content", "left"),
        ("stale", "right"),
        ("status", "left"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for item in inventory:
        source = item.source
        colour = {"ok": "green", "stale": "yellow", "unreadable": "yellow"}.get(item.status, "red")
        table.add_row(
            escape(source.name),
            source.kind,
            escape(source.owner or "-"),
            source.sensitivity,
            escape(", ".join(source.read) or "nobody"),
            str(source.rank) if source.rank is not None else "-",
            escape(system_of_record(source)),
            freshness(source),
            f"{item.documents:,}",
            item.last_ingest or "never",
            item.oldest_content or "-",
            _warn(item.stale),
            f"[{colour}]{item.status}[/]",
        )
    console.print(table)


def _print_removed(removed: list[RemovedInventory]) -> None:
    for gone in removed:
        name = escape(gone.name)
        if gone.status == "pending":
            console.print(
                f"[yellow]removed from pilot.yaml[/] {name}: {gone.documents:,} document(s) still served "
                "until the next ingest retires it ([bold]pilotgate sources ingest[/])"
            )
        else:
            console.print(
                f"[dim]removed from pilot.yaml[/] {name}: retired at {gone.last_ingest}, "
                f"{gone.tombstoned:,} document(s) tombstoned (versions and provenance kept, never retrieved)"
            )


def _removed_json(gone: RemovedInventory) -> dict[str, object]:
    return {
        "name": gone.name,
        "removed": True,
        "documents": gone.documents,
        "chunks": gone.chunks,
        "tombstoned": gone.tombstoned,
        "last_ingest": gone.last_ingest,
        "status": f"removed ({gone.status})",
    }


def _inventory_json(item: SourceInventory) -> dict[str, object]:
    source = item.source
    return {
        "name": source.name,
        "removed": False,
        "kind": source.kind,
        "location": location(source),
        "owner": source.owner,
        "sensitivity": source.sensitivity,
        "read": list(source.read),
        "rank": source.rank,
        "system_of_record": system_of_record(source),
        "freshness": freshness(source),
        "documents": item.documents,
        "chunks": item.chunks,
        "unreadable": item.unreadable,
        "superseded": item.superseded,
        "tombstoned": item.tombstoned,
        "last_ingest": item.last_ingest,
        "oldest_content": item.oldest_content,
        "stale": item.stale,
        "status": item.status,
    }


def _warn(count: int) -> str:
    return f"[yellow]{count}[/]" if count else "0"


def register(app: typer.Typer) -> None:
    """Add the `sources` group."""
    app.add_typer(sources_app, name="sources")

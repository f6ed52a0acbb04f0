"""`pilotgate receipts list | show | verify | export | prove | checkpoint`: the auditor's commands.

Thin: each command opens the workspace, calls one library function from ``pilotgate.receipts`` and prints
what it returns. A failed verification raises VerificationError (exit 1) naming the first bad receipt.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pilotgate.cli.options import DbOption, PilotOption
from pilotgate.cli.output import console, err_console
from pilotgate.errors import SigningKeyError, UsageError
from pilotgate.receipts import (
    PublicKey,
    VerifyReport,
    export,
    get_receipt,
    leaf_hash,
    list_receipts,
    load_public_key,
    open_log,
    open_witness,
    origin,
    prove_inclusion,
    verify_export,
    verify_store,
)
from pilotgate.workspace import Workspace, open_workspace

receipts_app = typer.Typer(
    name="receipts",
    help="List, show, verify, export and prove the pilot's hash-chained receipts.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


@receipts_app.command("list")
def list_command(
    kind: Annotated[str | None, typer.Option("--kind", help="Only receipts of this kind.")] = None,
    task: Annotated[str | None, typer.Option("--task", help="Only receipts of this task.")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many, newest first.")] = 50,
    as_json: JsonOption = False,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """The newest receipts: seq, time, kind, task, actor and hash."""
    workspace = open_workspace(pilot, db)
    try:
        with workspace.store.read() as conn:
            found = list_receipts(conn, workspace.name, kind=kind, task=task, limit=limit)
    finally:
        workspace.close()
    if as_json:
        typer.echo(
            json.dumps([item.record | {"hash": item.hash} for item in found], ensure_ascii=False, indent=2)
        )
        return
    table = Table(show_edge=False)
    for column in ("seq", "at", "kind", "task", "actor", "hash"):
        table.add_column(column, justify="right" if column == "seq" else "left")
    for item in found:
        actor = item.record["actor"]
        table.add_row(
            str(item.seq),
            item.at,
            item.kind,
            escape(item.task or ""),
            escape(f"{actor['kind']}:{actor['id']}"),
            item.hash[:19] + "…",
        )
    console.print(table)
    if not found:
        err_console.print("[dim]no receipts yet[/]")


@receipts_app.command("show")
def show_command(
    seq: Annotated[int, typer.Argument(min=0, help="The receipt's sequence number.")],
    as_json: JsonOption = False,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """One receipt: its canonical text (the receipt itself), its hash and its Merkle leaf."""
    workspace = open_workspace(pilot, db)
    try:
        with workspace.store.read() as conn:
            receipt = get_receipt(conn, workspace.name, seq)
    finally:
        workspace.close()
    if as_json:
        typer.echo(receipt.text)
        return
    console.print(f"[bold]receipt {receipt.seq}[/]  {receipt.hash}")
    console.print(f"[dim]leaf {leaf_hash(receipt.canonical).hex()}[/]")
    console.print_json(receipt.text)


def _public_key(workspace: Workspace, pubkey: Path | None) -> PublicKey | None:
    if pubkey is not None:
        return load_public_key(pubkey, name=origin(workspace.name))
    try:
        return workspace.public_key()
    except SigningKeyError as exc:
        err_console.print(f"[yellow]warning:[/] {escape(exc.message)}; checkpoint signatures are not checked")
        return None


@receipts_app.command("verify")
def verify_command(
    file: Annotated[
        Path | None, typer.Option("--file", help="Verify an export file instead of the store.")
    ] = None,
    pubkey: Annotated[
        Path | None,
        typer.Option("--pubkey", help="The public key (the .pub beside an export). Default: from the key."),
    ] = None,
    witness: Annotated[
        str | None,
        typer.Option("--witness", help="Witness file or URL. Default: receipts.witness in pilot.yaml."),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Also parse and re-canonicalize every receipt.")
    ] = False,
    as_json: JsonOption = False,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Recompute the chain, the checkpoints and the witness; name the first receipt that does not match."""
    if file is not None:
        if pubkey is None:
            raise UsageError("--file needs --pubkey (the .pub file written beside the export)")
        report = verify_export(
            file, pubkey, witness=open_witness(witness, base=Path.cwd()) if witness else None, strict=strict
        )
    else:
        workspace = open_workspace(pilot, db)
        try:
            public_key = _public_key(workspace, pubkey)
            with workspace.store.read() as conn:
                report = verify_store(
                    conn,
                    workspace.name,
                    public_key,
                    workspace.witness(witness),
                    expect_checkpoint_every=workspace.spec.receipts.checkpoint_every if public_key else None,
                    strict=strict,
                )
        finally:
            workspace.close()
    _print_report(report, as_json)
    report.raise_for_failure()


def _print_report(report: VerifyReport, as_json: bool) -> None:
    if as_json:
        failure = report.failure
        doc = {
            "pilot": report.pilot,
            "ok": report.ok,
            "receipts_checked": report.receipts_checked,
            "checkpoints_checked": report.checkpoints_checked,
            "latest_checkpoint": report.latest_checkpoint,
            "witnessed": report.witnessed,
            "signatures_checked": report.signatures_checked,
            "head": report.head,
            "failure": None
            if failure is None
            else {
                "seq": failure.seq,
                "reason": failure.reason,
                "detail": failure.detail,
                "checkpoint_size": failure.checkpoint_size,
            },
        }
        typer.echo(json.dumps(doc, indent=2))
        return
    if report.ok:
        console.print(
            f"[bold green]ok[/]  {report.receipts_checked} receipts, {report.checkpoints_checked} checkpoints"
            + (f" (latest covers {report.latest_checkpoint})" if report.latest_checkpoint else "")
            + (f", witness at {report.witnessed}" if report.witnessed is not None else "")
        )
        if report.latest_checkpoint is None and report.receipts_checked:
            err_console.print("[dim]no checkpoint yet: `pilotgate receipts checkpoint` signs one[/]")


@receipts_app.command("export")
def export_command(
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="File to write. Default: receipts-PILOT.jsonl")
    ] = None,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Write every receipt and checkpoint as JSONL, and the public key beside it (FILE.pub)."""
    workspace = open_workspace(pilot, db)
    try:
        public_key = _public_key(workspace, None)
        target = out or Path(f"receipts-{workspace.name}.jsonl")
        with workspace.store.read() as conn:
            summary = export(conn, workspace.name, target, public_key=public_key)
    finally:
        workspace.close()
    console.print(
        f"wrote {summary.receipts} receipts and {summary.checkpoints} checkpoints to {summary.path}"
    )
    if summary.public_key_path is not None:
        console.print(
            f"[dim]verify it anywhere: pilotgate receipts verify --file {summary.path} "
            f"--pubkey {summary.public_key_path}[/]"
        )


@receipts_app.command("prove")
def prove_command(
    seq: Annotated[int, typer.Argument(min=0, help="The receipt to prove.")],
    size: Annotated[
        int | None, typer.Option("--size", help="Against the checkpoint of this size (default latest).")
    ] = None,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """An RFC 9162 inclusion proof of one receipt against a signed checkpoint, checked, then printed."""
    workspace = open_workspace(pilot, db)
    try:
        public_key = _public_key(workspace, None)
        with workspace.store.read() as conn:
            proof = prove_inclusion(conn, workspace.name, seq, size=size)
    finally:
        workspace.close()
    proof.check(public_key)
    typer.echo(json.dumps(proof.to_json(), indent=2, ensure_ascii=False))


@receipts_app.command("checkpoint")
def checkpoint_command(pilot: PilotOption = None, db: DbOption = None) -> None:
    """Sign a checkpoint of the log as it stands now, and send it to the witness."""
    workspace = open_workspace(pilot, db)
    try:
        log = open_log(
            workspace.name,
            signing_key=workspace.signing_key_path,
            checkpoint_every=workspace.spec.receipts.checkpoint_every,
            witness=workspace.spec.receipts.witness,
            base=workspace.root,
        )
        with log.transaction(workspace.store) as conn:
            checkpoint = log.checkpoint(conn)
        with workspace.store.read() as conn:
            log.sync_witness(conn)
    finally:
        workspace.close()
    console.print(f"checkpoint of {checkpoint.size} receipts, root {checkpoint.root_hex}")
    console.print(escape(checkpoint.note.rstrip("\n")))
    if log.witness is not None:
        console.print(f"[dim]witnessed at {escape(log.witness.location)}[/]")


def register(app: typer.Typer) -> None:
    """Add the `receipts` command group."""
    app.add_typer(receipts_app, name="receipts")

"""`pilotgate release create | list | show R` and `pilotgate gate --release R`.

`release create` prints the new release's id on its last line (scripts take it with `tail -1`). `gate`
prints each rule, its result and the ids it rests on, records the verdict receipt, and exits 1 when the
release is blocked (``GateBlocked``), 0 when it passes.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pilotgate.cli.options import DbOption, PilotOption
from pilotgate.cli.output import console
from pilotgate.gate import (
    RuleResult,
    Verdict,
    create_release,
    gate,
    get_release,
    latest_verdict,
    list_releases,
    verify_release,
)
from pilotgate.workspace import open_workspace

release_app = typer.Typer(name="release", help="Create and inspect releases.", no_args_is_help=True)

ReleaseArg = Annotated[str, typer.Argument(help="A release id (rel-...).", show_default=False)]


@release_app.command("create")
def create(
    by: Annotated[str, typer.Option("--by", help="Who creates the release.")] = "pilotgate",
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Hash everything that changes behaviour into a release; print its id on the last line."""
    workspace = open_workspace(pilot, db)
    try:
        release, created = create_release(workspace, by=by)
    finally:
        workspace.close()
    what = "created" if created else "exists already (same content)"
    console.print(f"release {what}: {release.content_hash}")
    for name, digest in sorted(release.manifest.items()):
        console.print(f"  {escape(name)}  [dim]{escape(digest)}[/]")
    typer.echo(release.id)


@release_app.command("list")
def list_(pilot: PilotOption = None, db: DbOption = None) -> None:
    """The pilot's releases, newest first."""
    workspace = open_workspace(pilot, db)
    try:
        found = list_releases(workspace)
        verdicts = {r.id: latest_verdict(workspace, r.id) for r in found}
    finally:
        workspace.close()
    if not found:
        console.print("no releases yet — `pilotgate release create` makes one")
        return
    table = Table(show_edge=False)
    for column in ("release", "created", "by", "gate"):
        table.add_column(column, no_wrap=column == "release")
    for release in found:
        verdict = verdicts[release.id]
        result = verdict["result"] if verdict else "not gated"
        table.add_row(release.id, release.created_at, escape(release.created_by), result)
    console.print(table)


@release_app.command("show")
def show(release_id: ReleaseArg, pilot: PilotOption = None, db: DbOption = None) -> None:
    """A release's manifest, whether the files on disk still match it, and its latest verdict."""
    workspace = open_workspace(pilot, db)
    try:
        release = get_release(workspace, release_id)
        changed = verify_release(workspace, release_id)
        verdict = latest_verdict(workspace, release_id)
    finally:
        workspace.close()
    console.print(f"[bold]{release.id}[/]  {release.content_hash}")
    console.print(f"created {release.created_at} by {escape(release.created_by)}; receipt {release.receipt}")
    for name, digest in sorted(release.manifest.items()):
        mark = "[red]changed[/]" if name in changed else "[green]same[/]"
        console.print(f"  {escape(name)}  [dim]{escape(digest)}[/]  {mark}")
    if verdict is None:
        console.print(f"gate: not run — `pilotgate gate --release {release.id}`")
    else:
        console.print(f"gate: {verdict['result']} (receipt {verdict['seq']}, {verdict['hash']})")


def print_verdict(verdict: Verdict) -> None:
    """Each rule, its result and its evidence ids, then the outcome and the receipt."""
    for result in verdict.rules:
        _print_rule(result)
    colour, word = ("green", "PASS") if verdict.passed else ("red", "BLOCKED")
    failed = len(verdict.failures)
    console.print(
        f"[bold {colour}]{word}[/] release {verdict.release}: {len(verdict.rules) - failed} passed, "
        f"{failed} failed; run {verdict.run or '(none)'}; verdict receipt {verdict.seq} {verdict.receipt}"
    )


def _print_rule(result: RuleResult) -> None:
    mark = "[green]pass[/]" if result.passed else "[red]FAIL[/]"
    console.print(f"{mark}  {escape(result.rule)}  [dim]{escape(result.detail)}[/]")
    if result.evidence:
        console.print(f"      [dim]rests on: {escape(', '.join(result.evidence))}[/]")


def gate_command(
    release: Annotated[str, typer.Option("--release", "-r", help="The release to decide.")],
    run: Annotated[
        str | None, typer.Option("--run", help="Decide on this run (default: the newest complete run).")
    ] = None,
    by: Annotated[str | None, typer.Option("--by", help="Who asks for the verdict.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the verdict as JSON.")] = False,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Decide whether a release may be promoted; fail-closed; exit 1 when blocked, 0 when it passes."""
    workspace = open_workspace(pilot, db)
    try:
        verdict = gate(workspace, release, run=run, by=by)
    finally:
        workspace.close()
    if as_json:
        body = {**verdict.body(), "receipt": verdict.receipt, "seq": verdict.seq, "refs": list(verdict.refs)}
        typer.echo(json.dumps(body, indent=2, ensure_ascii=False))
    else:
        print_verdict(verdict)
    verdict.raise_if_blocked()


def register(app: typer.Typer) -> None:
    """Add the ``release`` command group and ``gate``."""
    app.add_typer(release_app, name="release")
    app.command("gate")(gate_command)

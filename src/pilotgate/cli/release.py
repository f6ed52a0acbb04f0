"""`pilotgate release create | list | show | status | promote | rollback | canary | bundle | verify-bundle`
and `pilotgate gate --release R`.

`release create` prints the new release's id on its last line (scripts take it with `tail -1`). `gate`
prints each rule, its result and the ids it rests on, records the verdict receipt, and exits 1 when the
release is blocked (``GateBlocked``), 0 when it passes. `promote` and `canary` refuse (exit 1, the gate's
``GateBlocked``) unless the release's latest verdict passed; `rollback --drill` exits 1 when the drill fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from pilotgate.cli.options import DbOption, PilotOption
from pilotgate.cli.output import console
from pilotgate.errors import UsageError
from pilotgate.gate import (
    Deployment,
    DrillReport,
    RuleResult,
    Switch,
    create_release,
    format_share,
    gate,
    get_release,
    has_snapshot,
    latest_verdict,
    list_releases,
    parse_share,
    promote,
    read_deployment,
    rollback,
    rollback_drill,
    set_canary,
    verify_release,
)
from pilotgate.gate.bundle import read_bundle, verify_bundle, write_bundle
from pilotgate.gate.verdict import Verdict
from pilotgate.receipts import load_public_key, origin
from pilotgate.workspace import open_workspace

release_app = typer.Typer(
    name="release",
    help="Create, inspect, promote, roll back and canary releases; bundle their evidence.",
    no_args_is_help=True,
)

ReleaseArg = Annotated[str, typer.Argument(help="A release id (rel-...).", show_default=False)]
ByOption = Annotated[str, typer.Option("--by", help="Who does it (recorded in the receipt).")]


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
        state = read_deployment(workspace)
    finally:
        workspace.close()
    if not found:
        console.print("no releases yet — `pilotgate release create` makes one")
        return
    table = Table(show_edge=False)
    for column in ("release", "created", "by", "gate", "serving"):
        table.add_column(column, no_wrap=column == "release")
    for release in found:
        verdict = verdicts[release.id]
        result = verdict["result"] if verdict else "not gated"
        table.add_row(
            release.id, release.created_at, escape(release.created_by), result, _serving(state, release.id)
        )
    console.print(table)


def _serving(state: Deployment, release_id: str) -> str:
    """``production 90%`` / ``canary 10%`` / ``previous`` / empty, for the list."""
    if release_id == state.production:
        return f"production {format_share(10_000 - state.share)}%" if state.canary else "production 100%"
    if release_id == state.canary:
        return f"canary {state.share_percent}%"
    return "previous" if release_id == state.previous else ""


@release_app.command("show")
def show(release_id: ReleaseArg, pilot: PilotOption = None, db: DbOption = None) -> None:
    """A release's manifest, whether the files on disk still match it, and its latest verdict."""
    workspace = open_workspace(pilot, db)
    try:
        release = get_release(workspace, release_id)
        changed = verify_release(workspace, release_id)
        verdict = latest_verdict(workspace, release_id)
        snapshot = has_snapshot(workspace, release_id)
    finally:
        workspace.close()
    console.print(f"[bold]{release.id}[/]  {release.content_hash}")
    if not snapshot:
        console.print("[yellow]no snapshot stored[/]: it cannot be served or rolled back to")
    console.print(f"created {release.created_at} by {escape(release.created_by)}; receipt {release.receipt}")
    for name, digest in sorted(release.manifest.items()):
        mark = "[red]changed[/]" if name in changed else "[green]same[/]"
        console.print(f"  {escape(name)}  [dim]{escape(digest)}[/]  {mark}")
    if verdict is None:
        console.print(f"gate: not run — `pilotgate gate --release {release.id}`")
    else:
        console.print(f"gate: {verdict['result']} (receipt {verdict['seq']}, {verdict['hash']})")


@release_app.command("status")
def status(pilot: PilotOption = None, db: DbOption = None) -> None:
    """What serves tasks: production, the canary and their shares, and where a rollback returns."""
    workspace = open_workspace(pilot, db)
    try:
        state = read_deployment(workspace)
    finally:
        workspace.close()
    print_status(state)


def print_status(state: Deployment) -> None:
    """Production, canary and shares, previous release, the last switch's receipt."""
    if state.production is None:
        console.print(
            "nothing in production: `pilotgate run` uses the files on disk; "
            "`pilotgate release promote R --to production` serves a release"
        )
        return
    console.print(f"production  {state.production}  {format_share(10_000 - state.share)}% of tasks")
    if state.canary is not None:
        console.print(f"canary      {state.canary}  {state.share_percent}% of tasks")
    else:
        console.print("canary      none")
    console.print(f"rollback to {state.previous or '(none: nothing was in production before)'}")
    console.print(f"[dim]last switch {state.updated_at}, receipt {state.receipt}[/]")


def _print_switch(switch: Switch, what: str) -> None:
    console.print(f"[green]{what}[/]  receipt {switch.seq} {switch.receipt}")
    print_status(switch.deployment)


@release_app.command("promote")
def promote_command(
    release_id: ReleaseArg,
    to: Annotated[str, typer.Option("--to", help="Where to: production.")] = "production",
    by: ByOption = "pilotgate",
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Serve a release in production; only when its latest gate verdict passed (exit 1 otherwise)."""
    workspace = open_workspace(pilot, db)
    try:
        switch = promote(workspace, release_id, to=to, by=by)
    finally:
        workspace.close()
    _print_switch(switch, f"promoted {release_id} to production")


@release_app.command("rollback")
def rollback_command(
    drill: Annotated[
        bool, typer.Option("--drill", help="Rehearse on a copy, check the release can serve, record it.")
    ] = False,
    by: ByOption = "pilotgate",
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Return production to the previous release in one command (``--drill``: rehearse it on a copy)."""
    workspace = open_workspace(pilot, db)
    try:
        if drill:
            report = rollback_drill(workspace, by=by)
        else:
            switch = rollback(workspace, by=by)
    finally:
        workspace.close()
    if drill:
        print_drill(report)
        report.raise_if_failed()
        return
    _print_switch(switch, f"rolled back to {switch.deployment.production}")


def print_drill(report: DrillReport) -> None:
    """Each check of the drill, then the outcome and its receipt."""
    console.print(f"rollback drill ({report.method}): {report.production} -> {report.target}")
    for check in report.checks:
        mark = "[green]pass[/]" if check.passed else "[red]FAIL[/]"
        console.print(f"{mark}  {escape(check.name)}  [dim]{escape(check.detail)}[/]")
    word = "[bold green]DRILL PASSED[/]" if report.passed else "[bold red]DRILL FAILED[/]"
    console.print(f"{word}  production unchanged; receipt {report.seq} {report.receipt}")


@release_app.command("canary")
def canary_command(
    release_id: Annotated[
        str | None, typer.Argument(help="The candidate release.", show_default=False)
    ] = None,
    share: Annotated[
        str | None, typer.Option("--share", help="Percent of tasks the candidate serves (0 stops).")
    ] = None,
    stop: Annotated[
        bool, typer.Option("--stop", help="End the canary: production serves every task.")
    ] = False,
    by: ByOption = "pilotgate",
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Send a share of tasks to a candidate (its latest verdict must pass); --stop or --share 0 ends it."""
    if stop and share not in (None, "0"):
        raise UsageError("--stop takes no --share", hint="pilotgate release canary --stop")
    points = 0 if stop else parse_share(share) if share is not None else None
    if points is None:
        raise UsageError("say how many tasks the candidate serves", hint="--share 10 (percent), or --stop")
    if points > 0 and release_id is None:
        raise UsageError("which release is the candidate?", hint="pilotgate release canary R --share 10")
    workspace = open_workspace(pilot, db)
    try:
        switch = set_canary(workspace, release_id if points else None, points, by=by)
    finally:
        workspace.close()
    what = f"canary {release_id} at {format_share(points)}%" if points else "canary stopped"
    _print_switch(switch, what)


@release_app.command("bundle")
def bundle_command(
    release_id: ReleaseArg,
    out: Annotated[
        Path | None, typer.Option("-o", "--output", help="Where to write (default: R.bundle.json).")
    ] = None,
    pilot: PilotOption = None,
    db: DbOption = None,
) -> None:
    """Write one signed evidence bundle of a release, checkable offline with `release verify-bundle`."""
    target = out or Path(f"{release_id}.bundle.json")
    workspace = open_workspace(pilot, db)
    try:
        summary = write_bundle(workspace, release_id, target)
        key = workspace.public_key()
    finally:
        workspace.close()
    console.print(
        f"bundle of {summary.release} (verdict {summary.verdict}): {summary.receipts} receipt(s) with "
        f"proofs, {summary.runs} run(s), checkpoint of {summary.checkpoint_size}"
    )
    console.print(f"[dim]public key: {escape(key.text())}[/]")
    typer.echo(str(target))


@release_app.command("verify-bundle")
def verify_bundle_command(
    file: Annotated[Path, typer.Argument(help="The bundle file.", show_default=False)],
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="The pilot's public key (a .pub file); default: the bundle's own."),
    ] = None,
) -> None:
    """Check a bundle offline: proofs, checkpoint, verdict refs, snapshot, runs, signature (exit 1 if not)."""
    key = None
    if public_key is not None:
        key = load_public_key(public_key, name=origin(str(read_bundle(file).get("pilot"))))
    summary = verify_bundle(file, key)
    console.print(
        f"[bold green]bundle verifies[/]: release {summary.release}, verdict {summary.verdict}, "
        f"{summary.receipts} receipt(s) proven in the checkpoint of {summary.checkpoint_size}, "
        f"{summary.runs} run(s)"
    )
    if not summary.key_trusted:
        console.print(
            "[yellow]checked against the key inside the bundle:[/] this proves it is intact, not who made "
            "it; pass --public-key with the pilot's key"
        )


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

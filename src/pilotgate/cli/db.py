"""`pilotgate db upgrade | status`: the store's schema migrations."""

from __future__ import annotations

from pathlib import Path

import typer

from pilotgate.cli.options import DbOption, PilotOption
from pilotgate.cli.output import console
from pilotgate.store import create_store_engine, current_revision, default_url, head_revision
from pilotgate.store import upgrade as upgrade_store
from pilotgate.workspace import load_workspace_config

db_app = typer.Typer(help="The store: schema migrations and status.", no_args_is_help=True)


def _url(pilot: Path | None, db: str | None) -> str:
    return db or default_url(load_workspace_config(pilot).root)


@db_app.command()
def upgrade(pilot: PilotOption = None, db: DbOption = None) -> None:
    """Apply the migrations shipped with this pilotgate (take a backup of a production database first)."""
    engine = create_store_engine(_url(pilot, db))  # the raw engine: no automatic migration first
    try:
        before, after = upgrade_store(engine)
    finally:
        engine.dispose()
    if before == after:
        console.print(f"[green]ok[/] schema already at revision {after}")
    else:
        console.print(f"[green]ok[/] schema upgraded from {before or 'empty'} to {after}")


@db_app.command()
def status(pilot: PilotOption = None, db: DbOption = None) -> None:
    """Show the database's schema revision and the one this pilotgate needs."""
    engine = create_store_engine(_url(pilot, db))
    try:
        current = current_revision(engine)
    finally:
        engine.dispose()
    head = head_revision()
    state = "current" if current == head else ("empty" if current is None else "needs `pilotgate db upgrade`")
    console.print(f"database revision: {current or '-'}; this pilotgate: {head} ({state})")


def register(app: typer.Typer) -> None:
    """Add the `db` group."""
    app.add_typer(db_app, name="db")

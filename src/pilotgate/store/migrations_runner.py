"""Applying the Alembic migrations shipped inside the package, and refusing newer schemas."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from pilotgate.errors import SchemaTooNewError, StoreError

MIGRATIONS = Path(__file__).with_name("migrations")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest schema revision this pilotgate knows."""
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The database's schema revision, or None for an empty database."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate the database to the newest revision; returns (before, after)."""
    before = _check_known(engine)
    with engine.begin() as conn:
        config = _config()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return before, head_revision()


def ensure_schema(engine: Engine, *, migrate: bool) -> None:
    """Make sure the schema is current: create it on a new database, refuse a newer one."""
    current = _check_known(engine)
    if current == head_revision():
        return
    if current is None and not _is_empty(engine):
        raise StoreError(
            "the database has tables but no pilotgate schema version",
            hint="point --db at a pilotgate database or an empty one",
        )
    if current is not None and engine.dialect.name != "sqlite" and not migrate:
        raise StoreError(
            f"the database schema is at revision {current}; this pilotgate needs {head_revision()}",
            hint="run `pilotgate db upgrade` (take a backup first)",
        )
    if migrate or current is None:
        upgrade(engine)


def _check_known(engine: Engine) -> str | None:
    current = current_revision(engine)
    if current is None:
        return None
    known = {script.revision for script in ScriptDirectory.from_config(_config()).walk_revisions()}
    if current not in known:
        raise SchemaTooNewError(
            f"the database was written by a newer pilotgate (schema revision {current!r}, "
            f"this pilotgate knows up to {head_revision()!r})",
            hint="upgrade pilotgate (pip install -U pilotgate); this version will not touch the database",
        )
    return current


def _is_empty(engine: Engine) -> bool:
    return not inspect(engine).get_table_names()

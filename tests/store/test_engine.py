"""The store opens, migrates, refuses newer schemas and reports unusable databases clearly."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from pilotgate.errors import SchemaTooNewError, StoreError, StoreUnavailableError
from pilotgate.store import Store, create_store_engine, current_revision, head_revision, open_store
from pilotgate.store.tables import metadata


def test_new_store_is_migrated_to_head(store: Store) -> None:
    assert current_revision(store.engine) == head_revision()
    tables = set(inspect(store.engine).get_table_names())
    assert set(metadata.tables) <= tables


def test_migrated_columns_match_declared_tables(store: Store) -> None:
    inspector = inspect(store.engine)
    for name, table in metadata.tables.items():
        migrated = {column["name"] for column in inspector.get_columns(name)}
        declared = {column.name for column in table.columns}
        assert declared <= migrated, f"{name}: migration lacks {declared - migrated}"
        assert migrated - declared <= {"tsv"}, f"{name}: tables.py lacks {migrated - declared}"


def test_write_rolls_back_on_error(store: Store) -> None:
    with pytest.raises(RuntimeError), store.write() as conn:
        conn.execute(text("INSERT INTO chain_heads (pilot, size, head) VALUES ('p', 0, 'x')"))
        raise RuntimeError("boom")
    with store.read() as conn:
        assert conn.execute(text("SELECT count(*) FROM chain_heads")).scalar() == 0


def test_reopening_is_idempotent(store_url: str) -> None:
    open_store(store_url).close()
    again = open_store(store_url)
    assert current_revision(again.engine) == head_revision()
    again.close()


def test_newer_schema_is_refused_and_left_untouched(store_url: str) -> None:
    first = open_store(store_url)
    with first.write() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    first.close()
    with pytest.raises(SchemaTooNewError) as caught:
        open_store(store_url)
    assert "newer pilotgate" in caught.value.message
    assert caught.value.hint
    probe = create_store_engine(store_url)
    assert current_revision(probe) == "9999_future"
    probe.dispose()


def test_sqlite_is_wal_and_durable(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    with store.read() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    store.close()


def test_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreUnavailableError) as caught:
        open_store(f"sqlite:///{bogus}")
    assert "not a database" in caught.value.message.lower()


def test_foreign_tables_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE something (x)")
    with pytest.raises(StoreError, match="no pilotgate schema"):
        open_store(f"sqlite:///{path}")


def test_bad_url_is_a_clear_error() -> None:
    with pytest.raises(StoreUnavailableError, match="not a database URL"):
        open_store("definitely not a url")


def test_unreachable_postgres_is_a_clear_error() -> None:
    with pytest.raises(StoreUnavailableError) as caught:
        open_store("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    assert caught.value.hint

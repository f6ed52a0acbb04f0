"""The store opens, migrates, refuses newer schemas and reports unusable databases clearly."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import IntegrityError

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


def test_sqlite_pins_a_read_connection_per_thread_and_one_writer(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        # A read inside a read: another connection, its own snapshot.
        with store.read() as first, store.read() as nested:
            assert nested is not first
        with store.read() as again:
            assert again is first  # the pinned one, not a pool checkout
        seen: list[object] = []
        worker = threading.Thread(target=lambda: seen.append(_read_connection(store)))
        worker.start()
        worker.join()
        assert seen and seen[0] is not first
        with store.write() as writer:
            # The pinned writer skips the sync on commit; group commit fsyncs the WAL after it.
            assert writer.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            writer.execute(text("CREATE TABLE probe (x INTEGER)"))
        assert store.writers is not None
        syncs = store.writers.syncs
        with store.write() as again_writer:
            assert again_writer is writer
            again_writer.execute(text("INSERT INTO probe VALUES (1)"))
        assert store.writers.syncs == syncs + 1  # still durable when write() returns
        with store.read() as conn:
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # readers keep FULL
            assert conn.execute(text("SELECT count(*) FROM probe")).scalar() == 1
    finally:
        store.close()


def _read_connection(store: Store) -> object:
    with store.read() as conn:
        conn.execute(text("SELECT 1"))
        return conn


def test_a_failed_transaction_leaves_the_pinned_connections_usable(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with store.write() as conn:
            conn.execute(text("CREATE TABLE probe (x INTEGER PRIMARY KEY)"))
            conn.execute(text("INSERT INTO probe VALUES (1)"))
        with pytest.raises(IntegrityError), store.write() as conn:
            conn.execute(text("INSERT INTO probe VALUES (2)"))
            conn.execute(text("INSERT INTO probe VALUES (1)"))  # duplicate key: the whole write rolls back
        with pytest.raises(ZeroDivisionError), store.read() as conn:
            conn.execute(text("SELECT * FROM probe")).all()
            _ = 1 / 0
        with store.write() as conn:
            conn.execute(text("INSERT INTO probe VALUES (3)"))
        with store.read() as conn:
            assert [row[0] for row in conn.execute(text("SELECT x FROM probe ORDER BY x"))] == [1, 3]
    finally:
        store.close()


def test_read_connections_of_ended_threads_are_closed(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        pinned = []
        for _ in range(5):
            worker = threading.Thread(target=lambda: pinned.append(_read_connection(store)))
            worker.start()
            worker.join()
        assert store.pins is not None
        # Each new thread closed the connections of the threads that had ended before it.
        assert len(store.pins._readers) == 1
        assert all(conn.closed for conn in pinned[:-1])  # type: ignore[attr-defined]
    finally:
        store.close()
    assert all(conn.closed for conn in pinned)  # type: ignore[attr-defined]


def test_a_warm_read_uses_the_free_write_connection_and_sees_every_commit(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    store = open_store(f"sqlite:///{path}")
    try:
        with store.write() as writer:
            writer.execute(text("CREATE TABLE probe (x INTEGER)"))
        with store.read(warm=True) as conn:
            assert conn is writer  # its page cache survived its own commits
            assert conn.execute(text("SELECT count(*) FROM probe")).scalar() == 0
            # a read transaction, not SQLite's write lock: another process may write meanwhile
            other = sqlite3.connect(path, timeout=0.1)
            other.execute("INSERT INTO probe VALUES (7)")
            other.commit()
            other.close()
            assert conn.execute(text("SELECT count(*) FROM probe")).scalar() == 0  # its snapshot
        with store.read(warm=True) as conn:
            assert conn.execute(text("SELECT count(*) FROM probe")).scalar() == 1  # a new snapshot
        with store.write() as again:
            assert again is writer  # still the writer, with BEGIN IMMEDIATE again
            again.execute(text("INSERT INTO probe VALUES (8)"))
        with store.read(warm=True) as conn:
            assert conn.execute(text("SELECT sum(x) FROM probe")).scalar() == 15
    finally:
        store.close()


def test_a_warm_read_never_waits_for_or_enters_a_write(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with store.write() as writer:
            writer.execute(text("CREATE TABLE probe (x INTEGER)"))
        with store.write() as writer:
            writer.execute(text("INSERT INTO probe VALUES (1)"))
            # inside this thread's own write: the writer is busy, the read takes its own connection
            with store.read(warm=True) as nested:
                assert nested is not writer
                assert nested.execute(text("SELECT count(*) FROM probe")).scalar() == 0  # not committed
        holding, release = threading.Event(), threading.Event()

        def hold_the_writers_queue() -> None:
            with store.write() as conn:
                conn.execute(text("INSERT INTO probe VALUES (1)"))
                holding.set()
                release.wait(5)

        other = threading.Thread(target=hold_the_writers_queue)
        other.start()
        try:
            assert holding.wait(5)
            with store.read(warm=True) as conn:  # would deadlock if it waited for the queue
                assert conn is not writer
                assert conn.execute(text("SELECT count(*) FROM probe")).scalar() == 1
        finally:
            release.set()
            other.join()
        with store.read(warm=True) as conn:
            assert conn is writer
            assert conn.execute(text("SELECT count(*) FROM probe")).scalar() == 2
    finally:
        store.close()

"""Opening the store: SQLite (WAL, durable commits) by default, PostgreSQL by URL.

One code path serves both. Write transactions on SQLite start with ``BEGIN IMMEDIATE`` so that two
writers never interleave a chain append; PostgreSQL writers serialize on the chain head row instead.

Within one process, SQLite writers first queue on an in-process lock (one per database file), so only one
of them at a time asks SQLite for its write lock. Without it, threads that find the database locked fall
into SQLite's busy handler, which sleeps in growing steps (1, 2, 5, 10 ... 100 ms) instead of waking when
the lock is free: under an eval run's threads that sleeping, not the work, set the pace. The busy timeout
still covers writers in other processes.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    DBAPIError,
    NoSuchModuleError,
    OperationalError,
    ProgrammingError,
)

from pilotgate.errors import StoreUnavailableError
from pilotgate.store.migrations_runner import ensure_schema

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a SQLite writer waits for another writer's lock before giving up."""


def default_url(pilot_root: Path) -> str:
    """The embedded default: ``.pilotgate/pilot.db`` beside pilot.yaml."""
    return f"sqlite:///{(pilot_root / '.pilotgate' / 'pilot.db').resolve()}"


_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(url: str) -> threading.RLock | None:
    """The in-process writers' lock of a SQLite database (shared by every Store on the same file); None
    for PostgreSQL, whose writers queue on row locks inside the server. Re-entrant, so a nested write on
    one thread behaves as it did without the lock (SQLite's own busy timeout decides)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    key = str(Path(database).resolve()) if database and database != ":memory:" else f"{url}#{id(parsed)}"
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.RLock())


@dataclass
class Store:
    """An open store: an engine and the two kinds of transaction pilotgate uses."""

    engine: Engine
    url: str
    write_lock: threading.RLock | None = None
    """SQLite: the in-process lock writers queue on before ``BEGIN IMMEDIATE`` (see the module's doc)."""

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: commits on success, rolls back on any error."""
        if self.write_lock is None:
            with self.engine.connect() as conn:
                conn.execution_options(pilotgate_write=True)
                with _translate_errors(self.url), conn.begin():
                    yield conn
            return
        with self.write_lock, self.engine.connect() as conn:
            conn.execution_options(pilotgate_write=True)
            with _translate_errors(self.url), conn.begin():
                yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction: a consistent snapshot, never takes the write lock."""
        with self.engine.connect() as conn, _translate_errors(self.url), conn.begin():
            yield conn

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()


def driver_execute(conn: Connection, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
    """Run ``sql`` on a driver cursor of ``conn``'s open transaction; returns the cursor.

    For hot statements: SQLAlchemy's statement building and execution machinery costs more than a small
    statement itself (tens of µs a statement, measured). ``sql`` is in the driver's parameter style
    (``?`` or ``:name`` for sqlite3, ``%s`` for psycopg). A driver error is raised as the SQLAlchemy
    exception ``conn.execute`` would raise, so callers (and ``_translate_errors``) see no difference.
    """
    cursor = conn.connection.cursor()
    dbapi = conn.dialect.dbapi
    try:
        cursor.execute(sql, params)
    except Exception as exc:
        if dbapi is None or not isinstance(exc, dbapi.Error):
            raise
        raise DBAPIError.instance(sql, params, exc, dbapi.Error) from exc
    return cursor


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open (and on first use create) the store at ``url``.

    A new database is migrated to the current schema. An older SQLite file is upgraded in place; an older
    PostgreSQL schema must be upgraded with ``pilotgate db upgrade``. A newer schema is always refused.
    """
    engine = create_store_engine(url)
    store = Store(engine=engine, url=url, write_lock=_write_lock(url))
    try:
        with _translate_errors(url):
            ensure_schema(engine, migrate=migrate)
    except Exception:
        engine.dispose()
        raise
    return store


def create_store_engine(url: str) -> Engine:
    """An engine for ``url`` with pilotgate's connection settings; does not check or migrate the schema."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise StoreUnavailableError(
            f"not a database URL: {url!r}",
            hint="use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB",
        ) from exc
    try:
        if parsed.get_backend_name() == "sqlite":
            return _create_sqlite_engine(parsed.database or "")
        return create_engine(url, pool_pre_ping=True)
    except NoSuchModuleError as exc:
        raise StoreUnavailableError(
            f"no database driver for {parsed.drivername!r}",
            hint="for PostgreSQL install pilotgate[postgres] and use postgresql+psycopg://",
        ) from exc
    except ModuleNotFoundError as exc:
        raise StoreUnavailableError(
            f"the driver for {parsed.drivername!r} is not installed ({exc.name})",
            hint="pip install 'pilotgate[postgres]'",
        ) from exc


def _create_sqlite_engine(database: str) -> Engine:
    if database and database != ":memory:":
        path = Path(database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreUnavailableError(
                f"cannot create the folder for the database {path}: {exc.strerror}",
                hint="check the path and its permissions, or pass --db",
            ) from exc
    engine = create_engine(
        f"sqlite:///{database}",
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "isolation_level": None},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # The driver runs in autocommit mode; we open every transaction ourselves so that writers take the
        # lock up front (no SQLITE_BUSY half-way through a chain append).
        # The driver connection directly: SQLAlchemy's execution path cost ~45 µs per BEGIN (measured).
        immediate = conn.get_execution_options().get("pilotgate_write", False)
        conn.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")  # type: ignore[union-attr]

    return engine


@contextmanager
def _translate_errors(url: str) -> Iterator[None]:
    """Turn driver errors about reaching the database into StoreUnavailableError with a hint."""
    try:
        yield
    except DBAPIError as exc:
        if not exc.connection_invalidated and not _is_unavailable(exc):
            raise
        raise StoreUnavailableError(
            f"cannot use the database {_safe_url(url)}: {_first_line(exc.orig)}",
            hint=_hint_for(exc),
        ) from exc


def _is_unavailable(exc: DBAPIError) -> bool:
    """Errors about reaching or opening the database, not about a statement (``replace(bytea)`` …)."""
    if not isinstance(exc, OperationalError | DatabaseError) or isinstance(exc, ProgrammingError):
        return False
    text = str(exc.orig).lower()
    return any(
        marker in text
        for marker in (
            "unable to open",
            "database is locked",
            "readonly database",
            "not a database",
            "disk i/o",
            "connection refused",
            "could not connect",
            "connection failed",
            "does not exist",
            "authentication failed",
        )
    )


def _hint_for(exc: DBAPIError) -> str:
    text = str(exc.orig).lower()
    if "locked" in text:
        return "another process holds the write lock; wait for it or stop it, then try again"
    if "readonly" in text or "unable to open" in text:
        return "check that the file and its folder exist and are writable, or pass --db"
    if "not a database" in text:
        return "the file is not a SQLite database; pass --db with the right path"
    return "check the URL (--db or PILOTGATE_DB) and that the server is running"


def _first_line(error: object) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _safe_url(url: str) -> str:
    """The URL without its password, fit for an error message."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"

"""Opening the store: SQLite (WAL, durable commits) by default, PostgreSQL by URL.

One code path serves both. Write transactions on SQLite start with ``BEGIN IMMEDIATE`` so that two
writers never interleave a chain append; PostgreSQL writers serialize on the chain head row instead.

Within one process, SQLite writers first queue on an in-process lock (one per database file), so only one
of them at a time asks SQLite for its write lock. Without it, threads that find the database locked fall
into SQLite's busy handler, which sleeps in growing steps (1, 2, 5, 10 ... 100 ms) instead of waking when
the lock is free: under an eval run's threads that sleeping, not the work, set the pace. The busy timeout
still covers writers in other processes. Writers that commit while another's fsync runs share the next
one (group commit, ``SqliteWriters``): every write is still durable when it returns.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
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


class SqliteWriters:
    """One SQLite file's writers in this process: the queue they take turns on, and their group commit.

    Writers queue on ``lock`` (re-entrant, so a nested write on one thread behaves as it did without it:
    SQLite's own busy timeout decides). In WAL mode a write commits with ``synchronous=NORMAL`` (no fsync
    under the lock) and then, after the lock is released, waits until an fsync of the WAL that began
    after its commit has finished: one fsync makes every transaction committed before it durable, so
    writers that commit while a sync is running share the next one. A write still returns only once it
    is on disk, as with ``synchronous=FULL``; the fsync just no longer holds every other writer back.
    Connections keep ``synchronous=FULL`` outside ``Store.write`` (migrations, backups).
    """

    def __init__(self, database: str) -> None:
        self.lock = threading.RLock()
        self.database = database
        self.group_commit = False
        """On once the database is known to be in WAL mode (``open_store`` checks)."""
        self.commits = 0
        self.syncs = 0
        self._synced = 0
        self._syncing = False
        self._state = threading.Condition(threading.Lock())

    def committed(self) -> int:
        """Count a commit (call it under ``lock``, right after the commit); returns its ticket."""
        with self._state:
            self.commits += 1
            return self.commits

    def make_durable(self, ticket: int) -> None:
        """Return once an fsync of the WAL that started after commit ``ticket`` has finished."""
        with self._state:
            while self._synced < ticket:
                if self._syncing:
                    self._state.wait()
                    continue
                self._syncing = True
                target = self.commits
                self._state.release()
                try:
                    self._fsync()
                finally:
                    self._state.acquire()
                    self._syncing = False
                    self._state.notify_all()
                self._synced = max(self._synced, target)
                self.syncs += 1

    def _fsync(self) -> None:
        # The WAL holds every committed transaction not yet checkpointed; when it is gone (checkpointed
        # and removed), the database file holds them. Opened per sync, so no descriptor outlives a store.
        for path in (self.database + "-wal", self.database):
            try:
                fd = os.open(path, os.O_RDONLY)
            except FileNotFoundError:
                continue
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            return


_WRITERS: dict[str, SqliteWriters] = {}
_WRITERS_GUARD = threading.Lock()


def _forget_writers_in_child() -> None:
    """A forked process (an eval run's worker) starts with no writers: the parent's queue locks may have
    been held by one of its threads at the fork, and its commit counts are not this process's. The
    child's stores open their own connections; SQLite's file locks and BEGIN IMMEDIATE then serialize its
    writers with the parent's, as for any two processes."""
    global _WRITERS_GUARD
    _WRITERS.clear()
    _WRITERS_GUARD = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_writers_in_child)


def _writers_for(url: str) -> SqliteWriters | None:
    """The writers of a SQLite database file (shared by every Store on the same file in this process); a
    private one for an in-memory database; None for PostgreSQL, whose writers queue on row locks inside
    the server."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if not database or database == ":memory:":
        return SqliteWriters("")
    key = str(Path(database).resolve())
    with _WRITERS_GUARD:
        return _WRITERS.setdefault(key, SqliteWriters(key))


class PinnedConnections:
    """Connections a SQLite file store keeps checked out: one per thread for reads, one for writes.

    A transaction on a pinned connection skips the pool's checkout and return, the Connection's setup and
    (for writes) the two ``PRAGMA synchronous`` switches: ~35 µs saved a read and ~60 µs a write (measured),
    where a task's own work is a few hundred. The writer is used only under the writers' lock and keeps
    ``synchronous=NORMAL`` (group commit makes its writes durable); no other connection is switched. A
    nested transaction on the same thread, or a connection left unusable by an error, falls back to (or is
    replaced from) the pool. The read connections of threads that have ended are closed when the next
    thread pins one (an eval run's workers come and go).
    """

    def __init__(self) -> None:
        self.writer: _Pinned | None = None
        self._readers: dict[threading.Thread, _Pinned] = {}
        self._lock = threading.Lock()

    def reader(self, engine: Engine) -> _Pinned | None:
        """This thread's read connection; None while it is in use (a nested read)."""
        me = threading.current_thread()
        pinned = self._readers.get(me)
        if pinned is None:
            pinned = _Pinned(engine.connect())
            with self._lock:
                ended = [thread for thread in self._readers if not thread.is_alive()]
                gone = [self._readers.pop(thread).conn for thread in ended]
                self._readers[me] = pinned
            for conn in gone:
                _close(conn)
        return None if pinned.busy else pinned

    def open_writer(self, engine: Engine) -> _Pinned:
        """The write connection, opened on first use (call under the writers' lock)."""
        if self.writer is None:
            conn = engine.connect()
            conn.execution_options(pilotgate_write=True)
            conn.connection.driver_connection.execute("PRAGMA synchronous=NORMAL")  # type: ignore[union-attr]
            self.writer = _Pinned(conn)
        return self.writer

    def drop(self, conn: Connection) -> None:
        """Close a pinned connection an error may have left unusable; the next use opens another."""
        if self.writer is not None and self.writer.conn is conn:
            self.writer = None
        with self._lock:
            for thread, pinned in list(self._readers.items()):
                if pinned.conn is conn:
                    del self._readers[thread]
        _close(conn)

    def close(self) -> None:
        """Close every pinned connection (before the engine is disposed)."""
        with self._lock:
            readers, self._readers = self._readers, {}
        writer, self.writer = self.writer, None
        for pinned in [*readers.values(), *([writer] if writer else [])]:
            _close(pinned.conn)


@dataclass
class _Pinned:
    conn: Connection
    busy: bool = False
    """In a transaction now: a nested one on the same thread takes a pooled connection."""


def _close(conn: Connection) -> None:
    try:
        conn.close()
    except Exception:  # it is being thrown away
        conn.invalidate()


def _still_usable(conn: Connection) -> bool:
    """After a failed transaction: not closed or invalidated, and its rollback left no transaction open."""
    if conn.closed or conn.invalidated:
        return False
    driver = conn.connection.driver_connection
    return not getattr(driver, "in_transaction", False)


@dataclass
class Store:
    """An open store: an engine and the two kinds of transaction pilotgate uses."""

    engine: Engine
    url: str
    writers: SqliteWriters | None = None
    """SQLite: the in-process queue and group commit of the file's writers (see ``SqliteWriters``)."""
    pins: PinnedConnections | None = field(default=None, repr=False)
    """SQLite files in WAL mode: the connections kept checked out (see ``PinnedConnections``)."""

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: commits on success, rolls back on any error; durable once it returns."""
        writers = self.writers
        if writers is None:
            with self.engine.connect() as conn:
                conn.execution_options(pilotgate_write=True)
                with _translate_errors(self.url), conn.begin():
                    yield conn
            return
        pins = self.pins
        if not writers.group_commit or pins is None:
            with writers.lock, self.engine.connect() as conn:
                conn.execution_options(pilotgate_write=True)
                with _translate_errors(self.url), conn.begin():
                    yield conn
            return
        with writers.lock:
            with _translate_errors(self.url):
                writer = pins.open_writer(self.engine)
            if writer.busy:  # nested on this thread: its own connection, as without pinning
                with self._pooled_write() as conn:
                    yield conn
                return
            with self._pinned_transaction(writer) as conn:
                yield conn
            ticket = writers.committed()
        with _translate_errors(self.url):
            writers.make_durable(ticket)

    @contextmanager
    def _pinned_transaction(self, pinned: _Pinned) -> Iterator[Connection]:
        """A transaction on a pinned connection; one an error left unusable is dropped."""
        assert self.pins is not None
        conn = pinned.conn
        pinned.busy = True
        try:
            with _translate_errors(self.url), conn.begin():
                yield conn
        except BaseException:
            if not _still_usable(conn):
                self.pins.drop(conn)
            raise
        finally:
            pinned.busy = False

    @contextmanager
    def _pooled_write(self) -> Iterator[Connection]:
        """A group-commit write on a pooled connection (under the writers' lock): a nested write."""
        writers = self.writers
        assert writers is not None
        with self.engine.connect() as conn:
            driver = conn.connection.driver_connection
            driver.execute("PRAGMA synchronous=NORMAL")  # type: ignore[union-attr]
            try:
                conn.execution_options(pilotgate_write=True)
                with _translate_errors(self.url), conn.begin():
                    yield conn
                ticket = writers.committed()
            finally:
                driver.execute("PRAGMA synchronous=FULL")  # type: ignore[union-attr]
        with _translate_errors(self.url):
            writers.make_durable(ticket)

    @contextmanager
    def read(self, *, warm: bool = False) -> Iterator[Connection]:
        """A read transaction: a consistent snapshot, never takes SQLite's write lock.

        ``warm``: a short read (a task's retrieval) may run on the write connection when no writer of this
        process is using it (it then holds the writers' queue, so keep it short). SQLite empties a
        connection's page cache whenever *another* connection has committed since its last transaction,
        so a thread's own read connection starts every task's retrieval cold: the cache reset and the
        re-read of the full-text index pages cost ~0.27 ms of a ~0.5 ms retrieval at 10,000 chunks
        (measured, benchmarks/runtime.py). The write connection made those commits itself, so its cache
        stays valid. When the writers' queue is taken, the read goes to the thread's own connection.
        """
        pins = self.pins
        pinned = None
        if pins is not None:
            if warm and self.writers is not None and self.writers.lock.acquire(blocking=False):
                try:
                    with _translate_errors(self.url):
                        writer = pins.open_writer(self.engine)
                    if not writer.busy:
                        with self._pinned_read(writer) as conn:
                            yield conn
                        return
                finally:
                    self.writers.lock.release()
            with _translate_errors(self.url):
                pinned = pins.reader(self.engine)
        if pins is None or pinned is None:
            with self.engine.connect() as pooled, _translate_errors(self.url), pooled.begin():
                yield pooled
            return
        with self._pinned_transaction(pinned) as conn:
            yield conn

    @contextmanager
    def _pinned_read(self, writer: _Pinned) -> Iterator[Connection]:
        """A read transaction (plain ``BEGIN``) on the write connection (under the writers' lock)."""
        conn = writer.conn
        conn.execution_options(pilotgate_write=False)
        try:
            with self._pinned_transaction(writer) as read:
                yield read
        finally:
            if not conn.closed:
                conn.execution_options(pilotgate_write=True)

    def release(self) -> None:
        """Close every pooled and pinned connection; the store stays usable and opens new ones when next
        used (before a fork: a child must not inherit a connection, see ``pilotgate.evals.processes``)."""
        if self.pins is not None:
            self.pins.close()
        self.engine.dispose()

    def close(self) -> None:
        """Release every pooled and pinned connection (the store is done with)."""
        self.release()


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


SQLITE_VARIABLES = 999
"""Bound values per statement: SQLite's lowest default limit, so any build takes the multi-row inserts."""


def insert_many(conn: Connection, sql: str, rows: Sequence[Sequence[Any]]) -> None:
    """Insert ``rows`` with ``sql``, a one-row ``INSERT ... VALUES (...)`` in the driver's parameter style.

    On SQLite in multi-row statements: the driver's ``executemany`` steps, and so hands the GIL to another
    thread, once per row, and inside the writers' lock every hand-off lengthens the queue behind it (an
    eval run's 64 threads). On PostgreSQL with the driver's ``executemany``.
    """
    if not rows:
        return
    cursor = conn.connection.cursor()
    if conn.dialect.name != "sqlite":
        cursor.executemany(sql, rows)
        return
    head, one = sql.rsplit(" VALUES ", 1)
    per = max(1, SQLITE_VARIABLES // len(rows[0]))
    for start in range(0, len(rows), per):
        part = rows[start : start + per]
        cursor.execute(f"{head} VALUES {', '.join([one] * len(part))}", [v for row in part for v in row])


def open_store(url: str, *, migrate: bool = True) -> Store:
    """Open (and on first use create) the store at ``url``.

    A new database is migrated to the current schema. An older SQLite file is upgraded in place; an older
    PostgreSQL schema must be upgraded with ``pilotgate db upgrade``. A newer schema is always refused.
    """
    engine = create_store_engine(url)
    store = Store(engine=engine, url=url, writers=_writers_for(url))
    try:
        with _translate_errors(url):
            ensure_schema(engine, migrate=migrate)
            if store.writers is not None and store.writers.database:
                with engine.connect() as conn:
                    mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
                store.writers.group_commit = str(mode).lower() == "wal"
                if store.writers.group_commit:
                    store.pins = PinnedConnections()
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
        # A file: no cap on connections. Each thread pins one for its reads (``PinnedConnections``), and a
        # SQLite connection is a file handle and a page cache, not a server process; a cap would make the
        # 16th of an eval run's threads wait for a connection nobody returns. (In memory: one per thread.)
        **({"max_overflow": -1} if database and database != ":memory:" else {}),
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

"""A SQL source whose URL is a secret reference: `pilotgate sources ingest` resolves it through the pilot's
SecretResolver, and the resolved URL (a canary here) reaches no receipt, log line, message or traceback."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pilotgate.cli import sources as sources_cli
from pilotgate.data import search
from pilotgate.data.sync import SourceSync, sync_sources
from pilotgate.demo.scaffold import scaffold_pilot
from pilotgate.receipts import ReceiptLog, iter_receipt_rows
from pilotgate.spec import load_pilot
from pilotgate.store import open_store
from pilotgate.testing import FixedClock

CANARY = "cnry7f3a9c2e51"
"""Planted in the secret URL: its password, a query value and the database file's name."""

ORDERS_SOURCE = """
  - name: orders-db
    kind: sql
    url: env:ORDERS_DB_URL
    query: SELECT order_id, status FROM orders ORDER BY order_id
    key: order_id
    read: [agents]
"""


@pytest.fixture
def pilot_dir(tmp_path: Path, add_sources: Callable[[Path, str], None]) -> Path:
    root = tmp_path / "desk"
    scaffold_pilot(root)
    add_sources(root / "pilot.yaml", ORDERS_SOURCE)
    return root


@pytest.fixture
def orders_url(tmp_path: Path) -> str:
    path = tmp_path / f"orders-{CANARY}.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (order_id TEXT, status TEXT)")
        db.execute("INSERT INTO orders VALUES ('100777', 'refund approved for the teal kettle')")
    return f"sqlite:///{path}"


def run_ingest(pilot_dir: Path, db: str) -> tuple[int, str]:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """pilotgate (test harness)."""

    sources_cli.register(app)
    result = CliRunner().invoke(app, ["sources", "ingest", "--pilot", str(pilot_dir), "--db", db])
    return result.exit_code, result.output


def stored_text(db_path: Path) -> str:
    """Everything the store holds, as text: receipts, documents, chunks."""
    with sqlite3.connect(db_path) as db:
        parts = [
            repr(row)
            for table in ("receipts", "documents", "chunks")
            for row in db.execute(f"SELECT * FROM {table}")
        ]
    return "\n".join(parts)


def test_ingest_resolves_the_secret_url_and_never_records_it(
    pilot_dir: Path,
    orders_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("ORDERS_DB_URL", orders_url)
    monkeypatch.setenv("COLUMNS", "300")
    caplog.set_level(logging.DEBUG)
    db_path = tmp_path / "store.db"
    code, output = run_ingest(pilot_dir, f"sqlite:///{db_path}")
    assert code == 0, output
    assert "orders-db" in output
    store = open_store(f"sqlite:///{db_path}")
    try:
        with store.read() as conn:
            hits = search(conn, pilot="support-desk", query="teal kettle refund", groups=["agents"])
            receipts = b"".join(bytes(row[6]) for row in iter_receipt_rows(conn, "support-desk"))
    finally:
        store.close()
    assert (hits[0].source, hits[0].uri) == ("orders-db", "100777")
    assert b"orders-db" in receipts
    for place in (output, caplog.text, receipts.decode("utf-8"), stored_text(db_path)):
        assert CANARY not in place


def test_a_connect_failure_names_the_source_and_reference_never_the_url(
    pilot_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # the driver echoes an invalid sslmode value back in its error text; the password is in the URL
    monkeypatch.setenv(
        "ORDERS_DB_URL", f"postgresql+psycopg://reader:{CANARY}@127.0.0.1:1/x?sslmode={CANARY}z"
    )
    monkeypatch.setenv("COLUMNS", "300")
    caplog.set_level(logging.DEBUG)
    db_path = tmp_path / "store.db"
    code, output = run_ingest(pilot_dir, f"sqlite:///{db_path}")
    assert code == 2
    assert "orders-db" in output and "env:ORDERS_DB_URL" in output
    assert "help-center" in output  # the other sources went on
    for place in (output, caplog.text, stored_text(db_path)):
        assert CANARY not in place

    loaded = load_pilot(pilot_dir / "pilot.yaml")
    store = open_store(f"sqlite:///{tmp_path / 'lib.db'}")
    try:
        results = sync_sources(
            store,
            ReceiptLog(pilot="support-desk", clock=FixedClock()),
            loaded,
            names=["orders-db"],
            resolve_secret=lambda reference: (
                f"postgresql+psycopg://reader:{CANARY}@127.0.0.1:1/x?sslmode={CANARY}z"
            ),
        )
    finally:
        store.close()
    error = results[0].error
    assert error is not None and "[REDACTED]" in error.message
    assert error.__cause__ is None and error.__suppress_context__  # no driver text in a --debug traceback
    assert CANARY not in error.message + (error.hint or "")


def test_a_secret_that_cannot_be_resolved_fails_only_its_source(
    pilot_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORDERS_DB_URL", raising=False)
    monkeypatch.setenv("COLUMNS", "300")
    code, output = run_ingest(pilot_dir, f"sqlite:///{tmp_path / 'store.db'}")
    assert code == 2
    assert "orders-db" in output and "ORDERS_DB_URL" in output
    assert "failed" in output and "help-center" in output


def test_the_runtime_sync_resolves_the_secret_url_too(
    pilot_dir: Path, orders_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`pilotgate run` brings sources up to date through open_runtime: the same resolver, the same silence."""
    from pilotgate.runtime import open_runtime
    from pilotgate.workspace import open_workspace

    monkeypatch.setenv("ORDERS_DB_URL", orders_url)
    db_path = tmp_path / "store.db"
    workspace = open_workspace(pilot_dir / "pilot.yaml", f"sqlite:///{db_path}")
    synced: list[SourceSync] = []
    try:
        with open_runtime(workspace, on_source=synced.append) as runtime, runtime.store.read() as conn:
            hits = search(conn, pilot="support-desk", query="teal kettle refund", groups=["agents"])
    finally:
        workspace.close()
    orders = next(result for result in synced if result.name == "orders-db")
    assert orders.error is None, orders.error
    assert (hits[0].source, hits[0].uri) == ("orders-db", "100777")
    assert CANARY not in stored_text(db_path)

"""`sync_sources` and `pilotgate sources`: each bad input is named, the rest goes on, nothing good is lost."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from pilotgate.cli import sources as sources_cli
from pilotgate.data import search
from pilotgate.data.sync import sync_sources
from pilotgate.demo.scaffold import scaffold_pilot
from pilotgate.errors import UsageError
from pilotgate.receipts import ReceiptLog, list_receipts
from pilotgate.spec import load_pilot
from pilotgate.store import Store, open_store
from pilotgate.testing import FixedClock

EXTRA_SOURCES = """
  - name: orders
    kind: csv
    path: sources/orders.csv
    key: order_id
    acl_column: allowed_groups
    owner: ops
    sensitivity: confidential
    read: [agents, finance]
    rank: 4
  - name: tickets
    kind: jsonl
    path: sources/tickets.jsonl
    key: id
    read: [agents]
  - name: crm
    kind: sql
    url: postgresql+psycopg://reader@127.0.0.1:1/crm
    query: SELECT id, name FROM customers
    key: id
    read: [agents]
  - name: archive
    kind: folder
    path: sources/archive-that-vanished
    read: [agents]
"""

ORDERS = "order_id,status,allowed_groups\n100001,refunded,agents\n100002,open,\n"
TICKETS = '{"id": "t-1", "body": "Customer asks where the kettle refund is"}\n{broken\n'


@pytest.fixture
def pilot_dir(tmp_path: Path, add_sources: Callable[[Path, str], None]) -> Path:
    root = tmp_path / "desk"
    scaffold_pilot(root)
    add_sources(root / "pilot.yaml", EXTRA_SOURCES)
    (root / "sources" / "orders.csv").write_text(ORDERS, encoding="utf-8")
    (root / "sources" / "tickets.jsonl").write_text(TICKETS, encoding="utf-8")
    (root / "sources" / "help-center" / "blob.md").write_bytes(b"\x00\x01binary")
    return root


@pytest.fixture
def desk_store(tmp_path: Path) -> Store:
    store = open_store(f"sqlite:///{tmp_path / 'desk.db'}")
    yield store  # type: ignore[misc]
    store.close()


def sync(pilot_dir: Path, store: Store, **kwargs: object):  # type: ignore[no-untyped-def]
    loaded = load_pilot(pilot_dir / "pilot.yaml")
    log = ReceiptLog(pilot=loaded.spec.pilot.name, clock=FixedClock())
    return sync_sources(store, log, loaded, clock=FixedClock(), **kwargs)  # type: ignore[arg-type]


def test_every_bad_input_is_named_and_the_rest_goes_on(pilot_dir: Path, desk_store: Store) -> None:
    seen: list[str] = []
    results = sync(pilot_dir, desk_store, on_source=lambda r: seen.append(r.name))
    by_name = {result.name: result for result in results}
    assert seen == list(by_name)
    assert by_name["crm"].error is not None and "crm" in by_name["crm"].error.message
    assert by_name["archive"].error is not None and "does not exist" in by_name["archive"].error.message
    help_center = by_name["help-center"].report
    assert help_center is not None
    assert [(s.uri, s.reason) for s in help_center.skipped] == [("blob.md", "a binary file, not text")]
    orders = by_name["orders"].report
    assert orders is not None
    assert [(u.uri, u.reason) for u in orders.unreadable_documents] == [
        ("100002", "no value in the ACL field 'allowed_groups'")
    ]
    tickets = by_name["tickets"].report
    assert tickets is not None and tickets.skipped[0].uri == "line 2"
    with desk_store.read() as conn:
        kinds = [(r.kind, r.body.get("source")) for r in list_receipts(conn, "support-desk")]
    assert ("ingest", "help-center") in kinds and ("ingest", "orders") in kinds
    assert ("ingest", "crm") not in kinds  # a source that failed writes nothing


def test_a_broken_csv_keeps_the_previous_good_version_searchable(pilot_dir: Path, desk_store: Store) -> None:
    sync(pilot_dir, desk_store, names=["orders"])
    (pilot_dir / "sources" / "orders.csv").write_text("id,status\n1,x\n", encoding="utf-8")
    (result,) = sync(pilot_dir, desk_store, names=["orders"])
    assert result.error is not None and "no column 'order_id'" in result.error.message
    (pilot_dir / "sources" / "orders.csv").write_bytes(
        b"order_id,status,allowed_groups\n100001,\xff\xfe,agents\n"
    )
    (result,) = sync(pilot_dir, desk_store, names=["orders"])
    assert result.report is not None
    assert [o.uri for o in result.report.documents if o.action == "tombstoned"] == ["100002"]  # really gone
    assert [(s.uri, s.reason) for s in result.report.skipped] == [
        ("100001", "bytes that are not utf-8 in field 'status' (line 2)")
    ]
    with desk_store.read() as conn:
        hits = search(conn, pilot="support-desk", query="100001 refunded", groups=["agents"])
    assert [(hit.source, hit.uri) for hit in hits] == [("orders", "100001")]


def test_a_second_sync_of_unchanged_sources_records_nothing(pilot_dir: Path, desk_store: Store) -> None:
    names = ["help-center", "agent-handbook", "finance-notes"]
    first = sync(pilot_dir, desk_store, names=names)
    assert all(result.receipt_seq is not None for result in first)
    again = sync(pilot_dir, desk_store, names=names)
    assert [result.receipt_seq for result in again] == [None, None, None]
    assert not any(result.changed for result in again)


def test_unknown_source_names_are_a_usage_error(pilot_dir: Path, desk_store: Store) -> None:
    with pytest.raises(UsageError, match="unknown source 'nope'"):
        sync(pilot_dir, desk_store, names=["nope"])


def test_progress_sees_every_document(pilot_dir: Path, desk_store: Store) -> None:
    seen: list[tuple[str, str]] = []
    sync(pilot_dir, desk_store, names=["help-center"], on_document=lambda s, u: seen.append((s, u)))
    assert ("help-center", "returns.md") in seen and ("help-center", "blob.md") in seen


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """pilotgate (test harness)."""

    sources_cli.register(app)
    return app


def test_cli_lists_sources_and_writes_the_contract(
    pilot_dir: Path, cli: typer.Typer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    runner = CliRunner()
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    common = ["--pilot", str(pilot_dir), "--db", db]
    before = runner.invoke(cli, ["sources", *common])
    assert before.exit_code == 0, before.output
    assert "help-center" in before.output and "never ingested" in before.output
    ingested = runner.invoke(cli, ["sources", "ingest", "help-center", "orders", "crm", *common])
    assert ingested.exit_code == 2
    assert "blob.md" in ingested.output and "a binary file" in ingested.output
    assert "readable by nobody" in ingested.output and "crm" in ingested.output
    assert "previous version stays searchable" in ingested.output
    listed = runner.invoke(cli, ["sources", "--format", "json", *common])
    rows = {row["name"]: row for row in json.loads(listed.output)}
    assert rows["help-center"]["documents"] == 3 and rows["help-center"]["status"] == "ok"
    assert rows["orders"]["unreadable"] == 1 and rows["orders"]["status"] == "unreadable"
    assert rows["archive"]["status"] == "never ingested"
    contract = runner.invoke(cli, ["sources", "--format", "markdown", *common])
    assert contract.exit_code == 0
    text = contract.output
    assert text.startswith("# Data contract: support-desk")
    assert "| orders | csv | sources/orders.csv | ops | confidential | agents, finance |" in text
    assert "1. help-center (system of record)" in text
    assert "`orders`: 1 document(s) readable by nobody" in text
    assert "| security reviewer |" in text
    good = runner.invoke(cli, ["sources", "ingest", "agent-handbook", *common])
    assert good.exit_code == 0 and "agent-handbook" in good.output


@pytest.mark.postgres
def test_a_bulk_ingest_refreshes_postgres_planner_statistics(
    pilot_dir: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without fresh statistics the first searches after a bulk ingest got a bad plan (32 ms, 10k chunks)."""
    from pilotgate.data import sync as sync_module

    monkeypatch.setattr(sync_module, "ANALYZE_AFTER_CHUNKS", 1)
    store = open_store(pg_url)
    try:
        sync(pilot_dir, store)
        with store.read() as conn:
            analyzed = conn.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_user_tables WHERE relname IN ('chunks', 'documents') "
                "AND schemaname = current_schema() AND last_analyze IS NOT NULL"
            ).scalar()
        with store.write() as conn:  # the GIN pending list was merged already: nothing left to clean
            pending = conn.exec_driver_sql(
                "SELECT gin_clean_pending_list('ix_chunks_tsv'::regclass)"
            ).scalar()
    finally:
        store.close()
    assert analyzed == 2
    assert pending == 0

"""A source deleted from pilot.yaml: the next sync tombstones it, retrieval stops serving it, and both the
receipt and `pilotgate sources` say so (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from pilotgate.cli import sources as sources_cli
from pilotgate.data import search
from pilotgate.data.inventory import removed_inventory
from pilotgate.data.sync import SourceSync, sync_sources
from pilotgate.demo.scaffold import scaffold_pilot
from pilotgate.receipts import ReceiptLog, list_receipts
from pilotgate.spec import load_pilot
from pilotgate.store import Store
from pilotgate.store.tables import chunks, documents
from pilotgate.testing import FixedClock

PILOT = "support-desk"
FINANCE_BLOCK = (
    "  - name: finance-notes              # restricted: finance only; "
    "never reaches a customer or a plain agent\n"
    """    kind: folder
    path: sources/finance
    owner: finance
    sensitivity: restricted
    read: [finance]
    freshness: 30d
    rank: 3
"""
)


@pytest.fixture
def pilot_dir(tmp_path: Path) -> Path:
    root = tmp_path / "desk"
    scaffold_pilot(root)
    assert FINANCE_BLOCK in (root / "pilot.yaml").read_text(encoding="utf-8")
    return root


def remove_finance(pilot_dir: Path) -> None:
    path = pilot_dir / "pilot.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace(FINANCE_BLOCK, ""), encoding="utf-8")


def sync(pilot_dir: Path, store: Store, **kwargs: object) -> list[SourceSync]:
    loaded = load_pilot(pilot_dir / "pilot.yaml")
    log = ReceiptLog(pilot=PILOT, clock=FixedClock())
    return sync_sources(store, log, loaded, clock=FixedClock(), **kwargs)  # type: ignore[arg-type]


def reserve_hits(store: Store) -> list[str]:
    with store.read() as conn:
        return [hit.uri for hit in search(conn, pilot=PILOT, query="chargeback reserve", groups=["finance"])]


def test_a_removed_source_is_tombstoned_recorded_and_no_longer_retrieved(
    pilot_dir: Path, store: Store
) -> None:
    sync(pilot_dir, store)
    assert reserve_hits(store) == ["chargebacks.md"]
    with store.read() as conn:
        versions_before = conn.scalar(
            select(func.count()).select_from(documents).where(documents.c.source == "finance-notes")
        )
    remove_finance(pilot_dir)

    results = sync(pilot_dir, store, names=["help-center"])  # even a sync of other sources retires it

    retired = [result for result in results if result.removed]
    assert [result.name for result in retired] == ["finance-notes"]
    report = retired[0].report
    assert report is not None and report.count("tombstoned") == 1 and report.chunks_deactivated >= 1
    assert reserve_hits(store) == []
    with store.read() as conn:
        rows = conn.execute(
            select(documents.c.uri, documents.c.version, documents.c.tombstoned, documents.c.content_hash)
            .where(documents.c.source == "finance-notes")
            .order_by(documents.c.version)
        ).all()
        active = conn.scalar(
            select(func.count())
            .select_from(chunks)
            .where(chunks.c.source == "finance-notes", chunks.c.active)
        )
        kept = conn.scalar(select(func.count()).select_from(chunks).where(chunks.c.source == "finance-notes"))
        receipt = next(
            r for r in list_receipts(conn, PILOT, kind="ingest") if r.body.get("source") == "finance-notes"
        )  # newest first
    # provenance kept: the old version is still there, followed by its tombstone
    assert len(rows) == versions_before + 1
    assert [(uri, tombstoned) for uri, _v, tombstoned, _h in rows] == [
        ("chargebacks.md", False),
        ("chargebacks.md", True),
    ]
    assert active == 0 and kept >= 1
    assert receipt.seq == retired[0].receipt_seq
    assert receipt.body["removed"] is True and receipt.body["tombstoned"] == 1
    assert receipt.body["chunks_deactivated"] == report.chunks_deactivated

    again = sync(pilot_dir, store)
    assert not any(result.removed for result in again)  # retired once; nothing more to record
    with store.read() as conn:
        (gone,) = removed_inventory(conn, pilot=PILOT, declared=["help-center", "agent-handbook"])
    assert (gone.name, gone.status, gone.tombstoned, gone.documents, gone.chunks) == (
        "finance-notes",
        "retired",
        1,
        0,
        0,
    )


def test_a_removed_source_that_comes_back_is_ingested_again(pilot_dir: Path, store: Store) -> None:
    original = (pilot_dir / "pilot.yaml").read_text(encoding="utf-8")
    sync(pilot_dir, store)
    remove_finance(pilot_dir)
    sync(pilot_dir, store)
    (pilot_dir / "pilot.yaml").write_text(original, encoding="utf-8")
    (back,) = [r for r in sync(pilot_dir, store) if r.name == "finance-notes"]
    assert back.report is not None and [(o.action, o.version) for o in back.report.documents] == [("new", 3)]
    assert reserve_hits(store) == ["chargebacks.md"]


def test_sources_shows_a_removed_source_pending_then_retired(
    pilot_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer

    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """pilotgate (test harness)."""

    sources_cli.register(app)
    monkeypatch.setenv("COLUMNS", "400")
    runner = CliRunner()
    common = ["--pilot", str(pilot_dir), "--db", f"sqlite:///{tmp_path / 'cli.db'}"]
    assert runner.invoke(app, ["sources", "ingest", *common]).exit_code == 0
    remove_finance(pilot_dir)

    pending = runner.invoke(app, ["sources", *common])
    assert pending.exit_code == 0, pending.output
    assert "removed from pilot.yaml finance-notes: 1 document(s) still served" in pending.output
    contract = runner.invoke(app, ["sources", "--format", "markdown", *common]).output
    assert "## Sources removed from pilot.yaml" in contract
    assert "`finance-notes` is no longer declared but 1 document(s) of it are still served" in contract

    ingested = runner.invoke(app, ["sources", "ingest", "help-center", *common])
    assert ingested.exit_code == 0, ingested.output
    assert "removed from pilot.yaml finance-notes: 1 document(s) tombstoned" in ingested.output

    listed = runner.invoke(app, ["sources", "--format", "json", *common])
    rows = {row["name"]: row for row in json.loads(listed.output)}
    assert rows["finance-notes"]["removed"] is True and rows["finance-notes"]["status"] == "removed (retired)"
    assert rows["help-center"]["removed"] is False
    table = runner.invoke(app, ["sources", *common]).output
    assert "finance-notes: retired at" in table and "1 document(s) tombstoned" in table

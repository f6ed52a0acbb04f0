"""Ingest writes versioned, permissioned chunks, incrementally, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from pilotgate.data import (
    FolderConnector,
    IngestReport,
    SkippedDocument,
    SourceDocument,
    chunk_id,
    document_id,
    ingest_folder,
    ingest_source,
    search,
)
from pilotgate.data.acl import acl_text
from pilotgate.data.ingest import chunk_ids
from pilotgate.errors import SourceError
from pilotgate.store import Store
from pilotgate.store.tables import chunks, documents
from pilotgate.testing import FixedClock

Tree = Callable[..., Path]
PILOT = "refund-desk"

POLICY = "# Refunds\n\nRefunds take 14 days.\n\n## Damaged items\n\nSend a photo of the damage.\n"
SHIPPING = "# Shipping\n\nWe ship worldwide.\n"


def ingest(store: Store, root: Path, groups: tuple[str, ...] = ("agents", "customers")) -> IngestReport:
    with store.write() as conn:
        return ingest_folder(
            conn, pilot=PILOT, source=FolderConnector("policy", root, groups), clock=FixedClock()
        )


def active_chunks(store: Store) -> dict[str, tuple[str, int, str | None, str]]:
    """chunk id -> (uri, version, heading, text) of every active chunk."""
    with store.read() as conn:
        rows = conn.execute(
            select(chunks.c.id, documents.c.uri, documents.c.version, chunks.c.heading, chunks.c.text)
            .join(documents, documents.c.id == chunks.c.document_id)
            .where(chunks.c.active)
        )
        return {row[0]: (row[1], row[2], row[3], row[4]) for row in rows}


def groups_of(store: Store, chunk: str) -> set[str]:
    """The groups the chunk's document version grants; its retrieval tokens must say the same."""
    with store.read() as conn:
        source, acl, granted = conn.execute(
            select(chunks.c.source, chunks.c.acl, documents.c.read_groups)
            .join(documents, documents.c.id == chunks.c.document_id)
            .where(chunks.c.id == chunk)
        ).one()
    groups = set(json.loads(granted))
    assert acl == acl_text(PILOT, source, groups)
    return groups


def ask(store: Store, query: str, groups: list[str]) -> list[str]:
    with store.read() as conn:
        return sorted({hit.uri for hit in search(conn, pilot=PILOT, query=query, groups=groups, limit=20)})


def test_first_ingest_writes_documents_chunks_and_groups(store: Store, tree: Tree) -> None:
    root = tree({"refunds.md": POLICY, "shipping.md": SHIPPING})
    report = ingest(store, root)
    assert (report.count("new"), report.chunks_written, report.chunks_deactivated) == (2, 3, 0)
    assert report.skipped == ()
    with store.read() as conn:
        docs = conn.execute(select(documents).order_by(documents.c.uri)).mappings().all()
    assert [(d["uri"], d["version"], d["tombstoned"]) for d in docs] == [
        ("refunds.md", 1, False),
        ("shipping.md", 1, False),
    ]
    refunds = docs[0]
    assert refunds["id"] == document_id(PILOT, "policy", "refunds.md", 1)
    assert refunds["content_hash"].startswith("sha256:") and len(refunds["content_hash"]) == 71
    assert refunds["ingested_at"] == "2026-01-01T00:00:00.000000Z"
    assert refunds["modified_at"].endswith("Z")
    live = active_chunks(store)
    first = chunk_id(PILOT, "policy", "refunds.md", 1, 0)
    assert live[first] == ("refunds.md", 1, "Refunds", "Refunds take 14 days.")
    assert groups_of(store, first) == {"agents", "customers"}


def test_reingesting_an_unchanged_folder_writes_nothing(store: Store, tree: Tree) -> None:
    root = tree({"refunds.md": POLICY, "shipping.md": SHIPPING})
    first = ingest(store, root)
    before = active_chunks(store)
    again = ingest(store, root)
    assert again.count("unchanged") == 2
    assert (again.chunks_written, again.chunks_deactivated) == (0, 0)
    assert active_chunks(store) == before
    assert again.digest != first.digest  # "new" vs "unchanged" are different events


def test_a_changed_document_gets_a_new_version_and_old_chunks_go_inactive(store: Store, tree: Tree) -> None:
    root = tree({"refunds.md": POLICY, "shipping.md": SHIPPING})
    ingest(store, root)
    (root / "refunds.md").write_text(POLICY.replace("14 days", "30 days"), encoding="utf-8")
    report = ingest(store, root)
    assert (report.count("changed"), report.count("unchanged")) == (1, 1)
    assert (report.chunks_written, report.chunks_deactivated) == (2, 2)
    changed = next(o for o in report.documents if o.uri == "refunds.md")
    assert changed.version == 2 and changed.document_id == document_id(PILOT, "policy", "refunds.md", 2)
    versions = {uri: version for uri, version, _, _ in active_chunks(store).values()}
    assert versions == {"refunds.md": 2, "shipping.md": 1}
    with store.read() as conn:
        kept = conn.scalar(
            select(chunks.c.active).where(chunks.c.id == chunk_id(PILOT, "policy", "refunds.md", 1, 0))
        )
    assert kept is False  # the old version stays, inactive
    assert ask(store, "30 days", ["agents"]) == ["refunds.md"]
    assert "14" not in " ".join(text for _, _, _, text in active_chunks(store).values())


def test_a_deleted_document_is_tombstoned_and_a_returning_one_is_a_new_version(
    store: Store, tree: Tree
) -> None:
    root = tree({"refunds.md": POLICY, "shipping.md": SHIPPING})
    ingest(store, root)
    (root / "shipping.md").unlink()
    report = ingest(store, root)
    gone = next(o for o in report.documents if o.uri == "shipping.md")
    assert (gone.action, gone.version, gone.chunks, report.chunks_deactivated) == ("tombstoned", 2, 0, 1)
    assert ask(store, "ship worldwide", ["agents"]) == []
    with store.read() as conn:
        rows = conn.execute(
            select(documents.c.version, documents.c.tombstoned).where(documents.c.uri == "shipping.md")
        ).all()
    assert sorted(rows) == [(1, False), (2, True)]
    assert ingest(store, root).count("tombstoned") == 0  # tombstoned once, not again
    (root / "shipping.md").write_text(SHIPPING, encoding="utf-8")
    back = ingest(store, root)
    returned = next(o for o in back.documents if o.uri == "shipping.md")
    assert (returned.action, returned.version) == ("new", 3)
    assert ask(store, "ship worldwide", ["agents"]) == ["shipping.md"]


def test_front_matter_narrows_the_source_groups(store: Store, tree: Tree) -> None:
    root = tree(
        {
            "agents-only.md": "---\nread: [agents, finance]\n---\n# Escalations\n\nCall the supervisor.\n",
            "nobody.md": "---\nread: [finance]\n---\n# Payroll\n\nSalaries are secret.\n",
            "everyone.md": "# Hours\n\nOpen nine to five.\n",
        }
    )
    report = ingest(store, root)
    groups = {o.uri: o.groups for o in report.documents}
    assert groups == {
        "agents-only.md": ("agents",),
        "everyone.md": ("agents", "customers"),
        "nobody.md": (),
    }
    assert report.unreadable == ("nobody.md",)
    assert report.summary()["unreadable"] == [
        {
            "uri": "nobody.md",
            "reason": "its own groups (finance) share none with the source's (agents, customers)",
        }
    ]
    assert ask(store, "supervisor", ["customers"]) == []
    assert ask(store, "supervisor", ["agents"]) == ["agents-only.md"]
    assert ask(store, "salaries secret", ["finance", "agents", "customers"]) == []  # fail closed


def test_a_change_of_the_source_groups_regrants_unchanged_documents(store: Store, tree: Tree) -> None:
    root = tree({"refunds.md": POLICY})
    ingest(store, root, groups=("agents", "customers"))
    assert ask(store, "refunds", ["customers"]) == ["refunds.md"]
    report = ingest(store, root, groups=("agents",))
    assert report.count("acl_changed") == 1
    assert report.chunks_written == 0
    assert ask(store, "refunds", ["customers"]) == []
    assert ask(store, "refunds", ["agents"]) == ["refunds.md"]
    assert ingest(store, root, groups=("agents",)).count("unchanged") == 1


def test_a_skipped_document_keeps_its_previous_version(store: Store, tree: Tree) -> None:
    root = tree({"refunds.md": POLICY, "shipping.md": SHIPPING})
    ingest(store, root)
    (root / "shipping.md").write_text("---\nread: [oops\n---\n# Shipping\n", encoding="utf-8")
    report = ingest(store, root)
    assert [s.uri for s in report.skipped] == ["shipping.md"]
    assert "front matter" in report.skipped[0].reason
    assert report.count("tombstoned") == 0
    assert ask(store, "ship worldwide", ["agents"]) == ["shipping.md"]
    summary = report.summary()
    assert summary["skipped"] == [{"uri": "shipping.md", "reason": report.skipped[0].reason}]


def test_documents_under_an_unlistable_folder_are_not_tombstoned(
    store: Store, tree: Tree, deny_listing: Callable[[Path], None]
) -> None:
    root = tree({"open/a.md": "# A\n\nalpha\n", "closed/b.md": "# B\n\nbravo\n"})
    ingest(store, root)
    deny_listing(root / "closed")
    report = ingest(store, root)
    assert report.count("tombstoned") == 0
    assert [s.uri for s in report.skipped] == ["closed/"]
    assert ask(store, "bravo", ["agents"]) == ["closed/b.md"]


def test_a_vanished_folder_raises_and_changes_nothing(store: Store, tree: Tree, tmp_path: Path) -> None:
    root = tree({"refunds.md": POLICY})
    ingest(store, root)
    root.rename(tmp_path / "moved")
    with pytest.raises(SourceError):
        ingest(store, root)
    assert ask(store, "refunds", ["agents"]) == ["refunds.md"]


def test_the_digest_is_deterministic_across_stores_and_times(
    store: Store, tree: Tree, tmp_path: Path
) -> None:
    from pilotgate.store import open_store

    root = tree({"refunds.md": POLICY, "shipping.md": SHIPPING, "bad.md": b"\x00\x01"})
    first = ingest(store, root)
    os.utime(root / "refunds.md", (1_000_000_000, 1_000_000_000))
    other = open_store(f"sqlite:///{tmp_path / 'other.db'}")
    try:
        second = ingest(other, root)
    finally:
        other.close()
    assert first.digest == second.digest
    assert first.digest.startswith("sha256:")
    assert [o.document_id for o in first.documents] == [o.document_id for o in second.documents]


def test_pilots_and_sources_are_kept_apart(store: Store, tree: Tree) -> None:
    root = tree({"refunds.md": POLICY})
    with store.write() as conn:
        ingest_folder(conn, pilot="one", source=FolderConnector("policy", root, ("g",)), clock=FixedClock())
        ingest_folder(conn, pilot="two", source=FolderConnector("policy", root, ("g",)), clock=FixedClock())
        ingest_folder(conn, pilot="one", source=FolderConnector("copy", root, ("g",)), clock=FixedClock())
    with store.read() as conn:
        one = search(conn, pilot="one", query="refunds", groups=["g"], limit=10)
        two = search(conn, pilot="two", query="refunds", groups=["g"], limit=10)
        only_copy = search(conn, pilot="one", query="refunds", groups=["g"], limit=10, sources=["copy"])
    assert {hit.source for hit in one} == {"policy", "copy"}
    assert {hit.source for hit in two} == {"policy"}
    assert {hit.source for hit in only_copy} == {"copy"}
    assert not {hit.chunk_id for hit in one} & {hit.chunk_id for hit in two}
    # ingesting one source never tombstones another's documents
    with store.write() as conn:
        again = ingest_folder(
            conn, pilot="one", source=FolderConnector("copy", root, ("g",)), clock=FixedClock()
        )
    assert again.count("unchanged") == 1


def test_any_connector_can_be_ingested(store: Store, list_connector: type) -> None:
    connector = list_connector(
        "tickets",
        ("agents",),
        [
            SourceDocument("t-2", "Customer asks about a late parcel."),
            SourceDocument("t-1", "# Not markdown\n\nplain text ticket", read_groups=("agents", "x")),
            SkippedDocument("t-3", "record has no body"),
            SourceDocument("t-1", "a duplicate uri"),
        ],
    )
    with store.write() as conn:
        report = ingest_source(conn, pilot=PILOT, connector=connector, clock=FixedClock(), max_chunk_chars=50)
    assert [o.uri for o in report.documents] == ["t-1", "t-2"]
    assert {s.uri: s.reason for s in report.skipped} == {
        "t-3": "record has no body",
        "t-1": "listed twice by the source; the first was ingested",
    }
    assert {heading for _, _, heading, _ in active_chunks(store).values()} == {None}
    assert ask(store, "parcel", ["agents"]) == ["t-2"]


def test_a_large_document_is_written_in_batches(store: Store, tree: Tree) -> None:
    body = "\n\n".join(f"## Section {i}\n\nParagraph {i} about refunds." for i in range(3000))
    root = tree({"big.md": "# Big\n\n" + body})
    report = ingest(store, root)
    assert report.chunks_written == 3000
    with store.read() as conn:
        assert conn.scalar(select(documents.c.read_groups)) == '["agents","customers"]'
        assert len(conn.execute(select(chunks.c.id).where(chunks.c.acl != "")).all()) == 3000


def test_many_documents_over_many_batches_keep_every_chunk_and_outcome(
    store: Store, list_connector: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Chunks are made while their batch is written (COPY on PostgreSQL): nothing is lost at batch edges."""
    from pilotgate.data import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "FLUSH_EVERY_DOCUMENTS", 3)
    monkeypatch.setattr(ingest_module, "FLUSH_EVERY_CHARS", 200)
    items = [
        SourceDocument(
            f"d{i:02d}.md",
            f"# Doc {i}\n\nword{i} alpha.\n\n## Part\n\nbeta {i}.\n",
            media_type="text/markdown",
        )
        for i in range(20)
    ]
    with store.write() as conn:
        report = ingest_source(
            conn, pilot=PILOT, connector=list_connector("kb", ("agents",), items), clock=FixedClock()
        )
    assert [(o.uri, o.action, o.chunks) for o in report.documents] == [
        (f"d{i:02d}.md", "new", 2) for i in range(20)
    ]
    assert report.chunks_written == 40
    with store.read() as conn:
        stored = conn.execute(select(chunks.c.id, chunks.c.document_id, chunks.c.ordinal)).all()
        assert len(stored) == 40
        assert {row.id for row in stored} == {
            chunk_id(PILOT, "kb", f"d{i:02d}.md", 1, ordinal) for i in range(20) for ordinal in (0, 1)
        }
        assert [hit.uri for hit in search(conn, pilot=PILOT, query="word17", groups=["agents"])] == ["d17.md"]


@given(
    st.text(max_size=40),
    st.text(max_size=40),
    st.text(max_size=80),
    st.integers(1, 10**6),
    st.integers(0, 10**5),
)
def test_chunk_ids_match_chunk_id(pilot: str, source: str, uri: str, version: int, ordinal: int) -> None:
    assert chunk_ids(pilot, source, uri, version)(ordinal) == chunk_id(pilot, source, uri, version, ordinal)


def test_the_summary_is_json_ready(store: Store, tree: Tree) -> None:
    import json

    report = ingest(store, tree({"refunds.md": POLICY}))
    summary = report.summary()
    assert json.loads(json.dumps(summary)) == summary
    assert {"new", "changed", "unchanged", "acl_changed", "tombstoned", "skipped", "digest"} <= set(summary)


def test_edits_deletions_and_renames_keep_versions_and_provenance(store: Store, tree: Tree) -> None:
    root = tree({"refunds.md": POLICY, "shipping.md": SHIPPING, "faq.md": "# FAQ\n\nAsk us.\n"})
    clock = FixedClock(start=datetime(2026, 1, 1, tzinfo=UTC), step=timedelta(days=1))

    def run() -> IngestReport:
        with store.write() as conn:
            return ingest_folder(
                conn, pilot=PILOT, source=FolderConnector("policy", root, ("agents",)), clock=clock
            )

    run()
    (root / "refunds.md").write_text(POLICY.replace("14 days", "30 days"), encoding="utf-8")  # edit
    (root / "shipping.md").rename(root / "delivery.md")  # rename
    (root / "faq.md").unlink()  # delete
    second = run()
    actions = {o.uri: (o.action, o.version) for o in second.documents}
    assert actions == {
        "refunds.md": ("changed", 2),
        "shipping.md": ("tombstoned", 2),
        "delivery.md": ("new", 1),
        "faq.md": ("tombstoned", 2),
    }
    renamed = next(o for o in second.documents if o.uri == "delivery.md")
    old = next(o for o in second.documents if o.uri == "shipping.md")
    assert renamed.content_hash != old.content_hash  # the tombstone carries the empty hash
    with store.read() as conn:
        rows = conn.execute(
            select(
                documents.c.uri, documents.c.version, documents.c.ingested_at, documents.c.tombstoned
            ).order_by(documents.c.uri, documents.c.version)
        ).all()
    assert [tuple(row) for row in rows] == [
        ("delivery.md", 1, "2026-01-02T00:00:00.000000Z", False),
        ("faq.md", 1, "2026-01-01T00:00:00.000000Z", False),
        ("faq.md", 2, "2026-01-02T00:00:00.000000Z", True),
        ("refunds.md", 1, "2026-01-01T00:00:00.000000Z", False),
        ("refunds.md", 2, "2026-01-02T00:00:00.000000Z", False),
        ("shipping.md", 1, "2026-01-01T00:00:00.000000Z", False),
        ("shipping.md", 2, "2026-01-02T00:00:00.000000Z", True),
    ]
    with store.read() as conn:
        (hit,) = search(conn, pilot=PILOT, query="ship worldwide", groups=["agents"])
        refunds = search(conn, pilot=PILOT, query="30 days", groups=["agents"])
    assert (hit.uri, hit.version, hit.ingested_at) == ("delivery.md", 1, "2026-01-02T00:00:00.000000Z")
    assert hit.modified_at is not None and hit.content_at == hit.modified_at
    assert [(r.uri, r.version) for r in refunds] == [("refunds.md", 2)]
    assert run().count("unchanged") == 2  # and nothing more happens


def test_a_large_batch_is_written_whole_and_indexed(store: Store, list_connector: type) -> None:
    """More chunks than one multi-row INSERT holds (SQLite) or one COPY: every chunk is stored, searchable
    and in step with the full-text index; on SQLite the connection's page cache setting is restored."""
    items = [
        SourceDocument(
            uri=f"doc{index:03d}.md",
            text=f"# Doc {index}\n\n"
            + "\n\n".join(f"## Part {part}\n\nword{index}x{part} shared" for part in range(7)),
            media_type="text/markdown",
        )
        for index in range(40)
    ]
    with store.write() as conn:
        cache = conn.exec_driver_sql("PRAGMA cache_size").scalar() if store.dialect == "sqlite" else None
        report = ingest_source(
            conn, pilot=PILOT, connector=list_connector("bulk", ("agents",), items), clock=FixedClock()
        )
        if cache is not None:
            assert conn.exec_driver_sql("PRAGMA cache_size").scalar() == cache
    assert report.chunks_written == 280
    with store.read() as conn:
        assert len(conn.execute(select(chunks.c.id).where(chunks.c.active)).all()) == 280
        hits = search(conn, pilot=PILOT, query="word39x6", groups=["agents"])
        assert [hit.text for hit in hits] == ["word39x6 shared"]
        assert len(search(conn, pilot=PILOT, query="shared", groups=["agents"], limit=500)) == 280
    if store.dialect == "sqlite":
        with store.write() as conn:  # FTS5 raises SQLITE_CORRUPT_VTAB if the index disagrees with the rows
            conn.exec_driver_sql("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")

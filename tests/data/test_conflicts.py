"""Conflicts are resolved by rank and reported; duplicates are found; retrieval returns the winner and notes
the loser; all on a corpus built for it, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Select, select

from pilotgate.data import (
    SourceDocument,
    SourceRegistry,
    SourceRules,
    ingest_source,
    reconcile,
    retrieve,
    search,
)
from pilotgate.data.acl import acl_text
from pilotgate.store import Store
from pilotgate.store.tables import chunks, documents
from pilotgate.testing import FixedClock

PILOT = "refund-desk"
NOW = datetime(2026, 1, 2, tzinfo=UTC)

POLICY_TEXT = (
    "Refunds for damaged parcels are paid within fourteen days of the customer sending a photo of the damage "
    "to the support team, and the original packaging must be kept until the refund is confirmed."
)
NEAR_COPY = POLICY_TEXT.replace("fourteen", "ten")
PARCEL_TEXT = (
    "Parcels ship within two days from the Leeds warehouse; tracking links arrive by email afterwards."
)

REGISTRY = SourceRegistry.of(
    [
        SourceRules("policy", rank=1),
        SourceRules("wiki", rank=2),
        SourceRules("orders-db", rank=3, system_of_record=("order_id",)),
        SourceRules("orders-csv", rank=3),
        SourceRules("notes"),
    ]
)


def doc(uri: str, text: str, **kwargs: object) -> SourceDocument:
    return SourceDocument(uri, text, **kwargs)  # type: ignore[arg-type]


def load(store: Store, list_connector: type, corpus: dict[str, list[SourceDocument]]) -> None:
    clock = FixedClock()
    with store.write() as conn:
        for name, items in corpus.items():
            groups = ("agents", "finance") if name != "notes" else ("finance",)
            ingest_source(conn, pilot=PILOT, connector=list_connector(name, groups, items), clock=clock)


CORPUS = {
    "policy": [
        doc("refunds.md", POLICY_TEXT, topic="refunds"),
        doc("shipping.md", PARCEL_TEXT),
    ],
    "wiki": [
        doc(
            "refunds-old.md",
            "Refunds for damaged parcels are paid within thirty days, no photo needed.",
            topic="refunds",
        ),
        doc("copy-of-shipping.md", PARCEL_TEXT),
        doc("near.md", NEAR_COPY),
    ],
    "orders-db": [doc("100001", "order_id: 100001\nstatus: refunded", record_key="order_id=100001")],
    "orders-csv": [
        doc("100001", "order_id: 100001\nstatus: open", record_key="order_id=100001"),
        doc("100002", "order_id: 100002\nstatus: shipped", record_key="order_id=100002"),
    ],
    "notes": [doc("n1", "Refunds for damaged parcels: finance note, forty days.", topic="refunds")],
}


def test_conflicts_are_won_by_rank_then_system_of_record(store: Store, list_connector: type) -> None:
    load(store, list_connector, CORPUS)
    with store.write() as conn:
        found = reconcile(conn, pilot=PILOT, registry=REGISTRY)
    by_subject = {c.subject: c for c in found.conflicts}
    assert set(by_subject) == {"order_id=100001", "topic:refunds"}
    refunds = by_subject["topic:refunds"]
    assert (refunds.winner.source, refunds.winner.uri, refunds.decided_by) == ("policy", "refunds.md", "rank")
    assert [(m.source, m.uri) for m in refunds.losers] == [("wiki", "refunds-old.md"), ("notes", "n1")]
    order = by_subject["order_id=100001"]
    assert (order.winner.source, order.decided_by) == ("orders-db", "system_of_record")
    assert [m.source for m in order.losers] == ["orders-csv"]
    assert found.superseded_changed == 3
    with store.read() as conn:
        superseded = set(conn.execute(select_superseded()).all())
    assert superseded == {("wiki", "refunds-old.md"), ("notes", "n1"), ("orders-csv", "100001")}
    summary = found.summary()
    assert summary["conflicts"] == 2 and summary["conflicts_digest"].startswith("sha256:")


def select_superseded() -> Select[tuple[str, str]]:
    return (
        select(documents.c.source, documents.c.uri)
        .join(chunks, chunks.c.document_id == documents.c.id)
        .where(chunks.c.superseded, documents.c.superseded_by.is_not(None))
        .distinct()
    )


def test_a_tie_is_reported_as_such(store: Store, list_connector: type) -> None:
    corpus = {
        "a": [doc("x", "status: open", record_key="id=1")],
        "b": [doc("y", "status: closed", record_key="id=1")],
    }
    load(store, list_connector, corpus)
    with store.write() as conn:
        (conflict,) = reconcile(conn, pilot=PILOT, registry=SourceRegistry()).conflicts
    assert (conflict.winner.source, conflict.decided_by) == ("a", "tie")


def test_exact_and_near_duplicates_are_found_across_sources(store: Store, list_connector: type) -> None:
    load(store, list_connector, CORPUS)
    with store.write() as conn:
        found = reconcile(conn, pilot=PILOT, registry=REGISTRY)
    exact = [(d.source, d.uri, d.of_source, d.of_uri) for d in found.duplicates if d.kind == "exact"]
    assert exact == [("wiki", "copy-of-shipping.md", "policy", "shipping.md")]
    near = [(d.source, d.uri, d.of_source, d.of_uri) for d in found.duplicates if d.kind == "near"]
    assert near == [("wiki", "near.md", "policy", "refunds.md")]
    (close,) = [d for d in found.duplicates if d.kind == "near"]
    assert 0.75 <= float(close.similarity) < 1
    involving = found.involving("orders-db")
    assert involving.duplicates == () and [c.subject for c in involving.conflicts] == ["order_id=100001"]


def test_retrieval_returns_the_winner_and_notes_the_loser(store: Store, list_connector: type) -> None:
    load(store, list_connector, CORPUS)
    with store.write() as conn:
        reconcile(conn, pilot=PILOT, registry=REGISTRY)
    with store.read() as conn:
        agents = retrieve(conn, pilot=PILOT, query="refunds damaged parcels", groups=["agents"], now=NOW)
        finance = retrieve(conn, pilot=PILOT, query="refunds damaged parcels", groups=["finance"], now=NOW)
        plain = search(conn, pilot=PILOT, query="refunds damaged parcels thirty", groups=["agents"], limit=20)
    assert ("wiki", "refunds-old.md") not in {(hit.source, hit.uri) for hit in plain}
    winner = next(hit for hit in agents.chunks if hit.uri == "refunds.md")
    assert [(n.source, n.uri, n.subject) for n in winner.conflicts] == [
        ("wiki", "refunds-old.md", "topic:refunds")
    ]
    assert winner.hidden_conflicts == 1  # the finance note: agents may not read it, so it is only counted
    assert agents.withheld.superseded + agents.withheld.restricted >= 2
    finance_winner = next(hit for hit in finance.chunks if hit.uri == "refunds.md")
    assert {n.uri for n in finance_winner.conflicts} == {"refunds-old.md", "n1"}
    body = agents.receipt_body()
    assert "n1" not in str(body) and "forty" not in str(body)


def test_the_loser_comes_back_when_the_winner_goes(store: Store, list_connector: type) -> None:
    load(store, list_connector, CORPUS)
    with store.write() as conn:
        reconcile(conn, pilot=PILOT, registry=REGISTRY)
    with store.write() as conn:
        ingest_source(
            conn,
            pilot=PILOT,
            connector=list_connector("orders-db", ("agents", "finance"), []),
            clock=FixedClock(),
        )
        again = reconcile(conn, pilot=PILOT, registry=REGISTRY)
    assert "order_id=100001" not in {c.subject for c in again.conflicts}
    with store.read() as conn:
        hits = search(conn, pilot=PILOT, query="100001 open", groups=["agents"])
        acl = conn.scalar(select_acl("orders-csv", "100001"))
    assert [(hit.source, hit.uri) for hit in hits] == [("orders-csv", "100001")]
    assert acl == acl_text(PILOT, "orders-csv", ["agents", "finance"])


def select_acl(source: str, uri: str) -> Select[tuple[str]]:
    return (
        select(chunks.c.acl)
        .join(documents, documents.c.id == chunks.c.document_id)
        .where(documents.c.source == source, documents.c.uri == uri, chunks.c.active)
    )


def test_a_rank_change_resettles_the_winner(store: Store, list_connector: type) -> None:
    load(store, list_connector, CORPUS)
    with store.write() as conn:
        reconcile(conn, pilot=PILOT, registry=REGISTRY)
    flipped = SourceRegistry.of([SourceRules("policy", rank=2), SourceRules("wiki", rank=1)])
    with store.write() as conn:
        found = reconcile(conn, pilot=PILOT, registry=flipped, duplicates=False)
    refunds = next(c for c in found.conflicts if c.subject == "topic:refunds")
    assert refunds.winner.source == "wiki" and found.superseded_changed >= 2
    with store.read() as conn:
        hits = search(conn, pilot=PILOT, query="refunds damaged parcels", groups=["agents"], limit=10)
    assert ("wiki", "refunds-old.md") in {(hit.source, hit.uri) for hit in hits}
    assert ("policy", "refunds.md") not in {(hit.source, hit.uri) for hit in hits}

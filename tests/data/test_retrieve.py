"""`retrieve`: provenance, freshness, withheld counts and a receipt body that never holds withheld content."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from pilotgate.data import SourceDocument, SourceRegistry, SourceRules, ingest_source, reconcile, retrieve
from pilotgate.data.acl import group_token, pilot_token, source_token
from pilotgate.data.sync import refresh_planner_statistics
from pilotgate.store import Store
from pilotgate.testing import FixedClock

PILOT = "refund-desk"
OLD = datetime(2025, 1, 1, tzinfo=UTC)
NEW = datetime(2026, 5, 20, tzinfo=UTC)
NOW = datetime(2026, 6, 1, tzinfo=UTC)
CANARY = "zebracanary7731"


@pytest.fixture
def corpus(store: Store, list_connector: type) -> Store:
    items = {
        "policy": [
            SourceDocument("refunds.md", "Refunds arrive within fourteen days.", modified_at=NEW),
            SourceDocument("old-refunds.md", "Refunds arrived within forty days.", modified_at=OLD),
        ],
        "finance": [
            SourceDocument("secret.md", f"Refunds ledger code {CANARY}.", modified_at=NEW),
        ],
        "archive": [
            SourceDocument("ancient.md", "Refunds were mailed as cheques.", modified_at=OLD),
            SourceDocument("recent.md", "Refunds go to the card.", modified_at=NEW, record_key="k=1"),
        ],
    }
    groups = {"policy": ("agents", "customers"), "finance": ("finance",), "archive": ("agents",)}
    with store.write() as conn:
        for name, docs in items.items():
            ingest_source(
                conn, pilot=PILOT, connector=list_connector(name, groups[name], docs), clock=FixedClock()
            )
    return store


REGISTRY = SourceRegistry.of(
    [
        SourceRules("policy", rank=1, freshness=timedelta(days=90)),
        SourceRules("finance", rank=2),
        SourceRules("archive", rank=3, freshness=timedelta(days=90), stale="exclude"),
    ]
)


def test_results_carry_provenance_and_staleness(corpus: Store) -> None:
    with corpus.read() as conn:
        found = retrieve(conn, pilot=PILOT, query="refunds", groups=["customers"], registry=REGISTRY, now=NOW)
    by_uri = {hit.uri: hit for hit in found.chunks}
    assert set(by_uri) == {"refunds.md", "old-refunds.md"}
    fresh, stale = by_uri["refunds.md"], by_uri["old-refunds.md"]
    assert (fresh.stale, stale.stale) == (False, True)
    assert [hit.uri for hit in found.stale] == ["old-refunds.md"]
    assert fresh.modified_at == "2026-05-20T00:00:00.000000Z" and fresh.content_at == fresh.modified_at
    assert fresh.ingested_at == "2026-01-01T00:00:00.000000Z"
    assert fresh.content_hash.startswith("sha256:") and fresh.document_hash.startswith("sha256:")
    assert fresh.version == 1 and fresh.document_id.startswith("doc_")


def test_stale_exclude_sources_are_filtered_in_the_query_and_counted(corpus: Store) -> None:
    with corpus.read() as conn:
        found = retrieve(conn, pilot=PILOT, query="refunds", groups=["agents"], registry=REGISTRY, now=NOW)
    uris = {hit.uri for hit in found.chunks}
    assert "ancient.md" not in uris and "recent.md" in uris
    assert found.withheld.stale == 1
    assert found.withheld.restricted == 1  # the finance ledger
    assert found.withheld.window == 5


def test_the_receipt_body_is_json_ready_and_holds_no_withheld_content(corpus: Store) -> None:
    with corpus.read() as conn:
        found = retrieve(
            conn, pilot=PILOT, query="refunds ledger code", groups=["agents"], registry=REGISTRY, now=NOW
        )
    body = found.receipt_body()
    text = json.dumps(body)
    assert json.loads(text) == body
    assert CANARY not in text and "secret.md" not in text and "finance" not in text
    assert body["withheld"] == {"restricted": 1, "superseded": 0, "stale": 1, "window": 5}
    assert body["ranker"] in {"sqlite-fts5-bm25", "postgresql-ts_rank_cd"}
    assert body["at"] == "2026-06-01T00:00:00.000000Z"
    assert all(isinstance(chunk["score"], str) for chunk in body["chunks"])
    assert not any(isinstance(value, float) for chunk in body["chunks"] for value in chunk.values())


def test_the_group_that_may_read_gets_it(corpus: Store) -> None:
    with corpus.read() as conn:
        found = retrieve(
            conn, pilot=PILOT, query="ledger code", groups=["finance"], registry=REGISTRY, now=NOW
        )
    assert [hit.uri for hit in found.chunks] == ["secret.md"]
    assert found.withheld.restricted == 0


def test_exact_duplicates_are_collapsed(store: Store, list_connector: type) -> None:
    docs = [SourceDocument(f"copy{i}.md", "Parcels ship within two days.") for i in range(3)]
    docs.append(SourceDocument("other.md", "Parcels ship from Leeds."))
    with store.write() as conn:
        ingest_source(conn, pilot=PILOT, connector=list_connector("s", ("g",), docs), clock=FixedClock())
    with store.read() as conn:
        found = retrieve(conn, pilot=PILOT, query="parcels ship", groups=["g"], limit=5)
    assert len(found.chunks) == 2 and found.duplicates_collapsed == 2


def test_nothing_to_search_gives_an_empty_retrieval(corpus: Store) -> None:
    with corpus.read() as conn:
        for query, groups in (("", ["agents"]), ("refunds", []), ("the of what", ["agents"])):
            found = retrieve(conn, pilot=PILOT, query=query, groups=groups, registry=REGISTRY, now=NOW)
            assert found.chunks == () and found.receipt_body()["returned"] == 0


def test_tokens_are_exact_per_pilot_source_and_group() -> None:
    tokens = {group_token("p", f"g{i}") for i in range(2000)} | {group_token("q", "g1"), pilot_token("p")}
    tokens |= {source_token("p", "g1")}
    assert len(tokens) == 2003
    assert all(token.isalnum() and token.islower() and token[-1] == "0" for token in tokens)


def test_similar_tokens_never_match_each_other(store: Store, list_connector: type) -> None:
    """Many groups whose tokens share prefixes: each user sees exactly the documents of their own group."""
    groups = [f"team{i}" for i in range(60)]
    with store.write() as conn:
        docs = [SourceDocument(f"{g}.md", f"Shared word. Owned by {g}.", read_groups=(g,)) for g in groups]
        ingest_source(
            conn, pilot=PILOT, connector=list_connector("s", tuple(groups), docs), clock=FixedClock()
        )
    with store.read() as conn:
        for group in groups:
            found = retrieve(conn, pilot=PILOT, query="shared word", groups=[group], limit=100, audit=False)
            assert [hit.uri for hit in found.chunks] == [f"{group}.md"]


def test_withheld_counts_only_the_pilots_own_chunks(corpus: Store, list_connector: type) -> None:
    with corpus.read() as conn:
        alone = retrieve(conn, pilot=PILOT, query="refunds", groups=["agents"], registry=REGISTRY, now=NOW)
    other = [SourceDocument(f"o{i}.md", f"Refunds elsewhere {i}.") for i in range(30)]
    with corpus.write() as conn:
        ingest_source(
            conn, pilot="other-desk", connector=list_connector("x", ("zz",), other), clock=FixedClock()
        )
    with corpus.read() as conn:
        shared = retrieve(conn, pilot=PILOT, query="refunds", groups=["agents"], registry=REGISTRY, now=NOW)
        elsewhere = retrieve(conn, pilot="other-desk", query="refunds", groups=["agents"])
    assert shared.withheld == alone.withheld
    assert [(c.source, c.uri) for c in shared.chunks] == [(c.source, c.uri) for c in alone.chunks]
    assert elsewhere.chunks == () and elsewhere.withheld.restricted == 30  # every match counted, unranked


def test_refreshing_after_a_bulk_ingest_keeps_every_result(corpus: Store) -> None:
    def ranked() -> list[tuple[str, str]]:
        with corpus.read() as conn:
            found = retrieve(conn, pilot=PILOT, query="refunds card", groups=["agents"], registry=REGISTRY)
        return [(hit.chunk_id, f"{hit.score:.6f}") for hit in found.chunks]

    before = ranked()
    refresh_planner_statistics(corpus)  # SQLite: merges the FTS5 segments; PostgreSQL: ANALYZE
    assert ranked() == before and before
    if corpus.dialect == "sqlite":
        with corpus.write() as conn:  # FTS5 raises SQLITE_CORRUPT_VTAB if the merged index disagrees
            conn.exec_driver_sql("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)")


@pytest.mark.parametrize(
    ("limit", "sources", "returned", "expected"),
    [
        (5, None, 3, {"restricted": 1, "superseded": 0, "stale": 1, "window": 5}),
        (1, None, 1, {"restricted": 1, "superseded": 0, "stale": 1, "window": 5}),  # readable: not withheld
        (5, ["archive"], 1, {"restricted": 0, "superseded": 0, "stale": 1, "window": 2}),
        (5, ["finance", "policy"], 2, {"restricted": 1, "superseded": 0, "stale": 0, "window": 3}),
    ],
)
def test_withheld_counts_do_not_depend_on_the_limit_and_follow_the_sources(
    corpus: Store, limit: int, sources: list[str] | None, returned: int, expected: dict[str, int]
) -> None:
    with corpus.read() as conn:
        found = retrieve(
            conn,
            pilot=PILOT,
            query="refunds",
            groups=["agents"],
            limit=limit,
            sources=sources,
            registry=REGISTRY,
            now=NOW,
        )
    assert len(found.chunks) == returned
    assert found.withheld.json() == expected


def test_a_superseded_match_is_counted_as_superseded_or_restricted_by_who_asks(
    corpus: Store, list_connector: type
) -> None:
    ledger = [
        SourceDocument("ledger.md", "Refunds go to the bank account.", modified_at=NEW, record_key="k=1")
    ]
    registry = SourceRegistry.of([*REGISTRY.sources.values(), SourceRules("ledger", rank=0)])
    with corpus.write() as conn:
        ingest_source(
            conn, pilot=PILOT, connector=list_connector("ledger", ("finance",), ledger), clock=FixedClock()
        )
        assert len(reconcile(conn, pilot=PILOT, registry=registry).conflicts) == 1
    with corpus.read() as conn:
        agents = retrieve(conn, pilot=PILOT, query="refunds", groups=["agents"], registry=registry, now=NOW)
        customers = retrieve(
            conn, pilot=PILOT, query="refunds", groups=["customers"], registry=registry, now=NOW
        )
        finance = retrieve(
            conn, pilot=PILOT, query="refunds card bank", groups=["finance"], registry=registry, now=NOW
        )
    assert "recent.md" not in {hit.uri for hit in agents.chunks}  # it lost k=1 to the ledger
    assert agents.withheld.json() == {"restricted": 2, "superseded": 1, "stale": 1, "window": 6}
    # customers may read neither the archive nor the ledger: the loser counts as restricted
    assert customers.withheld.json() == {"restricted": 4, "superseded": 0, "stale": 0, "window": 6}
    (winner,) = [hit for hit in finance.chunks if hit.uri == "ledger.md"]
    assert winner.conflicts == () and winner.hidden_conflicts == 1  # finance may not read the archive

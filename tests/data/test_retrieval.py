"""Ranked retrieval that filters by the caller's groups inside the query, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pilotgate.data import FolderConnector, RetrievedChunk, ingest_folder, search
from pilotgate.data.retrieval import fts5_match, websearch_query
from pilotgate.data.terms import content_terms
from pilotgate.store import Store
from pilotgate.testing import FixedClock

Tree = Callable[..., Path]
PILOT = "refund-desk"

CORPUS = {
    "refunds.md": (
        "# Refund policy\n\nRefunds are paid to the original card within 14 days.\n\n"
        "## Damaged items\n\nFor damaged items send a photo; we refund the full price.\n"
    ),
    "shipping.md": "# Shipping\n\nParcels ship within two days. Tracking links arrive by email.\n",
    "returns.txt": "Returns are accepted for 30 days. The policy covers unopened goods.\n",
    "internal.md": "---\nread: [agents]\n---\n# Refund overrides\n\nAgents may refund damaged items twice.\n",
}


@pytest.fixture
def corpus(store: Store, tree: Tree) -> Store:
    with store.write() as conn:
        ingest_folder(
            conn,
            pilot=PILOT,
            source=FolderConnector("policy", tree(CORPUS), ("agents", "customers")),
            clock=FixedClock(),
        )
    return store


def find(store: Store, query: str, groups: list[str], **kwargs: object) -> list[RetrievedChunk]:
    with store.read() as conn:
        return search(conn, pilot=PILOT, query=query, groups=groups, **kwargs)  # type: ignore[arg-type]


def test_natural_language_questions_rank_by_content_words(corpus: Store) -> None:
    hits = find(corpus, "What is the refund policy for damaged items?", ["customers"])
    assert hits[0].heading == "Refund policy > Damaged items"
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    assert all(hit.score > 0 for hit in hits)
    assert {hit.uri for hit in hits} == {"refunds.md", "returns.txt"}


def test_a_chunk_with_more_of_the_words_ranks_first(corpus: Store) -> None:
    hits = find(corpus, "parcels tracking email", ["customers"])
    assert [hit.uri for hit in hits] == ["shipping.md"]
    hits = find(corpus, "original card refund", ["customers"])
    assert hits[0].text.startswith("Refunds are paid to the original card")


def test_results_carry_provenance(corpus: Store) -> None:
    (hit,) = find(corpus, "tracking", ["customers"])
    assert (hit.source, hit.uri, hit.version, hit.heading) == ("policy", "shipping.md", 1, "Shipping")
    assert hit.chunk_id.startswith("chk_") and hit.document_id.startswith("doc_")


def test_restricted_chunks_are_never_returned_to_other_groups(corpus: Store) -> None:
    question = "refund damaged items twice overrides"
    assert "internal.md" in {hit.uri for hit in find(corpus, question, ["agents"])}
    assert "internal.md" not in {hit.uri for hit in find(corpus, question, ["customers"], limit=50)}


def test_the_filter_is_inside_the_ranked_query(corpus: Store) -> None:
    # The agents-only chunk ranks first for agents; with limit=1 a customer still gets a readable chunk,
    # which a filter applied after ranking the top 1 could not give.
    assert find(corpus, "overrides twice", ["agents"], limit=1)[0].uri == "internal.md"
    (hit,) = find(corpus, "overrides twice refund", ["customers"], limit=1)
    assert hit.uri == "refunds.md"


def test_no_groups_no_results(corpus: Store) -> None:
    assert find(corpus, "refund", []) == []
    assert find(corpus, "refund", ["strangers"]) == []


def test_empty_and_stopword_queries_return_nothing(corpus: Store) -> None:
    assert find(corpus, "", ["customers"]) == []
    assert find(corpus, "   ?!  ", ["customers"]) == []
    assert find(corpus, "what is the", ["customers"]) == []


def test_limit_and_sources(corpus: Store) -> None:
    assert len(find(corpus, "refund policy days", ["customers"], limit=2)) == 2
    assert find(corpus, "refund", ["customers"], limit=0) == []
    assert find(corpus, "refund", ["customers"], sources=[]) == []
    assert find(corpus, "refund", ["customers"], sources=["elsewhere"]) == []
    assert find(corpus, "refund", ["customers"], sources=["policy"])
    assert find(corpus, "refund", ["customers"], sources=["policy", "elsewhere"])


def test_other_pilots_see_nothing(corpus: Store) -> None:
    with corpus.read() as conn:
        assert search(conn, pilot="other", query="refund", groups=["customers"]) == []


def test_inactive_versions_are_not_returned(corpus: Store, tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    (folder / "shipping.md").write_text("# Shipping\n\nParcels travel by sea now.\n", encoding="utf-8")
    with corpus.write() as conn:
        ingest_folder(
            conn,
            pilot=PILOT,
            source=FolderConnector("policy", folder, ("agents", "customers")),
            clock=FixedClock(),
        )
    assert find(corpus, "tracking email", ["customers"]) == []
    (hit,) = find(corpus, "parcels", ["customers"])
    assert (hit.version, hit.text) == (2, "Parcels travel by sea now.")


HOSTILE = [
    'refund"',
    '"refund',
    '"',
    '""',
    "refund AND",
    "AND OR NOT",
    "NEAR(refund policy)",
    "refund NEAR/2 policy",
    "*",
    "refund*",
    "heading:refund",
    "text : refund",
    "-refund",
    "^refund",
    "(refund",
    "refund)",
    "{heading text}: refund",
    "refund' OR 1=1; --",
    "\\",
    "%_%",
    "refund\x00policy",
    "réfund 退款 🚚",
    "or or or",
    "!refund & policy | ship",
    "<-> refund",
    " ".join(["refund"] * 500),
    " ".join(f"word{i}" for i in range(200)),
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_user_text_never_breaks_the_query(corpus: Store, query: str) -> None:
    hits = find(corpus, query, ["customers"])
    assert all(hit.uri != "internal.md" for hit in hits)


def test_terms_are_quoted_and_ored() -> None:
    words = content_terms('What is the "refund" policy: NEAR damaged* items?')
    assert words == ["refund", "policy", "near", "damaged", "items"]
    assert fts5_match(words) == '"refund" OR "policy" OR "near" OR "damaged" OR "items"'
    assert websearch_query(words) == "refund or policy or near or damaged or items"
    assert len(content_terms(" ".join(f"w{i}" for i in range(100)))) == 32


def test_ties_are_broken_by_chunk_id(store: Store, tree: Tree) -> None:
    root = tree({f"same{i}.txt": "identical refund text" for i in range(5)})
    with store.write() as conn:
        ingest_folder(conn, pilot=PILOT, source=FolderConnector("s", root, ("g",)), clock=FixedClock())
    hits = find(store, "refund", ["g"], limit=10)
    assert len(hits) == 5
    assert [hit.chunk_id for hit in hits] == sorted(hit.chunk_id for hit in hits)

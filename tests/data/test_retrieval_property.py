"""Property: for random groups, ACLs, edits, conflicts and queries, neither ``search`` nor ``retrieve`` ever
returns a chunk the user may not read, nor one whose document lost a conflict.

Runs on SQLite and PostgreSQL through the real ingest and reconcile path (an in-memory connector). Each
example gets its own pilot name, so examples share the store without seeing each other's chunks. The oracle
is computed here, from the generated documents alone: who may read (source groups narrowed by the document's
own ACL) and who wins each record key (the source ranked first, then the lower uri).

On SQLite the filter is a group bitmask when every group of the caller has a bit, and the group tokens
otherwise (``pilotgate.data.acl``); group numbers are store-wide, so in the shared store later examples
reach past the bits. A second test gives every example a fresh SQLite store in which a crowd of other
groups was granted first: none (every group has a bit), 62 (the first group of the example gets the last
bit, the others none: callers of both kinds and mixed ones) or 63 (no bits left).
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pilotgate.data import (
    SourceDocument,
    SourceRegistry,
    SourceRules,
    effective_groups,
    ingest_source,
    reconcile,
    retrieve,
    search,
)
from pilotgate.store import Store, open_store
from pilotgate.testing import FixedClock

GROUPS = ["g0", "g1", "g2", "g3"]
VOCAB = ["refund", "parcel", "damage", "invoice", "canary"]
JUNK = ['"', "AND", "OR", "NOT", "NEAR", "*", ":", "-", "(", ")", "^", "what", "the", "'", "\\"]
SOURCES = ["policy", "orders"]
REGISTRY = SourceRegistry.of([SourceRules("policy", rank=1), SourceRules("orders", rank=2)])

_pilots = itertools.count()

group_sets = st.frozensets(st.sampled_from(GROUPS))


@dataclass(frozen=True)
class Doc:
    source: str
    uri: str
    words: tuple[str, ...]
    acl: frozenset[str] | None
    key: str | None = None


docs = st.builds(
    Doc,
    source=st.sampled_from(SOURCES),
    uri=st.sampled_from([f"doc{i}" for i in range(6)]),
    words=st.lists(st.sampled_from(VOCAB), min_size=1, max_size=8).map(tuple),
    acl=st.none() | group_sets,
    key=st.none() | st.sampled_from(["id=1", "id=2"]),
)
queries = st.one_of(
    st.lists(st.sampled_from(VOCAB), min_size=1, max_size=3).map(" ".join),
    st.lists(st.sampled_from(VOCAB + JUNK), min_size=1, max_size=6).map(" ".join),
    st.text(max_size=30),
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    source_groups=st.fixed_dictionaries({name: group_sets for name in SOURCES}),
    rounds=st.lists(st.lists(docs, min_size=1, max_size=8), min_size=1, max_size=3),
    user=st.frozensets(st.sampled_from(GROUPS), min_size=1, max_size=2),
    query=queries,
)
def test_search_never_returns_what_the_user_may_not_read(
    store: Store,
    list_connector: type,
    source_groups: dict[str, frozenset[str]],
    rounds: list[list[Doc]],
    user: frozenset[str],
    query: str,
) -> None:
    check(store, list_connector, f"prop{next(_pilots)}", source_groups, rounds, user, query)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    crowd=st.sampled_from([0, 62, 63]),
    source_groups=st.fixed_dictionaries({name: group_sets for name in SOURCES}),
    rounds=st.lists(st.lists(docs, min_size=1, max_size=8), min_size=1, max_size=3),
    user=st.frozensets(st.sampled_from(GROUPS), min_size=1, max_size=2),
    query=queries,
)
def test_masks_and_tokens_filter_alike_on_sqlite(
    list_connector: type,
    crowd: int,
    source_groups: dict[str, frozenset[str]],
    rounds: list[list[Doc]],
    user: frozenset[str],
    query: str,
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(f"sqlite:///{Path(folder) / 'store.db'}")
        try:
            if crowd:  # other groups take the first numbers: of this pilot, so the crowd is searched too
                crowded = tuple(f"crowd{i}" for i in range(crowd))
                filler = [
                    SourceDocument("crowd.md", "refund parcel damage invoice canary", read_groups=crowded)
                ]
                with store.write() as conn:
                    connector = list_connector("crowd", crowded, filler)
                    ingest_source(conn, pilot="prop", connector=connector, clock=FixedClock())
            check(store, list_connector, "prop", source_groups, rounds, user, query)
        finally:
            store.close()


def check(
    store: Store,
    list_connector: type,
    pilot: str,
    source_groups: dict[str, frozenset[str]],
    rounds: list[list[Doc]],
    user: frozenset[str],
    query: str,
) -> None:
    """Ingest the rounds into ``pilot`` and check what ``user`` finds against the oracle."""
    clock = FixedClock()
    latest: dict[tuple[str, str], Doc] = {}
    for round_docs in rounds:  # each round is the whole content of both sources at that time
        current = {(doc.source, doc.uri): doc for doc in round_docs}
        with store.write() as conn:
            for name in SOURCES:
                items = [
                    SourceDocument(
                        doc.uri, ". ".join(doc.words), read_groups=_acl(doc.acl), record_key=doc.key
                    )
                    for (source, _), doc in sorted(current.items())
                    if source == name
                ]
                connector = list_connector(name, tuple(sorted(source_groups[name])), items)
                ingest_source(conn, pilot=pilot, connector=connector, clock=clock, max_chunk_chars=20)
            reconcile(conn, pilot=pilot, registry=REGISTRY)
        latest = current

    with store.read() as conn:
        hits = search(conn, pilot=pilot, query=query, groups=sorted(user), limit=100)
        full = retrieve(conn, pilot=pilot, query=query, groups=sorted(user), limit=100, registry=REGISTRY)

    winners: dict[str, tuple[str, str]] = {}
    for (source, uri), doc in sorted(
        latest.items(), key=lambda item: (SOURCES.index(item[0][0]), item[0][1])
    ):
        if doc.key is not None:
            winners.setdefault(doc.key, (source, uri))
    superseded = {k for k, doc in latest.items() if doc.key is not None and winners[doc.key] != k}
    readable = {
        key
        for key, doc in latest.items()
        if set(effective_groups(source_groups[doc.source], _acl(doc.acl))) & user and key not in superseded
    }
    for hit in [*hits, *full.chunks]:
        assert (hit.source, hit.uri) in readable, f"{hit} leaked to {sorted(user)}"
        assert hit.text in ". ".join(latest[(hit.source, hit.uri)].words), "an old version was returned"
    assert {hit.chunk_id for hit in full.chunks} <= {hit.chunk_id for hit in hits}
    for hit in full.chunks:
        for note in hit.conflicts:  # a named loser is one the user may read
            loser = latest[(note.source, note.uri)]
            assert set(effective_groups(source_groups[note.source], _acl(loser.acl))) & user
    # and the filter is not vacuous: a readable document holding a query word is found
    asked = {word for word in query.lower().split() if word in VOCAB}
    if any(asked & set(latest[key].words) for key in readable):
        assert hits


def _acl(acl: frozenset[str] | None) -> tuple[str, ...] | None:
    return None if acl is None else tuple(sorted(acl))

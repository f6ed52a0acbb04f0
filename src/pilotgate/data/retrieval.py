"""Ranked full-text search over a pilot's active chunks, filtered by the caller's groups inside the query.

The permission filter is a condition of the ranked query itself, never a filter applied to results after
ranking: a chunk the caller may not read is never ranked, counted or returned, and ``limit`` results are all
readable ones. A chunk with no group grants is readable by nobody.

- **SQLite:** the ranked query matches the user's terms in the ``heading`` and ``text`` columns of the FTS5
  index and, in the same ``WHERE``, keeps only rows whose group mask (``chunk_masks``, by rowid) shares a bit
  with the caller's (see ``pilotgate.data.acl``); BM25 is computed only for the rows that pass, so an
  unreadable chunk is never scored. A caller holding a group that has no bit (a store that granted more
  than 63 groups) is filtered by tokens instead: a second ``MATCH`` of the terms AND-ed with the caller's
  group tokens in the ``acl`` column, whose rows FTS5 intersects with the ranked ones (slower: a group
  token's posting list can be as long as the corpus). A ``sources`` restriction is such a second ``MATCH``
  with the sources' tokens. (Putting tokens into the ranked ``MATCH`` itself would give the same rows, but
  ``bm25()`` would then compute an IDF for every token, reading those long posting lists on every query.)
  Only active chunks are indexed, and a chunk whose document lost a conflict carries no group token and
  mask 0. Ranked by BM25 with the heading weighted 2 and the text 1.
- **PostgreSQL:** the same tokens are lexemes of the generated ``tsv`` column (without positions, so they
  never weigh in a rank); the filter is one ``@@`` of the user's ``websearch_to_tsquery('english', ...)``
  AND-ed with the caller's tokens, and the rank is ``ts_rank_cd`` of the user's query alone.

On both, the user's text is reduced to its content terms first (see ``pilotgate.data.terms``) and the terms
are OR-ed: a question in natural language finds chunks with any of its words, ranked so that chunks with more
(and rarer) of them come first. The query ranks and filters narrow rows first and reads text and provenance
only for the winners.

``search`` is the plain ranked list. ``retrieve`` adds what a task's receipt needs: each result's provenance
and whether it is stale (per its source's ``freshness``; ``stale: exclude`` sources are filtered in the same
query), the losers of conflicts the result won (named only if the caller may read them, else counted),
exact duplicates collapsed, and counts (never content) of what was withheld from the caller among all the
matches of the whole pilot.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import Connection, bindparam, text

from pilotgate.clock import rfc3339, utc_now
from pilotgate.data.acl import any_of, caller_mask, group_token, pilot_token, source_token
from pilotgate.data.registry import SourceRegistry
from pilotgate.data.terms import content_terms
from pilotgate.store.engine import driver_execute


@dataclass(frozen=True)
class ConflictNote:
    """A document that lost a conflict to a result's document (one the caller may read)."""

    source: str
    uri: str
    document_id: str
    version: int
    subject: str
    """The shared record key (``order_id=123456``) or ``topic:NAME``."""


@dataclass(frozen=True)
class RetrievedChunk:
    """One search result, with its provenance."""

    chunk_id: str
    document_id: str
    source: str
    uri: str
    version: int
    """The version of the document the chunk belongs to (1 for the first ingest, +1 per change)."""
    heading: str | None
    text: str
    score: float
    """Relevance; higher is better. Comparable within one result list only (BM25 and ts_rank_cd differ)."""
    record_key: str | None = None
    """The document's record key, if it has one."""
    content_hash: str = ""
    """``sha256:`` of the chunk's text."""
    document_hash: str = ""
    """``sha256:`` of the document version's indexed text."""
    modified_at: str | None = None
    """When the source says the document changed (RFC 3339), if it says."""
    ingested_at: str | None = None
    """When this version was ingested (RFC 3339)."""
    content_at: str | None = None
    """The content's time for freshness: ``modified_at``, else the version's ingest time."""
    stale: bool = False
    """Older than its source's ``freshness`` allows (only set by ``retrieve``)."""
    conflicts: tuple[ConflictNote, ...] = ()
    """Documents this result's document won a conflict against, that the caller may read."""
    hidden_conflicts: int = 0
    """Losing documents the caller may not read: counted, never named."""

    def provenance(self) -> dict[str, object]:
        """The result's provenance as JSON-ready values (no text, score as a string)."""
        return {
            "chunk": self.chunk_id,
            "document": self.document_id,
            "source": self.source,
            "uri": self.uri,
            "version": self.version,
            "record_key": self.record_key,
            "content_hash": self.content_hash,
            "document_hash": self.document_hash,
            "modified_at": self.modified_at,
            "ingested_at": self.ingested_at,
            "content_at": self.content_at,
            "stale": self.stale,
            "score": f"{self.score:.6f}",
            "conflicts": [
                {
                    "source": note.source,
                    "uri": note.uri,
                    "document": note.document_id,
                    "version": note.version,
                    "subject": note.subject,
                }
                for note in self.conflicts
            ],
            "conflicts_not_shown": self.hidden_conflicts,
        }


@dataclass(frozen=True)
class Withheld:
    """How many of the pilot's matches the caller did not get, by reason (counts only)."""

    restricted: int = 0
    """The caller's groups may not read them (or nobody may: a missing ACL)."""
    superseded: int = 0
    """Their document lost a conflict."""
    stale: int = 0
    """Older than a ``stale: exclude`` source allows."""
    window: int = 0
    """How many of the pilot's matches (regardless of the caller) were examined: all of them."""

    def json(self) -> dict[str, int]:
        return {
            "restricted": self.restricted,
            "superseded": self.superseded,
            "stale": self.stale,
            "window": self.window,
        }


@dataclass(frozen=True)
class Retrieval:
    """What one retrieval returned, and what it withheld (counts only)."""

    query: str
    terms: tuple[str, ...]
    groups: tuple[str, ...]
    limit: int
    at: str
    """The time freshness was judged at (RFC 3339)."""
    ranker: str
    chunks: tuple[RetrievedChunk, ...] = ()
    withheld: Withheld = field(default_factory=Withheld)
    duplicates_collapsed: int = 0
    """Results left out because an earlier result had the same text."""

    @property
    def stale(self) -> tuple[RetrievedChunk, ...]:
        """The returned chunks that are stale."""
        return tuple(chunk for chunk in self.chunks if chunk.stale)

    def receipt_body(self) -> dict[str, object]:
        """The body of the task's ``retrieval`` receipt: what was asked, what came back with provenance,
        what was withheld (counts only). JSON-ready; times and scores are strings; no chunk text."""
        return {
            "query": self.query,
            "terms": list(self.terms),
            "groups": list(self.groups),
            "limit": self.limit,
            "ranker": self.ranker,
            "at": self.at,
            "returned": len(self.chunks),
            "chunks": [chunk.provenance() for chunk in self.chunks],
            "stale": len(self.stale),
            "withheld": self.withheld.json(),
            "duplicates_collapsed": self.duplicates_collapsed,
        }


RANKERS = {"sqlite": "sqlite-fts5-bm25", "postgresql": "postgresql-ts_rank_cd"}

DUPLICATE_SLACK = 5
"""Extra results ``retrieve`` ranks so that collapsing exact duplicates still fills ``limit``."""

_SQLITE_MATCHES = """
SELECT chunks_fts.rowid AS rid, -bm25(chunks_fts, 2.0, 1.0, 0.0) AS score
FROM chunks_fts{join}
WHERE chunks_fts MATCH :match{permitted}{extra}"""
"""BM25 with the heading column weighted 2, the text 1 and the tokens 0; bm25() is lower-is-better."""

_SQLITE_MASK_JOIN = "\nCROSS JOIN chunk_masks AS m ON m.chunk = chunks_fts.rowid"
_SQLITE_MASKED = "\n  AND (m.mask & :mask) != 0"
"""The caller's mask against each matching chunk's: one lookup by rowid in a narrow table, in rowid order
(FTS5 yields its matches so), and a row that fails is never scored. ``CROSS JOIN`` keeps FTS5 first."""

_SQLITE_PERMITTED = (
    "\n  AND +chunks_fts.rowid IN (SELECT rowid FROM chunks_fts WHERE chunks_fts MATCH :permitted)"
)
"""The rows of a second MATCH: the terms AND-ed with tokens (the caller's groups' when one has no mask bit;
the sources' when the search is restricted to some). The unary ``+`` keeps SQLite from re-running the ranked
MATCH once per permitted rowid."""

_SQLITE_TOP = """
ORDER BY score DESC, chunks_fts.rowid
LIMIT :limit
"""

_SQLITE_COUNTED = """
SELECT rid, score, count(*) OVER () AS permitted
FROM ({ranked}) AS every
ORDER BY score DESC, rid
LIMIT :limit
"""
"""``retrieve``'s ranked query: the same rows, plus how many rows passed the filter. ``bm25()`` has already
scored every one of them to sort them, so the count costs little; ``bm25()`` may not sit beside a window
function, hence the wrapper."""

_SQLITE_OUTER = """
SELECT c.id, c.document_id, c.source, d.uri, d.version, c.heading, c.text, top.score,
       d.record_key, c.content_hash, d.content_hash, d.modified_at, d.ingested_at, c.content_at,
       {permitted} AS permitted,
       EXISTS (SELECT 1 FROM documents AS l WHERE l.superseded_by = d.id) AS has_losers
FROM ({ranked}) AS top
JOIN chunks AS c ON c.rowid = top.rid
JOIN documents AS d ON d.id = c.document_id
ORDER BY top.score DESC, c.id
"""
"""``has_losers``: whether any document lost a conflict to the result's (the partial index on
``superseded_by`` answers it), so that conflict notes are looked up only for results that have some."""

_POSTGRESQL_RANKED = """
SELECT c.id AS chunk_id, ts_rank_cd(CAST(:weights AS float4[]), c.tsv, q.query) AS score{counted}
FROM chunks AS c
CROSS JOIN websearch_to_tsquery('english', :match) AS q(query)
WHERE c.tsv @@ (q.query && to_tsquery('simple', :tokens))
  AND numnode(q.query) > 0
  AND c.pilot = :pilot
  AND c.active{extra}
ORDER BY score DESC, c.id
LIMIT :limit
"""
"""Cover density ranking of the user's query; ``tsv`` weighs the heading A and the text B (the tokens have
no position, hence no weight), and these weights make A twice B. ``numnode`` > 0: a query of PostgreSQL
stopwords only is empty, and an empty query AND-ed with the tokens would match every readable chunk."""

_POSTGRESQL_OUTER = """
SELECT c.id, c.document_id, c.source, d.uri, d.version, c.heading, c.text, top.score,
       d.record_key, c.content_hash, d.content_hash, d.modified_at, d.ingested_at, c.content_at,
       {permitted} AS permitted,
       EXISTS (SELECT 1 FROM documents AS l WHERE l.superseded_by = d.id) AS has_losers
FROM ({ranked}) AS top
JOIN chunks AS c ON c.id = top.chunk_id
JOIN documents AS d ON d.id = c.document_id
ORDER BY top.score DESC, c.id
"""

_POSTGRESQL_WEIGHTS = "{0.0, 0.0, 0.5, 1.0}"
"""ts_rank_cd weights for D (unused; stores before migration 0007 held the tokens there), C (unused), B
(text), A (heading)."""


def search(
    conn: Connection,
    *,
    pilot: str,
    query: str,
    groups: Sequence[str],
    limit: int = 5,
    sources: Sequence[str] | None = None,
) -> list[RetrievedChunk]:
    """The ``limit`` best active chunks of ``pilot`` for ``query`` that one of ``groups`` may read.

    Any user text is safe: it never raises a query syntax error. No groups, no content terms (an empty or
    all-stopword query), an empty ``sources`` list or ``limit < 1`` each give an empty list.
    """
    return _ranked(
        conn, pilot=pilot, words=content_terms(query), groups=groups, limit=limit, sources=sources, stale={}
    ).chunks


_NO_RULES = SourceRegistry()


def retrieve(
    conn: Connection,
    *,
    pilot: str,
    query: str,
    groups: Sequence[str],
    limit: int = 5,
    registry: SourceRegistry | None = None,
    now: datetime | None = None,
    sources: Sequence[str] | None = None,
    audit: bool = True,
) -> Retrieval:
    """``search``, plus provenance, freshness, conflict notes, duplicate collapsing and withheld counts.

    ``registry`` gives each source's freshness rule (``SourceRegistry.from_spec(spec.sources)``; build it
    once and reuse it: it keeps its cutoffs for the current second); ``now`` is when freshness is judged
    (default: the wall clock). With ``audit`` all the pilot's matches (regardless of the caller) are
    counted to tell what was withheld from the caller and why.
    """
    registry = registry or _NO_RULES
    moment = now or utc_now()
    words = content_terms(query)
    wanted = tuple(sorted(set(groups)))
    cutoffs, excluded = registry.freshness_at(moment)
    counting = audit and bool(words) and limit > 0 and (sources is None or bool(sources))
    ranked = _ranked(
        conn,
        pilot=pilot,
        words=words,
        groups=wanted,
        limit=limit + DUPLICATE_SLACK if limit > 0 else limit,
        sources=sources,
        stale=excluded,
        cutoffs=cutoffs,
        count=counting,
    )
    seen: set[str] = set()
    kept: list[RetrievedChunk] = []
    collapsed = 0
    for chunk in ranked.chunks:
        if chunk.content_hash in seen:
            collapsed += 1
            continue
        seen.add(chunk.content_hash)
        if len(kept) < limit:
            kept.append(chunk)
    results = _annotate(conn, pilot, kept, wanted, ranked.winners)
    withheld = Withheld()
    if counting:
        audited = _audit if conn.dialect.name == "sqlite" else _count_withheld
        withheld = audited(conn, pilot, words, wanted, sources, excluded, ranked.permitted, ranked.mask)
    return Retrieval(
        query=query,
        terms=tuple(words),
        groups=wanted,
        limit=limit,
        at=rfc3339(moment),
        ranker=RANKERS.get(conn.dialect.name, conn.dialect.name),
        chunks=tuple(results),
        withheld=withheld,
        duplicates_collapsed=collapsed,
    )


@dataclass(frozen=True)
class _Ranked:
    """What the ranked query found."""

    chunks: list[RetrievedChunk]
    winners: frozenset[str] = frozenset()
    """The documents among the results that won a conflict (their losers are looked up, no others')."""
    permitted: int = 0
    """How many chunks passed the filter, ranked or not (SQLite, when counted)."""
    mask: int | None = 0
    """SQLite: the caller's mask the query filtered with, None if it filtered by group tokens."""


def _ranked(
    conn: Connection,
    *,
    pilot: str,
    words: Sequence[str],
    groups: Sequence[str],
    limit: int,
    sources: Sequence[str] | None,
    stale: Mapping[str, str],
    cutoffs: Mapping[str, str] | None = None,
    count: bool = False,
) -> _Ranked:
    wanted_groups = sorted(set(groups))
    if not words or not wanted_groups or limit < 1 or (sources is not None and not sources):
        return _Ranked([])
    dialect = conn.dialect.name
    params: dict[str, object] = {"limit": limit}
    mask: int | None = None
    if dialect == "sqlite":
        match = "{heading text}: " + fts5_terms(words)
        mask = caller_mask(conn, pilot, wanted_groups)
        if mask == 0:  # none of the caller's groups was ever granted a chunk
            return _Ranked([], mask=0)
        params["match"] = match
        join, filtered, extra = "", "", ""
        permitted = match
        if mask is None:
            permitted += " AND acl: " + any_of(group_token(pilot, group) for group in wanted_groups)
        else:
            join, filtered = _SQLITE_MASK_JOIN, _SQLITE_MASKED
            params["mask"] = mask
        if sources is not None:
            permitted += " AND acl: " + any_of(source_token(pilot, name) for name in sorted(set(sources)))
        if permitted != match:
            params["permitted"] = permitted
            filtered += _SQLITE_PERMITTED
        if stale:
            join += "\nJOIN chunks AS c ON c.rowid = chunks_fts.rowid"
            extra = _stale_condition(stale, params)
        matches = _SQLITE_MATCHES.format(join=join, permitted=filtered, extra=extra)
        ranked = _SQLITE_COUNTED.format(ranked=matches) if count else matches + _SQLITE_TOP
        outer = _SQLITE_OUTER.format(ranked=ranked, permitted="top.permitted" if count else "0")
        # sqlite3 takes ``:name`` parameters as they are: the driver cursor skips SQLAlchemy's text() compile
        # and result machinery on every task's retrieval.
        found = driver_execute(conn, outer, params).fetchall()
    elif dialect == "postgresql":
        tokens = tsquery_any(group_token(pilot, group) for group in wanted_groups)
        if sources is not None:
            tokens += " & " + tsquery_any(source_token(pilot, name) for name in sorted(set(sources)))
        params.update(pilot=pilot, match=websearch_query(words), weights=_POSTGRESQL_WEIGHTS, tokens=tokens)
        extra = ""
        if stale:
            extra += _stale_condition(stale, params)
        ranked = _POSTGRESQL_RANKED.format(
            extra=extra, counted=", count(*) OVER () AS permitted" if count else ""
        )
        outer = _POSTGRESQL_OUTER.format(ranked=ranked, permitted="top.permitted" if count else "0")
        found = list(conn.execute(text(outer), params))
    else:
        raise NotImplementedError(f"full-text search is not implemented for the {dialect} dialect")
    cutoffs = cutoffs or {}
    chunks = []
    for row in found:
        cutoff = cutoffs.get(row[2])
        content_at = row[13]
        chunks.append(
            RetrievedChunk(
                chunk_id=row[0],
                document_id=row[1],
                source=row[2],
                uri=row[3],
                version=int(row[4]),
                heading=row[5],
                text=row[6],
                score=float(row[7]),
                record_key=row[8],
                content_hash=row[9],
                document_hash=row[10],
                modified_at=row[11],
                ingested_at=row[12],
                content_at=content_at,
                stale=cutoff is not None and content_at is not None and content_at < cutoff,
            )
        )
    return _Ranked(
        chunks,
        winners=frozenset(row[1] for row in found if row[15]),
        permitted=int(found[0][14]) if found else 0,
        mask=mask,
    )


def _stale_condition(stale: Mapping[str, str], params: dict[str, object]) -> str:
    """``AND NOT (source is s1 and older than c1 OR ...)`` for the ``stale: exclude`` sources."""
    return "\n  AND NOT " + _stale_sources(stale, params)


def _stale_sources(stale: Mapping[str, str], params: dict[str, object]) -> str:
    """``(source is s1 and older than c1 OR ...)`` for the ``stale: exclude`` sources."""
    parts = []
    for index, (name, cutoff) in enumerate(sorted(stale.items())):
        params[f"stale_source_{index}"] = name
        params[f"stale_before_{index}"] = cutoff
        parts.append(f"(c.source = :stale_source_{index} AND c.content_at < :stale_before_{index})")
    return "(" + " OR ".join(parts) + ")"


def _annotate(
    conn: Connection,
    pilot: str,
    results: list[RetrievedChunk],
    groups: Sequence[str],
    winners: frozenset[str],
) -> list[RetrievedChunk]:
    """Add the conflict notes of the results whose documents won a conflict (most have none)."""
    ours = sorted({r.document_id for r in results} & winners)
    if not ours:
        return results
    notes, hidden = _conflict_notes(conn, pilot, ours, groups)
    return [
        replace(
            result,
            conflicts=tuple(notes.get(result.document_id, ())),
            hidden_conflicts=hidden.get(result.document_id, 0),
        )
        if result.document_id in winners
        else result
        for result in results
    ]


_LOSERS = """
SELECT l.superseded_by, l.id, l.source, l.uri, l.version, l.record_key, l.topic, l.content_hash,
       l.read_groups, w.record_key, w.content_hash, l.pilot
FROM documents AS w
JOIN documents AS l ON l.superseded_by = w.id
WHERE w.id IN :winners AND NOT l.tombstoned
  AND NOT EXISTS (
    SELECT 1 FROM documents AS n
    WHERE n.pilot = l.pilot AND n.source = l.source AND n.uri = l.uri AND n.version > l.version
  )
ORDER BY l.source, l.uri
"""
"""The current documents that lost to the winners. It starts from the winners' primary keys and reaches the
losers through ``superseded_by``'s index; the pilot is checked on the rows (a winner's id already belongs to
one pilot), since a condition on it invites a scan of the pilot's documents instead."""


def _conflict_notes(
    conn: Connection, pilot: str, winners: Sequence[str], groups: Sequence[str]
) -> tuple[dict[str, list[ConflictNote]], dict[str, int]]:
    if conn.dialect.name == "sqlite":  # the driver cursor: no text() compile on a task's retrieval
        named = {f"w{index}": winner for index, winner in enumerate(sorted(set(winners)))}
        listed = "(" + ", ".join(":" + name for name in named) + ")"
        rows = driver_execute(conn, _LOSERS.replace(":winners", listed), named).fetchall()
    else:
        statement = text(_LOSERS).bindparams(bindparam("winners", expanding=True))
        rows = list(conn.execute(statement, {"winners": sorted(set(winners))}))
    caller = set(groups)
    notes: dict[str, list[ConflictNote]] = {}
    hidden: dict[str, int] = {}
    for row in rows:
        winner, doc_id, source, uri, version, key, topic, hashed, read_groups, w_key, w_hash, owner = row
        if hashed == w_hash or owner != pilot:
            continue  # agrees with the winner: a duplicate, not a conflict
        if caller & set(json.loads(read_groups)):
            subject = key if key is not None and key == w_key else f"topic:{topic}"
            notes.setdefault(winner, []).append(ConflictNote(source, uri, doc_id, int(version), subject))
        else:
            hidden[winner] = hidden.get(winner, 0) + 1
    return notes, hidden


_SQLITE_AUDIT = """
SELECT count(*),
       count(*) FILTER (WHERE +chunks_fts.rowid IN (
         SELECT c.rowid
         FROM documents AS d
         CROSS JOIN chunks AS c ON c.document_id = d.id
         WHERE d.superseded_by IS NOT NULL AND +d.pilot = :pilot AND c.superseded
           AND EXISTS (SELECT 1 FROM json_each(d.read_groups) AS g WHERE g.value IN {groups}))),
       {stale}
FROM chunks_fts
WHERE chunks_fts MATCH (
  CASE WHEN EXISTS (SELECT 1 FROM chunks WHERE pilot < :pilot OR pilot > :pilot) THEN :narrow ELSE :match END)
"""
"""One statement, one pass over the pilot's matches, three counts, none ranked (the audit counts, it does
not choose):

- the pilot's matches regardless of the caller. The pilot's token keeps other pilots' chunks out, but
  intersecting with a posting list as long as the corpus costs more than the count itself: a store holding
  no other pilot (two index range probes say so) needs no such filter;
- of those, the ones the caller may read whose document lost a conflict (such a chunk keeps its pilot's and
  source's tokens). Their rowids come from the few superseded documents (the partial index on
  ``superseded_by``; ``CROSS JOIN`` keeps that order and the unary ``+`` keeps the planner off the pilot's
  index, either of which would walk a whole table), gathered once for the pass;
- the caller's matches in ``stale: exclude`` sources that are too old (``_SQLITE_STALE``), or 0."""

_SQLITE_STALE = """(
        SELECT count(*)
        FROM chunks_fts{join}
        JOIN chunks AS c ON c.rowid = chunks_fts.rowid
        WHERE chunks_fts MATCH :stale_match{masked} AND {stale})"""
"""The caller's matches in ``stale: exclude`` sources (their tokens are in the MATCH) that are too old: the
caller's by mask, or by group tokens in the MATCH when the ranked query filtered by tokens."""

_POSTGRESQL_AUDIT = """
SELECT (SELECT count(*)
        FROM chunks AS c
        CROSS JOIN websearch_to_tsquery('english', :match) AS q(query)
        WHERE c.tsv @@ q.query AND numnode(q.query) > 0 AND c.pilot = :pilot AND c.active{sources}),
       (SELECT count(*)
        FROM documents AS d
        JOIN chunks AS c ON c.document_id = d.id
        CROSS JOIN websearch_to_tsquery('english', :match) AS q(query)
        WHERE d.superseded_by IS NOT NULL AND d.pilot = :pilot AND c.superseded AND c.active{sources}
          AND CAST(d.read_groups AS jsonb) ?| CAST(:groups AS text[])
          AND c.tsv @@ q.query),
       {stale}
"""
"""The same three counts on PostgreSQL, unranked: all the pilot's matches (the GIN index finds them; no
join, no ranking), the readable ones whose document lost a conflict (from the few superseded documents),
and the caller's stale-excluded ones."""

_POSTGRESQL_STALE = """(
        SELECT count(*)
        FROM chunks AS c
        CROSS JOIN websearch_to_tsquery('english', :match) AS q(query)
        WHERE c.tsv @@ (q.query && to_tsquery('simple', :tokens)) AND numnode(q.query) > 0
          AND c.pilot = :pilot AND c.active AND {stale})"""


def _audit(
    conn: Connection,
    pilot: str,
    words: Sequence[str],
    groups: Sequence[str],
    sources: Sequence[str] | None,
    excluded: Mapping[str, str],
    permitted: int,
    mask: int | None,
) -> Withheld:
    """SQLite: count the pilot's matches withheld from the caller, by reason, in one statement that ranks
    and reads none of them. ``permitted`` is how many passed the caller's filter (the ranked query counted
    them, with ``mask``); every other match was withheld: superseded or stale-excluded ones are counted on
    their own, and the rest are the ones the caller may not read."""
    match = "{heading text}: " + fts5_terms(words)
    narrow = match + " AND acl: " + any_of([pilot_token(pilot)])
    if sources is not None:
        match += " AND acl: " + any_of(source_token(pilot, name) for name in sorted(set(sources)))
        narrow = match  # a source's token belongs to one pilot already
    caller = sorted(set(groups))
    params: dict[str, object] = {"pilot": pilot, "match": match, "narrow": narrow}
    params.update((f"group_{index}", group) for index, group in enumerate(caller))
    listed = "(" + ", ".join(f":group_{index}" for index in range(len(caller))) + ")"
    stale = "0"
    wanted = {name: cutoff for name, cutoff in excluded.items() if sources is None or name in sources}
    if wanted and caller and mask != 0:
        stale_match = match + " AND acl: " + any_of(source_token(pilot, name) for name in sorted(wanted))
        join = masked = ""
        if mask is None:
            stale_match += " AND acl: " + any_of(group_token(pilot, group) for group in caller)
        else:
            join, masked = _SQLITE_MASK_JOIN, _SQLITE_MASKED.replace("\n ", "")
            params["mask"] = mask
        params["stale_match"] = stale_match
        stale = _SQLITE_STALE.format(join=join, masked=masked, stale=_stale_sources(wanted, params))
    statement = _SQLITE_AUDIT.format(groups=listed if caller else "(NULL)", stale=stale)
    examined, superseded, stale_count = driver_execute(conn, statement, params).fetchone()
    restricted = max(0, int(examined) - permitted - int(superseded) - int(stale_count))
    return Withheld(
        restricted=restricted, superseded=int(superseded), stale=int(stale_count), window=int(examined)
    )


def _count_withheld(
    conn: Connection,
    pilot: str,
    words: Sequence[str],
    groups: Sequence[str],
    sources: Sequence[str] | None,
    excluded: Mapping[str, str],
    permitted: int,
    mask: int | None,
) -> Withheld:
    """PostgreSQL: as ``_audit``, in one statement of unranked counts (``mask`` is unused: no masks here)."""
    caller = sorted(set(groups))
    params: dict[str, object] = {"pilot": pilot, "match": websearch_query(words), "groups": caller}
    clause = ""
    if sources is not None:
        clause = " AND c.source = ANY(:sources)"
        params["sources"] = sorted(set(sources))
    stale = "0"
    wanted = {name: cutoff for name, cutoff in excluded.items() if sources is None or name in sources}
    if wanted and caller:
        params["tokens"] = tsquery_any(group_token(pilot, group) for group in caller)
        stale = _POSTGRESQL_STALE.format(stale=_stale_sources(wanted, params))
    statement = text(_POSTGRESQL_AUDIT.format(sources=clause, stale=stale))
    examined, superseded, stale_count = conn.execute(statement, params).one()
    restricted = max(0, int(examined) - permitted - int(superseded) - int(stale_count))
    return Withheld(
        restricted=restricted, superseded=int(superseded), stale=int(stale_count), window=int(examined)
    )


def tsquery_any(tokens: Iterable[str]) -> str:
    """A ``to_tsquery('simple', ...)`` input matching any of ``tokens`` (letters and digits only)."""
    return "(" + " | ".join(tokens) + ")"


def fts5_terms(words: Sequence[str]) -> str:
    """The terms as one parenthesized FTS5 OR of quoted strings, so no term is read as an operator."""
    return "(" + fts5_match(words) + ")"


def fts5_match(words: Sequence[str]) -> str:
    """An FTS5 MATCH expression OR-ing each term as a quoted string, so no term is read as an operator."""
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)


def websearch_query(words: Sequence[str]) -> str:
    """A ``websearch_to_tsquery`` input OR-ing the terms (terms hold no quotes or ``-``, so nothing else)."""
    return " or ".join(words)

"""Ranked full-text search over a pilot's active chunks, filtered by the caller's groups inside the query.

The permission filter is a condition of the ranked query itself (an ``EXISTS`` over ``chunk_groups``), never
a filter applied to results after ranking: a chunk the caller may not read is never ranked, counted or
returned, and ``limit`` results are all readable ones. A chunk with no group rows is readable by nobody.

SQLite ranks with FTS5's BM25 (``bm25(chunks_fts)``); PostgreSQL with ``ts_rank_cd`` over the generated
``tsv`` column and ``websearch_to_tsquery('english', ...)``. On both, the user's text is reduced to its
content terms first (see ``pilotgate.data.terms``) and the terms are OR-ed: a question in natural language
finds chunks with any of its words, ranked so that chunks with more (and rarer) of them come first. Headings
weigh twice as much as body text on both dialects. The query ranks and filters narrow rows first and reads
text and provenance only for the ``limit`` winners.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, text

from pilotgate.data.terms import content_terms


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


_OUTER = """
SELECT c.id, c.document_id, c.source, d.uri, d.version, c.heading, c.text, top.score
FROM ({ranked}) AS top
JOIN chunks AS c ON c.id = top.chunk_id
JOIN documents AS d ON d.id = c.document_id
ORDER BY top.score DESC, c.id
"""
"""Rank and filter first on narrow rows; fetch text and provenance for the ``limit`` winners only."""

_SQLITE_RANKED = """
SELECT c.id AS chunk_id, -bm25(chunks_fts, 2.0, 1.0) AS score
FROM chunks_fts
JOIN chunks AS c ON c.rowid = chunks_fts.rowid
WHERE chunks_fts MATCH :match
  AND c.pilot = :pilot
  AND c.active
  AND EXISTS (SELECT 1 FROM chunk_groups AS g WHERE g.chunk_id = c.id AND g.grp IN :groups)
"""
"""BM25 with the heading column weighted 2 and the text 1; bm25() is lower-is-better, so negated."""

_POSTGRESQL_RANKED = """
SELECT c.id AS chunk_id, ts_rank_cd(CAST(:weights AS float4[]), c.tsv, q.query) AS score
FROM chunks AS c
CROSS JOIN websearch_to_tsquery('english', :match) AS q(query)
WHERE c.tsv @@ q.query
  AND c.pilot = :pilot
  AND c.active
  AND EXISTS (SELECT 1 FROM chunk_groups AS g WHERE g.chunk_id = c.id AND g.grp IN :groups)
"""
"""Cover density ranking; ``tsv`` weighs the heading A and the text B, and these weights make A twice B."""

_IN_SOURCES = "  AND c.source IN :sources\n"
_TOP = "ORDER BY score DESC, c.id\nLIMIT :limit\n"

_POSTGRESQL_WEIGHTS = "{0.1, 0.2, 0.5, 1.0}"
"""ts_rank_cd weights for D, C, B (text), A (heading)."""


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
    words = content_terms(query)
    wanted_groups = sorted(set(groups))
    if not words or not wanted_groups or limit < 1 or (sources is not None and not sources):
        return []
    dialect = conn.dialect.name
    params: dict[str, object] = {"pilot": pilot, "groups": wanted_groups, "limit": limit}
    if dialect == "sqlite":
        ranked = _SQLITE_RANKED
        params["match"] = fts5_match(words)
    elif dialect == "postgresql":
        ranked = _POSTGRESQL_RANKED
        params["match"] = websearch_query(words)
        params["weights"] = _POSTGRESQL_WEIGHTS
    else:
        raise NotImplementedError(f"full-text search is not implemented for the {dialect} dialect")
    bind = [bindparam("groups", expanding=True)]
    if sources is not None:
        ranked += _IN_SOURCES
        params["sources"] = sorted(set(sources))
        bind.append(bindparam("sources", expanding=True))
    statement = text(_OUTER.format(ranked=ranked + _TOP)).bindparams(*bind)
    return [
        RetrievedChunk(
            chunk_id=row[0],
            document_id=row[1],
            source=row[2],
            uri=row[3],
            version=int(row[4]),
            heading=row[5],
            text=row[6],
            score=float(row[7]),
        )
        for row in conn.execute(statement, params)
    ]


def fts5_match(words: Sequence[str]) -> str:
    """An FTS5 MATCH expression OR-ing each term as a quoted string, so no term is read as an operator."""
    return " OR ".join('"' + word.replace('"', '""') + '"' for word in words)


def websearch_query(words: Sequence[str]) -> str:
    """A ``websearch_to_tsquery`` input OR-ing the terms (terms hold no quotes or ``-``, so nothing else)."""
    return " or ".join(words)

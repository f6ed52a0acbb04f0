"""After an ingest: which documents conflict and which wins, and which chunks duplicate which.

**Conflicts.** Two current documents conflict when they share a record key (``order_id=123456``) or a
topic and their content differs. The winner is the first in the conflict order of their sources (see
``SourceRules.precedence``): ranked before unranked, lower rank first, then the system of record for that
key field or topic, then (a tie the report calls ``tie``) the source name, then the uri. Every other
document sharing the key or topic is *superseded* by the winner: its chunks keep their rows and their
``read_groups``, but lose their group tokens (and, on SQLite, their mask becomes 0), so no one retrieves
them; retrieval returns the winner's and notes the losers. Members whose content equals the winner's are
superseded too but are not a conflict (they agree); they appear among the exact duplicates instead.

**Duplicates.** Among the pilot's active chunks, chunks of different documents with the same content hash
are exact duplicates; chunks with different content whose sketches estimate a similarity of at least
``NEAR_DUPLICATE`` are near duplicates. In each pair the chunk of the document that comes later in the
conflict order (then by uri and chunk id) is reported as duplicating the other. Duplicates are reported,
not hidden: retrieval collapses exact duplicates within one result list.

Everything is deterministic, and the superseded flags are written in the caller's transaction (the same one
as the ingest), so a losing version is never retrievable, not even for a moment.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, and_, bindparam, func, select, update

from pilotgate.data.acl import GroupBits, acl_text
from pilotgate.data.duplicates import NEAR_DUPLICATE, parse, similarity
from pilotgate.data.registry import SourceRegistry
from pilotgate.store.tables import chunks, documents

REPORTED = 20
"""How many conflicts and duplicates a receipt lists by name; the rest are counted and digested."""

BUCKET_CAP = 8
"""A sketch value held by more chunks than this is too common to suggest near-duplicates."""

_BANDS = 4
_HEX = 16


@dataclass(frozen=True)
class Member:
    """One document in a conflict."""

    document_id: str
    source: str
    uri: str
    version: int
    content_hash: str

    def json(self) -> dict[str, object]:
        return {"document": self.document_id, "source": self.source, "uri": self.uri, "version": self.version}


@dataclass(frozen=True)
class Conflict:
    """Documents sharing a record key or topic with different content, and which one wins."""

    subject: str
    """``order_id=123456`` for a record key, ``topic:refunds`` for a topic."""
    winner: Member
    losers: tuple[Member, ...]
    """Members whose content differs from the winner's."""
    decided_by: Literal["rank", "system_of_record", "tie"]
    """What put the winner first: a lower rank, being the system of record, or only the source name."""

    def json(self) -> dict[str, object]:
        return {
            "subject": self.subject,
            "winner": self.winner.json(),
            "losers": [loser.json() for loser in self.losers],
            "decided_by": self.decided_by,
        }


@dataclass(frozen=True)
class Duplicate:
    """One chunk that duplicates another."""

    chunk_id: str
    source: str
    uri: str
    of_chunk: str
    of_source: str
    of_uri: str
    kind: Literal["exact", "near"]
    similarity: str
    """``1`` for exact; the estimated similarity (2 decimals, a string) for near."""

    def json(self) -> dict[str, object]:
        return {
            "chunk": self.chunk_id,
            "source": self.source,
            "uri": self.uri,
            "of_chunk": self.of_chunk,
            "of_source": self.of_source,
            "of_uri": self.of_uri,
            "kind": self.kind,
            "similarity": self.similarity,
        }


@dataclass(frozen=True)
class Reconciliation:
    """The conflicts and duplicates found (for a whole pilot, or those involving one source)."""

    conflicts: tuple[Conflict, ...] = ()
    duplicates: tuple[Duplicate, ...] = ()
    superseded_changed: int = 0
    """Documents whose superseded state this reconciliation changed."""

    def involving(self, source: str) -> Reconciliation:
        """Only the conflicts and duplicates with a member from ``source``."""
        return Reconciliation(
            conflicts=tuple(
                c
                for c in self.conflicts
                if source in {c.winner.source, *(loser.source for loser in c.losers)}
            ),
            duplicates=tuple(d for d in self.duplicates if source in {d.source, d.of_source}),
            superseded_changed=self.superseded_changed,
        )

    def count(self, kind: Literal["exact", "near"]) -> int:
        return sum(1 for d in self.duplicates if d.kind == kind)

    def summary(self) -> dict[str, object]:
        """Counts, the first ``REPORTED`` of each list, and a digest of each full list (JSON-ready)."""
        conflicts = [c.json() for c in self.conflicts]
        duplicates = [d.json() for d in self.duplicates]
        return {
            "conflicts": len(conflicts),
            "conflicts_listed": conflicts[:REPORTED],
            "conflicts_digest": _digest(conflicts),
            "duplicates_exact": self.count("exact"),
            "duplicates_near": self.count("near"),
            "duplicates_listed": duplicates[:REPORTED],
            "duplicates_digest": _digest(duplicates),
        }


def reconcile(
    conn: Connection, *, pilot: str, registry: SourceRegistry, duplicates: bool = True
) -> Reconciliation:
    """Find the pilot's conflicts (and, with ``duplicates``, its duplicate chunks) and bring the superseded
    flags in step, in ``conn``'s transaction."""
    current = _current_documents(conn, pilot)
    conflicts, superseded_by = _conflicts(current, registry)
    changed = _apply(conn, pilot, current, superseded_by)
    found: list[Duplicate] = []
    if duplicates:
        found = _exact_duplicates(conn, pilot, registry) + _near_duplicates(conn, pilot, registry)
    return Reconciliation(conflicts=tuple(conflicts), duplicates=tuple(found), superseded_changed=changed)


@dataclass(frozen=True)
class _Doc:
    id: str
    source: str
    uri: str
    version: int
    content_hash: str
    record_key: str | None
    topic: str | None
    superseded_by: str | None
    groups: tuple[str, ...]

    @property
    def member(self) -> Member:
        return Member(self.id, self.source, self.uri, self.version, self.content_hash)


def _current_documents(conn: Connection, pilot: str) -> list[_Doc]:
    latest = (
        select(documents.c.source, documents.c.uri, func.max(documents.c.version).label("version"))
        .where(documents.c.pilot == pilot)
        .group_by(documents.c.source, documents.c.uri)
        .subquery()
    )
    rows = conn.execute(
        select(
            documents.c.id,
            documents.c.source,
            documents.c.uri,
            documents.c.version,
            documents.c.content_hash,
            documents.c.record_key,
            documents.c.topic,
            documents.c.superseded_by,
            documents.c.read_groups,
        )
        .join(
            latest,
            and_(
                documents.c.source == latest.c.source,
                documents.c.uri == latest.c.uri,
                documents.c.version == latest.c.version,
            ),
        )
        .where(documents.c.pilot == pilot, documents.c.tombstoned.is_(False))
        .where(
            (documents.c.record_key.is_not(None))
            | (documents.c.topic.is_not(None))
            | (documents.c.superseded_by.is_not(None))
        )
    )
    return [_Doc(r[0], r[1], r[2], int(r[3]), r[4], r[5], r[6], r[7], tuple(json.loads(r[8]))) for r in rows]


def _conflicts(current: Sequence[_Doc], registry: SourceRegistry) -> tuple[list[Conflict], dict[str, str]]:
    groups: dict[str, list[_Doc]] = defaultdict(list)
    for doc in current:
        if doc.record_key:
            groups[doc.record_key].append(doc)
        if doc.topic:
            groups["topic:" + doc.topic].append(doc)
    conflicts: list[Conflict] = []
    superseded_by: dict[str, str] = {}
    for subject in sorted(groups):
        members = groups[subject]
        if len(members) < 2:
            continue
        field_or_topic = (
            subject.removeprefix("topic:") if subject.startswith("topic:") else subject.split("=")[0]
        )
        ranked = sorted(members, key=lambda d: (registry.rules(d.source).precedence(field_or_topic), d.uri))
        winner = ranked[0]
        for other in ranked[1:]:
            superseded_by.setdefault(other.id, winner.id)
        losers = tuple(d.member for d in ranked[1:] if d.content_hash != winner.content_hash)
        if losers:
            conflicts.append(
                Conflict(
                    subject, winner.member, losers, _decided_by(registry, winner, ranked[1], field_or_topic)
                )
            )
    # a winner of one subject may lose another; it stays superseded (once a loser, never returned)
    return conflicts, superseded_by


def _decided_by(
    registry: SourceRegistry, winner: _Doc, runner_up: _Doc, subject: str
) -> Literal["rank", "system_of_record", "tie"]:
    first, second = registry.rules(winner.source), registry.rules(runner_up.source)
    if first.precedence(subject)[:2] != second.precedence(subject)[:2]:
        return "rank"
    if first.authority_for(subject) != second.authority_for(subject):
        return "system_of_record"
    return "tie"


def _apply(conn: Connection, pilot: str, current: Sequence[_Doc], superseded_by: dict[str, str]) -> int:
    changes = [doc for doc in current if doc.superseded_by != superseded_by.get(doc.id)]
    if not changes:
        return 0
    conn.execute(
        update(documents).where(documents.c.id == bindparam("doc")).values(superseded_by=bindparam("by")),
        [{"doc": doc.id, "by": superseded_by.get(doc.id)} for doc in changes],
    )
    updates = [
        {
            "doc": doc.id,
            "superseded": doc.id in superseded_by,
            "acl": acl_text(pilot, doc.source, doc.groups, retrievable=doc.id not in superseded_by),
        }
        for doc in changes
    ]
    conn.execute(
        update(chunks)
        .where(chunks.c.document_id == bindparam("doc"), chunks.c.active)
        .values(superseded=bindparam("superseded"), acl=bindparam("acl")),
        updates,
    )
    if conn.dialect.name == "sqlite":  # the chunks' masks follow their tokens (see pilotgate.data.acl)
        bits = GroupBits(conn, pilot)
        conn.exec_driver_sql(
            "UPDATE chunk_masks SET mask = ? "
            "WHERE chunk IN (SELECT rowid FROM chunks WHERE document_id = ? AND active)",
            [(0 if doc.id in superseded_by else bits.mask(doc.groups), doc.id) for doc in changes],
        )
    return len(changes)


def _exact_duplicates(conn: Connection, pilot: str, registry: SourceRegistry) -> list[Duplicate]:
    repeated = (
        select(chunks.c.content_hash)
        .where(chunks.c.pilot == pilot, chunks.c.active)
        .group_by(chunks.c.content_hash)
        .having(func.count() > 1)
    )
    rows = conn.execute(
        select(chunks.c.content_hash, chunks.c.id, chunks.c.source, documents.c.uri, chunks.c.document_id)
        .join(documents, documents.c.id == chunks.c.document_id)
        .where(chunks.c.pilot == pilot, chunks.c.active, chunks.c.content_hash.in_(repeated))
    ).all()
    by_hash: dict[str, list[tuple[object, ...]]] = defaultdict(list)
    for row in rows:
        by_hash[row[0]].append(tuple(row))
    found: list[Duplicate] = []
    for hashed in sorted(by_hash):
        members = sorted(by_hash[hashed], key=lambda r: _order(registry, r[2], r[3], r[1]))
        first = members[0]
        for other in members[1:]:
            if other[4] == first[4]:
                continue  # a document repeating its own paragraph is not a duplicate across documents
            found.append(
                Duplicate(
                    str(other[1]),
                    str(other[2]),
                    str(other[3]),
                    str(first[1]),
                    str(first[2]),
                    str(first[3]),
                    "exact",
                    "1",
                )
            )
    return found


def _near_duplicates(conn: Connection, pilot: str, registry: SourceRegistry) -> list[Duplicate]:
    rows = conn.execute(
        select(chunks.c.id, chunks.c.source, chunks.c.document_id, chunks.c.content_hash, chunks.c.sketch)
        .where(chunks.c.pilot == pilot, chunks.c.active, chunks.c.sketch.is_not(None))
        .order_by(chunks.c.id)
    ).all()
    # Candidates share at least two of their first few *selective* sketch values. A value many chunks hold
    # is a common phrase (boilerplate, "of the"), not evidence of a near-duplicate: values held by more
    # than BUCKET_CAP chunks are passed over.
    heads = [_head(row[4]) for row in rows]
    frequency: Counter[str] = Counter(value for head in heads for value in head)
    buckets: dict[str, list[int]] = defaultdict(list)
    for index, head in enumerate(heads):
        for value in head:
            if 1 < frequency[value] <= BUCKET_CAP:
                buckets[value].append(index)
    shared: Counter[tuple[int, int]] = Counter()
    for members in buckets.values():
        for i, a in enumerate(members):
            for b in members[i + 1 :]:
                shared[(a, b)] += 1
    scored = []
    for (a, b), count in sorted(shared.items()):
        if count < 2 or rows[a][2] == rows[b][2] or rows[a][3] == rows[b][3]:
            continue
        alike = similarity(parse(rows[a][4]), parse(rows[b][4]))
        if alike >= NEAR_DUPLICATE:
            scored.append((a, b, alike))
    if not scored:
        return []
    needed = sorted({rows[i][2] for a, b, _ in scored for i in (a, b)})
    uris = dict(conn.execute(select(documents.c.id, documents.c.uri).where(documents.c.id.in_(needed))).all())
    found = []
    for a, b, alike in scored:
        ra, rb = rows[a], rows[b]
        ka = _order(registry, ra[1], uris[ra[2]], ra[0])
        kb = _order(registry, rb[1], uris[rb[2]], rb[0])
        first, other = (ra, rb) if ka <= kb else (rb, ra)
        found.append(
            Duplicate(
                other[0], other[1], uris[other[2]], first[0], first[1], uris[first[2]], "near", f"{alike:.2f}"
            )
        )
    found.sort(key=lambda d: (d.source, d.uri, d.chunk_id, d.of_chunk))
    return found


def _head(sketch_text: str) -> list[str]:
    """The first ``2 * _BANDS`` values of a sketch, as hex strings."""
    return [sketch_text[i : i + _HEX] for i in range(0, min(len(sketch_text), 2 * _BANDS * _HEX), _HEX)]


def _order(registry: SourceRegistry, source: object, uri: object, chunk: object) -> tuple[object, ...]:
    """Which of two duplicates is the original: the one first in the conflict order, then by uri, chunk."""
    return (registry.rules(str(source)).precedence(None), str(uri), str(chunk))


def _digest(items: Iterable[object]) -> str:
    payload = json.dumps(list(items), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()

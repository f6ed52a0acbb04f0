"""Ingest: bring one source's documents into the store as versioned, chunked, permissioned rows.

Incremental and fail-closed:

- a document whose content hash (and record key and topic) is unchanged is left as it is; only its
  groups are brought in step with the source's current ``read`` groups, if those changed (action
  ``acl_changed``: the version's ``read_groups`` and its chunks' tokens and masks are rewritten);
- a changed document gets a new version; the old version's chunks become inactive but stay, so receipts
  that cite them still resolve;
- a document gone from the source is tombstoned: a new version row with ``tombstoned`` set and its chunks
  made inactive; a document that comes back later is a new version again;
- a document the connector skipped (binary, too big, bad front matter, ...) is reported and its previous
  version stays searchable;
- a chunk is readable by the groups in (source's read groups ∩ document's own groups, if it names any); an
  empty intersection, or a document whose own ACL is missing or unreadable, means ``read_groups`` ``[]``
  and no group tokens (mask 0), so nobody reads it, and the report lists the document with the reason (fail
  closed);
- every document version records its provenance (source, uri, record key, topic, content hash, version,
  modified time, ingest time); every chunk its content hash, its content time (for freshness), its
  retrieval tokens (``acl``) and a near-duplicate sketch; on SQLite every active chunk also has a row in
  ``chunk_masks`` (the OR of its groups' bits, see ``pilotgate.data.acl``), removed when the chunk becomes
  inactive.

Ids are deterministic, so the same ingest history gives the same ids in any store::

    document id = "doc_" + hex32(["pilotgate.document/1", pilot, source, uri, version])
    chunk id    = "chk_" + hex32(["pilotgate.chunk/1", pilot, source, uri, version, ordinal])

where hex32 is the first 32 hex digits (128 bits) of SHA-256 over the compact JSON of the list (UTF-8, no
ASCII escaping). Including the version keeps ids unique when two versions share a
chunk's text; including the pilot keeps two pilots over one folder apart.

All writes go through the caller's connection in the caller's transaction, in batches. A batch's document
rows are written first (they are cheap to make), then its chunks are made (chunking, hashes, sketches)
*while* they are written: on PostgreSQL they stream into ``COPY``, so the server computes each chunk's
tsvector and index entries on one CPU while Python chunks the next document on another (see
benchmarks/retrieval.py); on SQLite they are inserted in multi-row statements, with the rowids ingest gives
them, and their masks after them by those rowids.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from sqlalchemy import Connection, Table, and_, bindparam, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from pilotgate.clock import Clock, rfc3339
from pilotgate.data.acl import GroupBits, acl_text
from pilotgate.data.chunking import CHUNK_CHARS, chunk_document
from pilotgate.data.connectors.base import Connector, SkippedDocument, SourceDocument
from pilotgate.data.connectors.folder import FolderConnector
from pilotgate.data.duplicates import sketch
from pilotgate.store.engine import SQLITE_VARIABLES, driver_execute
from pilotgate.store.tables import chunk_masks, chunks, documents

if TYPE_CHECKING:
    from pilotgate.data.reconcile import Reconciliation

Action = Literal["new", "changed", "unchanged", "acl_changed", "tombstoned"]
"""What ingest did to one document."""

EMPTY_CONTENT_HASH = "sha256:" + hashlib.sha256(b"").hexdigest()
"""The content hash a tombstone carries: there is no content any more."""

FLUSH_EVERY_CHARS = 2_000_000
"""Pending document text (characters, about 4,000 chunks) written in one batch."""

FLUSH_EVERY_DOCUMENTS = 2_000
"""Pending documents (new versions and tombstones) written in one batch, however short they are."""


@dataclass(frozen=True)
class DocumentOutcome:
    """What ingest did to one document of the source."""

    uri: str
    action: Action
    document_id: str
    """The id of the document's current row (for a tombstone, the tombstone row)."""
    version: int
    content_hash: str
    """``sha256:<hex>`` of the document's indexed text (UTF-8; front matter removed, newlines ``\\n``)."""
    groups: tuple[str, ...]
    """Groups that may read it now (sorted); empty means nobody (fail closed)."""
    chunks: int
    """Active chunks of the document after ingest (0 for a tombstone)."""
    record_key: str | None = None
    """The record key the document carries, if any."""
    unreadable_because: str | None = None
    """Why nobody may read the document (fail closed), when nobody may."""


@dataclass(frozen=True)
class Unreadable:
    """A present document nobody may read, and why."""

    uri: str
    reason: str


@dataclass(frozen=True)
class IngestReport:
    """The result of ingesting one source: every document's outcome, what was skipped, and a digest."""

    pilot: str
    source: str
    ingested_at: str
    documents: tuple[DocumentOutcome, ...]
    """One outcome per document seen or tombstoned, sorted by uri."""
    skipped: tuple[SkippedDocument, ...]
    """Documents the source could not deliver, with the reason; their previous versions are kept."""
    chunks_written: int
    chunks_deactivated: int
    digest: str
    """``sha256:<hex>`` over the canonical JSON of the outcomes and skips (see ``report_digest``); it does
    not depend on the time, so the same change ingested into two stores gives the same digest."""

    def count(self, action: Action) -> int:
        """How many documents had ``action``."""
        return sum(1 for outcome in self.documents if outcome.action == action)

    reconciliation: Reconciliation | None = None
    """Conflicts and duplicates involving this source, found right after the ingest (see ``reconcile``);
    None when the ingest was not reconciled (nothing changed, or no registry was given)."""

    @property
    def unreadable(self) -> tuple[str, ...]:
        """URIs of present documents that no group may read (their ACL intersection is empty)."""
        return tuple(u.uri for u in self.unreadable_documents)

    @property
    def unreadable_documents(self) -> tuple[Unreadable, ...]:
        """Present documents that no group may read, each with the reason (fail closed)."""
        return tuple(
            Unreadable(o.uri, o.unreadable_because or "no group may read it")
            for o in self.documents
            if o.action != "tombstoned" and not o.groups
        )

    @property
    def changed(self) -> bool:
        """Whether the ingest wrote anything (new, changed, re-granted or tombstoned documents)."""
        return any(outcome.action != "unchanged" for outcome in self.documents)

    @property
    def active_documents(self) -> int:
        """Documents of the source present after the ingest (not tombstoned)."""
        return sum(1 for outcome in self.documents if outcome.action != "tombstoned")

    def summary(self) -> dict[str, object]:
        """A JSON-ready body for an ``ingest`` receipt: counts, skips, unreadable documents, conflicts and
        duplicates (counts, the first few, and digests of the full lists), the digest. No floats."""
        body: dict[str, object] = {
            "source": self.source,
            "new": self.count("new"),
            "changed": self.count("changed"),
            "unchanged": self.count("unchanged"),
            "acl_changed": self.count("acl_changed"),
            "tombstoned": self.count("tombstoned"),
            "skipped": [{"uri": s.uri, "reason": s.reason} for s in self.skipped],
            "unreadable": [{"uri": u.uri, "reason": u.reason} for u in self.unreadable_documents],
            "chunks_written": self.chunks_written,
            "chunks_deactivated": self.chunks_deactivated,
            "digest": self.digest,
        }
        if self.reconciliation is not None:
            body.update(self.reconciliation.summary())
        return body


def ingest_folder(conn: Connection, *, pilot: str, source: FolderConnector, clock: Clock) -> IngestReport:
    """Ingest a folder source into the store on ``conn`` (the caller's transaction)."""
    return ingest_source(conn, pilot=pilot, connector=source, clock=clock)


def ingest_source(
    conn: Connection,
    *,
    pilot: str,
    connector: Connector,
    clock: Clock,
    max_chunk_chars: int = CHUNK_CHARS,
    on_document: Callable[[str], None] | None = None,
) -> IngestReport:
    """Ingest any connector's documents; see the module docstring for what happens to each document.

    ``on_document`` is called with each uri the connector yields (for a progress display).
    """
    with _sqlite_page_cache(conn), _postgres_bulk_index(conn) as written:
        report = _ingest(conn, pilot, connector, clock, max_chunk_chars, on_document)
        written.append(report.chunks_written)
        return report


INGEST_CACHE_KIB = 65_536
"""SQLite page cache (KiB) of the connection while it ingests; its own setting is restored afterwards."""


@contextmanager
def _sqlite_page_cache(conn: Connection) -> Iterator[None]:
    """On SQLite, a page cache of ``INGEST_CACHE_KIB`` for the ingest: chunk rows land at random places in
    the id and content-hash indexes, and FTS5 merges its segments as it goes; with the default 2 MB cache
    those pages are evicted and read back again and again (measured at 100,000 chunks: the inserts took
    ~90 instead of ~110 µs of CPU a chunk)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    before = int(driver_execute(conn, "PRAGMA cache_size").fetchone()[0])
    if -before >= INGEST_CACHE_KIB:  # already as big (negative: KiB; positive: pages, at least 512 bytes)
        yield
        return
    driver_execute(conn, f"PRAGMA cache_size = -{INGEST_CACHE_KIB}")
    try:
        yield
    finally:
        with suppress(DBAPIError):  # a broken connection is discarded anyway; keep the ingest's own error
            driver_execute(conn, f"PRAGMA cache_size = {before}")


GIN_PENDING_KIB = 65_536
"""PostgreSQL: how big the full-text index's pending list may grow during an ingest (KiB; default 4 MiB)."""

GIN_MERGE_AFTER_CHUNKS = 1_000
"""PostgreSQL: after an ingest that wrote this many chunks, the pending list is merged before it returns."""


@contextmanager
def _postgres_bulk_index(conn: Connection) -> Iterator[list[int]]:
    """On PostgreSQL, let the GIN index's pending list grow to ``GIN_PENDING_KIB`` while this ingest writes
    (with the memory to merge it), and merge it at the end of an ingest that wrote many chunks.

    The generated ``tsv`` of each chunk goes into the GIN index through its pending list (``fastupdate``);
    whenever the list outgrows ``gin_pending_list_limit`` the inserting backend merges it into the index, in
    sorted batches. Bigger batches touch each posting tree (the tokens every chunk carries have huge ones)
    fewer times: measured at 30,000 chunks, ~205 against ~235 µs of server CPU a chunk, the final merge
    included. The merge is part of the ingest, so no search after it scans a long pending list. The caller
    appends how many chunks were written to the yielded list; the settings are restored afterwards (they
    are ``SET LOCAL``: the caller's transaction may go on writing).
    """
    written: list[int] = []
    if conn.dialect.name != "postgresql":
        yield written
        return
    names = ("gin_pending_list_limit", "work_mem")
    before = {name: driver_execute(conn, f"SELECT current_setting('{name}')").fetchone()[0] for name in names}
    driver_execute(conn, f"SET LOCAL gin_pending_list_limit = {GIN_PENDING_KIB}")
    driver_execute(conn, f"SET LOCAL work_mem = '{GIN_PENDING_KIB}kB'")
    yield written
    if sum(written) >= GIN_MERGE_AFTER_CHUNKS:
        driver_execute(conn, "SELECT gin_clean_pending_list('ix_chunks_tsv'::regclass)")
    for name, value in before.items():
        driver_execute(conn, "SELECT set_config(%s, %s, true)", (name, value))


def _ingest(
    conn: Connection,
    pilot: str,
    connector: Connector,
    clock: Clock,
    max_chunk_chars: int,
    on_document: Callable[[str], None] | None,
) -> IngestReport:
    run = _Run(
        conn=conn,
        pilot=pilot,
        source=connector.name,
        ingested_at=rfc3339(clock()),
        source_groups=tuple(connector.read_groups),
    )
    run.load()
    seen: set[str] = set()
    skipped: list[SkippedDocument] = []
    for item in connector.scan():
        if on_document is not None:
            on_document(item.uri)
        if item.uri in seen:
            skipped.append(SkippedDocument(item.uri, "listed twice by the source; the first was ingested"))
            continue
        seen.add(item.uri)
        if isinstance(item, SkippedDocument):
            skipped.append(item)
        else:
            run.document(item, effective_groups(connector.read_groups, item.read_groups), max_chunk_chars)
    unlisted = tuple(item.prefix for item in skipped if item.prefix is not None)
    for uri in sorted(run.stored):
        if uri not in seen and not uri.startswith(unlisted):
            run.tombstone(uri)
    run.flush()
    outcomes = tuple(sorted(run.outcomes, key=lambda outcome: outcome.uri))
    skips = tuple(skipped)
    return IngestReport(
        pilot=pilot,
        source=connector.name,
        ingested_at=run.ingested_at,
        documents=outcomes,
        skipped=skips,
        chunks_written=run.chunks_written,
        chunks_deactivated=run.chunks_deactivated,
        digest=report_digest(pilot, connector.name, outcomes, skips),
    )


def effective_groups(source_groups: Iterable[str], document_groups: Iterable[str] | None) -> tuple[str, ...]:
    """Who may read a document: the source's groups, narrowed by the document's own if it names any."""
    allowed = set(source_groups)
    if document_groups is not None:
        allowed &= set(document_groups)
    return tuple(sorted(allowed))


def content_hash(text: str) -> str:
    """``sha256:<hex>`` of the UTF-8 text."""
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def document_id(pilot: str, source: str, uri: str, version: int) -> str:
    """The deterministic id of one version of a document."""
    return "doc_" + _short_hash(["pilotgate.document/1", pilot, source, uri, version])


def chunk_id(pilot: str, source: str, uri: str, version: int, ordinal: int) -> str:
    """The deterministic id of one chunk of one version of a document."""
    return "chk_" + _short_hash(["pilotgate.chunk/1", pilot, source, uri, version, ordinal])


def chunk_ids(pilot: str, source: str, uri: str, version: int) -> Callable[[int], str]:
    """``chunk_id`` for one version's ordinals, with the JSON of the fixed part encoded once (ingest makes
    an id for every chunk; the ids are the same)."""
    head = _canonical(["pilotgate.chunk/1", pilot, source, uri, version])[:-1] + b","

    def make(ordinal: int) -> str:
        return "chk_" + hashlib.sha256(head + str(ordinal).encode("ascii") + b"]").hexdigest()[:32]

    return make


def report_digest(
    pilot: str, source: str, outcomes: Iterable[DocumentOutcome], skipped: Iterable[SkippedDocument]
) -> str:
    """``sha256:`` over compact, key-sorted JSON of ``{v, pilot, source, documents, skipped}``.

    ``documents`` lists ``[uri, action, version, content_hash, groups, chunks]`` sorted by uri; ``skipped``
    lists ``[uri, reason]`` sorted by uri. Times are left out on purpose.
    """
    payload = {
        "v": 1,
        "pilot": pilot,
        "source": source,
        "documents": sorted(
            [o.uri, o.action, o.version, o.content_hash, list(o.groups), o.chunks] for o in outcomes
        ),
        "skipped": sorted([s.uri, s.reason] for s in skipped),
    }
    return "sha256:" + hashlib.sha256(_canonical(payload)).hexdigest()


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _short_hash(parts: list[object]) -> str:
    return hashlib.sha256(_canonical(parts)).hexdigest()[:32]


@dataclass(frozen=True)
class _Stored:
    """The latest stored version of one document."""

    id: str
    version: int
    content_hash: str
    tombstoned: bool
    superseded: bool = False
    record_key: str | None = None
    topic: str | None = None
    groups: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Pending:
    """A new version of a document whose row is written and whose chunks are still to be made."""

    item: SourceDocument
    document_id: str
    version: int
    content_hash: str
    groups: tuple[str, ...]
    unreadable_because: str | None
    action: Action
    max_chunk_chars: int


@dataclass
class _Run:
    """One ingest of one source: what the store holds, and the rows waiting to be written."""

    conn: Connection
    pilot: str
    source: str
    ingested_at: str
    source_groups: tuple[str, ...] = ()
    stored: dict[str, _Stored] = field(default_factory=dict)
    active: dict[str, int] = field(default_factory=dict)
    """document id -> how many active chunks it has."""
    outcomes: list[DocumentOutcome] = field(default_factory=list)
    chunks_written: int = 0
    chunks_deactivated: int = 0
    _deactivate: list[dict[str, object]] = field(default_factory=list)
    _regrant: list[dict[str, object]] = field(default_factory=list)
    _documents: list[dict[str, object]] = field(default_factory=list)
    _pending: list[_Pending] = field(default_factory=list)
    """New versions whose chunks are made and written at the next flush."""
    _pending_chars: int = 0
    bits: GroupBits | None = None
    """SQLite: the pilot's group numbers, for the chunks' masks (see ``pilotgate.data.acl``)."""

    def load(self) -> None:
        """Read the latest version of each document, how many active chunks each has, and (SQLite) the
        pilot's group numbers."""
        if self.conn.dialect.name == "sqlite":
            self.bits = GroupBits(self.conn, self.pilot)
        latest = (
            select(documents.c.uri, func.max(documents.c.version).label("version"))
            .where(documents.c.pilot == self.pilot, documents.c.source == self.source)
            .group_by(documents.c.uri)
            .subquery()
        )
        rows = self.conn.execute(
            select(
                documents.c.uri,
                documents.c.id,
                documents.c.version,
                documents.c.content_hash,
                documents.c.tombstoned,
                documents.c.superseded_by,
                documents.c.record_key,
                documents.c.topic,
                documents.c.read_groups,
            )
            .join(latest, and_(documents.c.uri == latest.c.uri, documents.c.version == latest.c.version))
            .where(documents.c.pilot == self.pilot, documents.c.source == self.source)
        )
        for uri, doc_id, version, hashed, tombstoned, superseded_by, key, topic, groups in rows:
            self.stored[uri] = _Stored(
                doc_id,
                int(version),
                hashed,
                bool(tombstoned),
                superseded_by is not None,
                key,
                topic,
                tuple(json.loads(groups or "[]")),
            )
        active = self.conn.execute(
            select(chunks.c.document_id, func.count())
            .where(chunks.c.pilot == self.pilot, chunks.c.source == self.source, chunks.c.active)
            .group_by(chunks.c.document_id)
        )
        self.active = {doc_id: int(count) for doc_id, count in active}

    def document(self, item: SourceDocument, groups: tuple[str, ...], max_chunk_chars: int) -> None:
        """Ingest one delivered document: unchanged, ACL brought in step, or a new version."""
        hashed = content_hash(item.text)
        stored = self.stored.get(item.uri)
        why = self._unreadable_because(item, groups)
        if (
            stored is not None
            and not stored.tombstoned
            and stored.content_hash == hashed
            and (stored.record_key, stored.topic) == (item.record_key, item.topic)
        ):
            self._unchanged(item, stored, groups, why)
            return
        version = 1
        if stored is not None:
            version = stored.version + 1
            if not stored.tombstoned:
                self._retire(stored)
        doc_id = document_id(self.pilot, self.source, item.uri, version)
        self._documents.append(
            {
                "id": doc_id,
                "pilot": self.pilot,
                "source": self.source,
                "uri": item.uri,
                "version": version,
                "content_hash": hashed,
                "modified_at": rfc3339(item.modified_at) if item.modified_at else None,
                "ingested_at": self.ingested_at,
                "tombstoned": False,
                "record_key": item.record_key,
                "topic": item.topic,
                "superseded_by": None,
                "read_groups": _groups_json(groups),
            }
        )
        action: Action = "changed" if stored is not None and not stored.tombstoned else "new"
        self._pending.append(_Pending(item, doc_id, version, hashed, groups, why, action, max_chunk_chars))
        self._pending_chars += len(item.text)
        self._maybe_flush()

    def tombstone(self, uri: str) -> None:
        """Record that ``uri`` is gone: a tombstone version, and its chunks made inactive."""
        stored = self.stored[uri]
        if stored.tombstoned:
            return
        self._retire(stored)
        version = stored.version + 1
        doc_id = document_id(self.pilot, self.source, uri, version)
        self._documents.append(
            {
                "id": doc_id,
                "pilot": self.pilot,
                "source": self.source,
                "uri": uri,
                "version": version,
                "content_hash": EMPTY_CONTENT_HASH,
                "modified_at": None,
                "ingested_at": self.ingested_at,
                "tombstoned": True,
                "record_key": None,
                "topic": None,
                "superseded_by": None,
                "read_groups": "[]",
            }
        )
        self.outcomes.append(DocumentOutcome(uri, "tombstoned", doc_id, version, EMPTY_CONTENT_HASH, (), 0))

    def flush(self) -> None:
        """Write every pending row, parents before children; a batch's chunks are made as they are written."""
        if self._deactivate and self.bits is not None:
            self.conn.exec_driver_sql(
                "DELETE FROM chunk_masks WHERE chunk IN (SELECT rowid FROM chunks WHERE document_id = ?)",
                [(row["doc"],) for row in self._deactivate],
            )
        if self._deactivate:
            self.conn.execute(
                update(chunks).where(chunks.c.document_id == bindparam("doc")).values(active=False),
                self._deactivate,
            )
        if self._regrant:
            self.conn.execute(
                update(documents)
                .where(documents.c.id == bindparam("doc"))
                .values(read_groups=bindparam("groups")),
                self._regrant,
            )
            self.conn.execute(
                update(chunks)
                .where(chunks.c.document_id == bindparam("doc"), chunks.c.active)
                .values(acl=bindparam("acl")),
                self._regrant,
            )
            if self.bits is not None:
                self.conn.exec_driver_sql(
                    "UPDATE chunk_masks SET mask = ? "
                    "WHERE chunk IN (SELECT rowid FROM chunks WHERE document_id = ? AND active)",
                    [(row["mask"], row["doc"]) for row in self._regrant],
                )
        if self._documents:
            write_rows(self.conn, documents, self._documents)
        if self._pending:
            if self.bits is None:
                write_rows(self.conn, chunks, self._chunk_rows(self._pending))
            else:
                # SQLite: the rows get their rowids here (the next ones; chunks are never deleted, and this
                # transaction is the only writer), so each chunk's mask is written beside it by rowid.
                (last,) = driver_execute(self.conn, "SELECT coalesce(max(rowid), 0) FROM chunks").fetchone()
                masks: list[dict[str, object]] = []
                write_rows(self.conn, chunks, self._chunk_rows(self._pending, int(last) + 1, masks))
                write_rows(self.conn, chunk_masks, masks)
        for rows in (self._deactivate, self._regrant, self._documents, self._pending):
            rows.clear()
        self._pending_chars = 0

    def _chunk_rows(
        self, pending: Iterable[_Pending], rowid: int = 0, masks: list[dict[str, object]] | None = None
    ) -> Iterator[dict[str, object]]:
        """The chunk rows of each pending version, recording its outcome once its chunks are known. With
        ``masks`` (SQLite) the rows carry rowids from ``rowid`` on, and each one's mask row is appended."""
        for new in pending:
            item = new.item
            content_at = rfc3339(item.modified_at) if item.modified_at else self.ingested_at
            acl = acl_text(self.pilot, self.source, new.groups)
            mask = self.bits.mask(new.groups) if self.bits is not None else 0
            pieces = chunk_document(item.text, item.media_type, max_chars=new.max_chunk_chars)
            make_id = chunk_ids(self.pilot, self.source, item.uri, new.version)
            for piece in pieces:
                row: dict[str, object] = {}
                if masks is not None:
                    row["rowid"] = rowid
                    masks.append({"chunk": rowid, "mask": mask})
                    rowid += 1
                row.update(
                    {
                        "id": make_id(piece.ordinal),
                        "pilot": self.pilot,
                        "document_id": new.document_id,
                        "source": self.source,
                        "ordinal": piece.ordinal,
                        "heading": piece.heading,
                        "text": piece.text,
                        "content_hash": content_hash(piece.text),
                        "active": True,
                        "acl": acl,
                        "content_at": content_at,
                        "superseded": False,
                        "sketch": sketch(piece.text),
                    }
                )
                yield row
            self.chunks_written += len(pieces)
            self.outcomes.append(
                DocumentOutcome(
                    item.uri,
                    new.action,
                    new.document_id,
                    new.version,
                    new.content_hash,
                    new.groups,
                    len(pieces),
                    item.record_key,
                    new.unreadable_because,
                )
            )

    def _maybe_flush(self) -> None:
        if self._pending_chars >= FLUSH_EVERY_CHARS or len(self._documents) >= FLUSH_EVERY_DOCUMENTS:
            self.flush()

    def _unchanged(
        self, item: SourceDocument, stored: _Stored, groups: tuple[str, ...], why: str | None
    ) -> None:
        count = self.active.get(stored.id, 0)
        action: Action = "unchanged"
        if stored.groups != groups:
            action = "acl_changed"
            acl = acl_text(self.pilot, self.source, groups, retrievable=not stored.superseded)
            regrant: dict[str, object] = {"doc": stored.id, "groups": _groups_json(groups), "acl": acl}
            if self.bits is not None:
                regrant["mask"] = 0 if stored.superseded else self.bits.mask(groups)
            self._regrant.append(regrant)
        self.outcomes.append(
            DocumentOutcome(
                item.uri,
                action,
                stored.id,
                stored.version,
                stored.content_hash,
                groups,
                count,
                item.record_key,
                why,
            )
        )

    def _unreadable_because(self, item: SourceDocument, groups: tuple[str, ...]) -> str | None:
        if groups:
            return None
        if item.acl_problem:
            return item.acl_problem
        if not self.source_groups:
            return "the source has no read groups"
        named = ", ".join(item.read_groups or ()) or "none"
        return f"its own groups ({named}) share none with the source's ({', '.join(self.source_groups)})"

    def _retire(self, stored: _Stored) -> None:
        self._deactivate.append({"doc": stored.id})
        self.chunks_deactivated += self.active.get(stored.id, 0)


def write_rows(conn: Connection, table: Table, rows: Iterable[dict[str, object]]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the caller's transaction.

    On PostgreSQL the rows stream into ``COPY ... FROM STDIN`` as they are produced, so a generator's work
    overlaps the server's. On SQLite they go in multi-row ``INSERT`` statements (see ``_insert_sqlite``);
    elsewhere in one executemany. A driver error is raised as the SQLAlchemy exception an ``execute`` would
    raise.
    """
    if conn.dialect.name == "sqlite":
        _insert_sqlite(conn, table, rows)
        return
    if conn.dialect.name != "postgresql":
        batch = list(rows)
        if batch:
            conn.execute(insert(table), batch)
        return
    stream = iter(rows)
    first = next(stream, None)
    if first is None:
        return
    columns = list(first)
    quoted = ", ".join(f'"{column}"' for column in columns)
    statement = f'COPY "{table.name}" ({quoted}) FROM STDIN'
    dbapi = conn.dialect.dbapi
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            copy.write_row(tuple(first.values()))
            for row in stream:
                copy.write_row(tuple(row.values()))
    except Exception as exc:
        if dbapi is None or not isinstance(exc, dbapi.Error):
            raise
        raise DBAPIError.instance(statement, None, exc, dbapi.Error) from exc
    finally:
        cursor.close()


def _insert_sqlite(conn: Connection, table: Table, rows: Iterable[dict[str, object]]) -> None:
    """Insert ``rows`` with a few hundred rows per ``INSERT ... VALUES`` statement on the driver cursor.

    A row inserted into ``chunks`` reaches the FTS5 index through a trigger, and SQLite opens a statement
    savepoint for it in which FTS5 writes its pending terms out as a new segment: one statement per row
    (executemany) made one tiny segment per chunk, merged again and again, and doubled the CPU of an ingest
    (measured: 106 against 51 µs a chunk for the index). The driver cursor also skips SQLAlchemy's per-row
    parameter processing; the values are already what SQLite stores (bools are ints).
    """
    stream = iter(rows)
    first = next(stream, None)
    if first is None:
        return
    columns = list(first)
    per = max(1, SQLITE_VARIABLES // len(columns))
    names = ", ".join(f'"{column}"' for column in columns)
    head = f'INSERT INTO "{table.name}" ({names}) VALUES '  # noqa: S608 - the table's own columns, placeholders
    slot = "(" + ", ".join("?" * len(columns)) + ")"
    full = head + ", ".join([slot] * per)
    values: list[object] = list(first.values())
    count = 1
    for row in stream:
        values.extend(row.values())
        count += 1
        if count == per:
            driver_execute(conn, full, values)
            values, count = [], 0
    if count:
        driver_execute(conn, head + ", ".join([slot] * count), values)


def _groups_json(groups: Iterable[str]) -> str:
    """The ``read_groups`` column value: a compact JSON list, sorted."""
    return json.dumps(sorted(set(groups)), separators=(",", ":"), ensure_ascii=False)

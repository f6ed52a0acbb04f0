"""The writer: appending receipts to a pilot's chain inside the caller's transaction.

A receipt and the state change it records commit together or not at all, so ``append`` never opens or
commits a transaction: it runs on the caller's ``Connection`` from ``store.write()``. Appends to one pilot
are serialized on its ``chain_heads`` row: SQLite's ``BEGIN IMMEDIATE`` (taken by ``store.write()``)
already holds the only write lock; on PostgreSQL the row is locked with ``SELECT … FOR UPDATE`` (created
first with ``INSERT … ON CONFLICT DO NOTHING``), so concurrent writers queue instead of forking the chain.

The head row also keeps the Merkle *frontier* (the roots of the perfect subtrees), so signing a checkpoint
never rereads old receipts.
"""

from __future__ import annotations

import json
import logging
import weakref
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, select

from pilotgate.clock import utc_now
from pilotgate.errors import ReceiptNotFoundError, WitnessError
from pilotgate.receipts.canonical import canonical_bytes, dumps_sorted
from pilotgate.receipts.checkpoint import Checkpoint, make_checkpoint, parse_checkpoint, signer_for
from pilotgate.receipts.hashes import ZERO_HASH, Frontier, leaf_hash, receipt_hash
from pilotgate.receipts.keys import Signer, load_signing_key
from pilotgate.receipts.model import Actor, build_record, format_at, validate_pilot
from pilotgate.receipts.redaction import Redactor
from pilotgate.receipts.witness import Witness, open_witness
from pilotgate.store import Store
from pilotgate.store.engine import insert_many
from pilotgate.store.tables import chain_heads, checkpoints

log = logging.getLogger("pilotgate.receipts")

DEFAULT_CHECKPOINT_EVERY = 1000

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware (tests inject a fixed clock)."""


@dataclass(frozen=True)
class Entry:
    """One receipt to append (for ``append_many``)."""

    kind: str
    body: Mapping[str, Any]
    actor: Actor | Mapping[str, str] | tuple[str, str]
    task: str | None = None
    release: str | None = None
    refs: Sequence[str | Entry] = ()
    """Receipt hashes, or entries appended earlier in the same ``append_many`` (their hash is not known
    until then: the runtime queues a decision and the call that cites it, to commit them together)."""
    at: datetime | None = None


@dataclass(frozen=True)
class AppendedReceipt:
    """What an append returns: where the receipt landed and its hash (to cite it in ``refs``)."""

    seq: int
    hash: str
    checkpoint: Checkpoint | None = None
    """The checkpoint signed right after this receipt, when it completed a multiple of checkpoint_every."""
    canonical: bytes = field(default=b"", repr=False, compare=False)
    """The receipt's bytes as written (the eval runner scores a task from them without reading them back)."""


@dataclass(frozen=True)
class ChainHead:
    """A chain's current length and last hash."""

    size: int
    head: str


@dataclass
class ReceiptLog:
    """One pilot's receipt log, as the writer sees it.

    ``signer`` set: a checkpoint is signed (in the same transaction) each time the chain reaches a multiple
    of ``checkpoint_every`` receipts. ``witness`` set: checkpoints are sent to it *after* the transaction
    commits (``transaction()`` / ``publish()``), never before: a witness must never hold a checkpoint that
    the store then rolled back, or every later verify would report the log as truncated.
    """

    pilot: str
    signer: Signer | None = None
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    witness: Witness | None = None
    redactor: Redactor = field(default_factory=Redactor)
    clock: Clock = utc_now
    _pending: weakref.WeakKeyDictionary[Any, list[Checkpoint]] = field(
        default_factory=weakref.WeakKeyDictionary, repr=False
    )

    def __post_init__(self) -> None:
        validate_pilot(self.pilot)
        if self.checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")

    # --- appending -------------------------------------------------------------------------------

    def append(
        self,
        conn: Connection,
        *,
        kind: str,
        body: Mapping[str, Any],
        actor: Actor | Mapping[str, str] | tuple[str, str],
        task: str | None = None,
        release: str | None = None,
        refs: Sequence[str] = (),
        at: datetime | None = None,
    ) -> AppendedReceipt:
        """Append one receipt in the caller's open write transaction."""
        entry = Entry(kind=kind, body=body, actor=actor, task=task, release=release, refs=refs, at=at)
        return self.append_many(conn, [entry])[0]

    def prepare(self, entries: Iterable[Entry]) -> PreparedBatch:
        """Check ``entries`` and make their records (bodies redacted and canonicalized, ``at`` taken now)
        before the write transaction, so the writers' lock is held only for the chain's own work: hashes
        that need the head, and the rows. A body JSON cannot hold fails here (canonical_bytes names the
        field), before anything is written."""
        entries = list(entries)
        _check_batch_refs(entries)
        return PreparedBatch(entries, [self._prepare(entry) for entry in entries])

    def append_many(
        self, conn: Connection, entries: Iterable[Entry] | PreparedBatch
    ) -> list[AppendedReceipt]:
        """Append several receipts in order, locking the head once (a task's receipts in one go).

        ``entries`` may come from ``prepare`` (made before the transaction began)."""
        if not conn.in_transaction():
            raise RuntimeError("append needs an open write transaction (use store.write())")
        batch = entries if isinstance(entries, PreparedBatch) else self.prepare(entries)
        entries, prepared = batch.entries, batch.records
        if not prepared:
            return []
        size, head, frontier = self._lock_head(conn)
        rows: list[tuple[Any, ...]] = []
        made: list[AppendedReceipt] = []
        signed: list[Checkpoint] = []
        batch: dict[int, str] = {}
        for entry, (record, at_text, body_text) in zip(entries, prepared, strict=True):
            record["seq"] = size
            record["prev"] = head
            if entry.refs and not all(type(ref) is str for ref in entry.refs):
                record["refs"] = [_resolved(ref, batch) for ref in entry.refs]
            canonical = _spliced(record, body_text)
            digest = receipt_hash(canonical)
            frontier.append(leaf_hash(canonical))
            rows.append((self.pilot, size, digest, head, record["kind"], record["task"], at_text, canonical))
            size += 1
            head = digest
            checkpoint = None
            if self.signer is not None and size % self.checkpoint_every == 0:
                checkpoint = make_checkpoint(self.pilot, size, frontier.root(), self.signer)
                signed.append(checkpoint)
            made.append(AppendedReceipt(size - 1, digest, checkpoint, canonical))
            batch[id(entry)] = digest
        insert_many(conn, _sql(conn)["insert_receipt"], rows)
        self._store_head(conn, size, head, frontier)
        for checkpoint in signed:
            self._store_checkpoint(conn, checkpoint)
        return made

    def _prepare(self, entry: Entry) -> tuple[dict[str, Any], str, str]:
        """The record (body left out), its ``at`` and the redacted body's canonical text."""
        at_text = format_at(entry.at if entry.at is not None else self.clock())
        body = entry.body if type(entry.body) is dict else dict(entry.body)
        body_text = self.redactor.redact_canonical(body)
        record = build_record(
            pilot=self.pilot,
            seq=0,
            prev=ZERO_HASH,
            at=at_text,
            kind=entry.kind,
            body=_NO_BODY,
            actor=Actor.of(entry.actor),
            task=entry.task,
            release=entry.release,
            refs=[ref for ref in entry.refs if type(ref) is str],
        )
        record["body"] = None
        return record, at_text, body_text

    # --- checkpoints -------------------------------------------------------------------------------

    def checkpoint(self, conn: Connection) -> Checkpoint:
        """Sign a checkpoint of the chain as it stands now (on demand, or at task end).

        Returns the stored checkpoint when one of this size exists already. Call inside a write
        transaction; with ``transaction()`` the witness gets it after the commit.
        """
        if self.signer is None:
            raise RuntimeError("this ReceiptLog has no signer; load the pilot's signing key first")
        size, _head, frontier = self._lock_head(conn)
        if size == 0:
            raise ReceiptNotFoundError(
                f"the receipt log of {self.pilot} is empty; there is nothing to checkpoint",
                hint="run a task first",
            )
        existing = conn.execute(
            select(checkpoints.c.note).where(checkpoints.c.pilot == self.pilot, checkpoints.c.size == size)
        ).scalar_one_or_none()
        if existing is not None:
            return parse_checkpoint(existing)
        checkpoint = make_checkpoint(self.pilot, size, frontier.root(), self.signer)
        self._store_checkpoint(conn, checkpoint)
        return checkpoint

    def _store_checkpoint(self, conn: Connection, checkpoint: Checkpoint) -> None:
        conn.execute(
            checkpoints.insert().values(
                pilot=self.pilot,
                size=checkpoint.size,
                root=checkpoint.root.hex(),
                key_id=checkpoint.key_id,
                note=checkpoint.note,
                created_at=format_at(self.clock()),
            )
        )
        transaction = conn.get_transaction()
        if transaction is not None:
            self._pending.setdefault(transaction, []).append(checkpoint)

    # --- the witness, after commit -------------------------------------------------------------------

    @contextmanager
    def transaction(self, store: Store) -> Iterator[Connection]:
        """``store.write()`` plus, once it has committed, the witness for any checkpoint signed in it.

        A witness that cannot be reached is logged, not raised: the receipts are committed, and
        ``sync_witness`` (run by ``pilotgate receipts checkpoint`` and ``verify``) sends the checkpoint
        later. A witness that *refuses* the checkpoint (rollback or fork) raises VerificationError.
        """
        with store.write() as conn:
            transaction = conn.get_transaction()
            yield conn
        made = self._pending.pop(transaction, []) if transaction is not None else []
        if made and self.witness is not None:
            try:
                self.publish(made)
            except WitnessError as exc:
                log.warning("checkpoint not witnessed yet: %s", exc)

    def publish(self, made: Iterable[Checkpoint]) -> None:
        """Send committed checkpoints to the witness, in order of size."""
        if self.witness is None:
            return
        for checkpoint in sorted(made, key=lambda item: item.size):
            self.witness.submit(checkpoint)

    def sync_witness(self, conn: Connection) -> Checkpoint | None:
        """Send the latest stored checkpoint to the witness when the witness lacks it; returns it."""
        if self.witness is None:
            return None
        note = conn.execute(
            select(checkpoints.c.note)
            .where(checkpoints.c.pilot == self.pilot)
            .order_by(checkpoints.c.size.desc())
            .limit(1)
        ).scalar_one_or_none()
        if note is None:
            return None
        latest = parse_checkpoint(note)
        witnessed = self.witness.latest(self.pilot)
        if witnessed is None or witnessed.size != latest.size or witnessed.root != latest.root:
            self.witness.submit(latest)
        return latest

    # --- the head row ------------------------------------------------------------------------------

    def _lock_head(self, conn: Connection) -> tuple[int, str, Frontier]:
        """Read (creating if needed) and lock the chain head for the rest of the transaction."""
        sql = _sql(conn)
        cursor = _cursor(conn)
        cursor.execute(sql["select_head"], (self.pilot,))
        row = cursor.fetchone()
        if row is None:
            cursor.execute(sql["insert_head"], (self.pilot, ZERO_HASH))
            cursor.execute(sql["select_head"], (self.pilot,))
            row = cursor.fetchone()
        size = int(row[0])
        return size, str(row[1]), Frontier.from_hex(size, row[2])

    def _store_head(self, conn: Connection, size: int, head: str, frontier: Frontier) -> None:
        _cursor(conn).execute(_sql(conn)["update_head"], (size, head, frontier.to_hex(), self.pilot))


_NO_BODY: dict[str, Any] = {}


@dataclass(frozen=True)
class PreparedBatch:
    """Entries checked and made into records by ``ReceiptLog.prepare``, ready for ``append_many``."""

    entries: list[Entry]
    records: list[tuple[dict[str, Any], str, str]]
    """Per entry: the record (body left out), its ``at`` and the redacted body's canonical text."""


def _check_batch_refs(entries: list[Entry]) -> None:
    """An entry may cite another only when that one comes earlier in the same batch."""
    earlier: set[int] = set()
    for entry in entries:
        for ref in entry.refs:
            if type(ref) is not str and (not isinstance(ref, Entry) or id(ref) not in earlier):
                raise ValueError(
                    f"a ref of {entry.kind} must be a receipt hash or an entry appended earlier in the same "
                    f"batch; got {type(ref).__name__}"
                )
        earlier.add(id(entry))


def _resolved(ref: str | Entry, batch: dict[int, str]) -> str:
    return ref if isinstance(ref, str) else batch[id(ref)]


_BODY_SLOT = '"body":null'


def _spliced(record: dict[str, Any], body_text: str) -> bytes:
    """The record's canonical bytes, its body's canonical text put in the ``body`` slot.

    Every field but the body is a checked string, small integer, list of hashes or null, which the stdlib
    encoder writes as RFC 8785 does; ``"body":null`` can only be the record's own key (a string inside the
    text cannot hold an unescaped quote, and the actor object has no ``body``), and members are sorted, so
    putting the body's own canonical text there gives the canonical text of the whole.
    """
    text = dumps_sorted(record).replace(_BODY_SLOT, '"body":' + body_text, 1)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        record = {**record, "body": json.loads(body_text)}
        return canonical_bytes(record)  # raises, naming the field that is not valid Unicode


_SQL = {
    "select_head": "SELECT size, head, frontier FROM chain_heads WHERE pilot = ?",
    "insert_head": "INSERT INTO chain_heads (pilot, size, head, frontier) VALUES (?, 0, ?, '') "
    "ON CONFLICT DO NOTHING",
    "update_head": "UPDATE chain_heads SET size = ?, head = ?, frontier = ? WHERE pilot = ?",
    "insert_receipt": "INSERT INTO receipts (pilot, seq, hash, prev, kind, task, at, canonical) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
}
"""The hot path's statements, as driver SQL run on a driver cursor: an append runs three of them."""

_SQL_BY_DIALECT = {
    "sqlite": _SQL,
    "postgresql": {
        **{name: text.replace("?", "%s") for name, text in _SQL.items()},
        "select_head": _SQL["select_head"].replace("?", "%s") + " FOR UPDATE",
    },
}


def _cursor(conn: Connection) -> Any:
    """A driver cursor on the connection's open transaction: the hot path skips SQLAlchemy's execution
    machinery (about 45 µs a statement, measured), which cost more than the statements themselves."""
    return conn.connection.cursor()


def _sql(conn: Connection) -> dict[str, str]:
    try:
        return _SQL_BY_DIALECT[conn.dialect.name]
    except KeyError:
        raise RuntimeError(f"receipts support SQLite and PostgreSQL, not {conn.dialect.name}") from None


def read_head(conn: Connection, pilot: str) -> ChainHead:
    """The chain's length and last hash as the head row records them (0 and the zero hash when empty)."""
    row = conn.execute(
        select(chain_heads.c.size, chain_heads.c.head).where(chain_heads.c.pilot == pilot)
    ).one_or_none()
    return (
        ChainHead(size=0, head=ZERO_HASH)
        if row is None
        else ChainHead(size=int(row.size), head=str(row.head))
    )


def append(
    conn: Connection,
    *,
    pilot: str,
    kind: str,
    body: Mapping[str, Any],
    actor: Actor | Mapping[str, str] | tuple[str, str],
    task: str | None = None,
    release: str | None = None,
    refs: Sequence[str] = (),
    at: datetime | None = None,
) -> AppendedReceipt:
    """Append one receipt with default settings (no signer, no redaction beyond known shapes)."""
    return ReceiptLog(pilot).append(
        conn, kind=kind, body=body, actor=actor, task=task, release=release, refs=refs, at=at
    )


def open_log(
    pilot: str,
    *,
    signing_key: Path | None,
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY,
    witness: str | None = None,
    base: Path | None = None,
    redactor: Redactor | None = None,
    clock: Clock = utc_now,
) -> ReceiptLog:
    """A pilot's log as pilot.yaml's ``receipts`` section declares it: key, checkpoint interval, witness.

    ``signing_key`` None means no checkpoints (tests, tools that only read); a path that cannot be loaded
    raises SigningKeyError with a hint. ``witness`` is a file path (relative to ``base``) or an http(s) URL.
    """
    signer = signer_for(pilot, load_signing_key(signing_key)) if signing_key is not None else None
    return ReceiptLog(
        pilot,
        signer=signer,
        checkpoint_every=checkpoint_every,
        witness=open_witness(witness, base=base) if witness else None,
        redactor=redactor if redactor is not None else Redactor(),
        clock=clock,
    )

"""Reading a pilot's receipts and checkpoints back out of the store (for verify, export, list, prove)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, select

from pilotgate.errors import ReceiptNotFoundError
from pilotgate.receipts.hashes import leaf_hash
from pilotgate.receipts.model import ReceiptRow, StoredReceipt
from pilotgate.store.tables import checkpoints, receipts


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint row: the columns copied out of the note, and the note."""

    size: int
    root: str
    key_id: str
    note: str
    created_at: str


_ROW_COLUMNS = (
    receipts.c.seq,
    receipts.c.hash,
    receipts.c.prev,
    receipts.c.kind,
    receipts.c.task,
    receipts.c.at,
    receipts.c.canonical,
)


def iter_receipt_rows(
    conn: Connection, pilot: str, *, start: int = 0, batch: int = 5000
) -> Iterator[ReceiptRow]:
    """Every receipt row of ``pilot`` in seq order, in batches (a large log never sits in memory).

    Reads through the driver's own cursor, inside the caller's transaction: building SQLAlchemy rows
    cost more than verifying them. ``canonical`` may come back as a memoryview or (after tampering on
    SQLite) as text; ``verify_log`` turns either into bytes.
    """
    placeholder = "%s" if conn.dialect.name == "postgresql" else "?"
    sql = (
        "SELECT seq, hash, prev, kind, task, at, canonical FROM receipts "  # noqa: S608 - placeholders only
        f"WHERE pilot = {placeholder} AND seq > {placeholder} ORDER BY seq LIMIT {placeholder}"
    )
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        last = start - 1
        while True:
            cursor.execute(sql, (pilot, last, batch))
            rows = cursor.fetchall()
            yield from rows
            if len(rows) < batch:
                return
            last = rows[-1][0]
    finally:
        cursor.close()


def count_receipts(conn: Connection, pilot: str) -> int:
    """How many receipt rows the pilot has."""
    return int(
        conn.execute(select(func.count()).select_from(receipts).where(receipts.c.pilot == pilot)).scalar_one()
    )


def get_receipt(conn: Connection, pilot: str, seq: int) -> StoredReceipt:
    """One receipt by sequence number; ReceiptNotFoundError when there is none."""
    row = conn.execute(
        select(receipts.c.seq, receipts.c.hash, receipts.c.canonical).where(
            receipts.c.pilot == pilot, receipts.c.seq == seq
        )
    ).one_or_none()
    if row is None:
        raise ReceiptNotFoundError(
            f"the receipt log of {pilot} has no receipt {seq}",
            hint="`pilotgate receipts list` shows what is there",
        )
    return StoredReceipt(seq=int(row.seq), hash=str(row.hash), canonical=as_bytes(row.canonical))


def list_receipts(
    conn: Connection,
    pilot: str,
    *,
    kind: str | None = None,
    task: str | None = None,
    limit: int = 50,
    newest_first: bool = True,
) -> list[StoredReceipt]:
    """Receipts filtered by the copied-out kind and task columns (newest first by default).

    With a task, the order is by ``seq + 0``: ordered by the bare column, SQLite's planner walked the
    (pilot, seq) key backwards over the pilot's whole log to skip a sort, instead of taking the task's
    handful of rows from the (pilot, task) index and sorting those."""
    query = select(receipts.c.seq, receipts.c.hash, receipts.c.canonical).where(receipts.c.pilot == pilot)
    if kind is not None:
        query = query.where(receipts.c.kind == kind)
    order: Any = receipts.c.seq
    if task is not None:
        query = query.where(receipts.c.task == task)
        order = receipts.c.seq + 0
    query = query.order_by(order.desc() if newest_first else order).limit(limit)
    return [
        StoredReceipt(seq=int(r.seq), hash=str(r.hash), canonical=as_bytes(r.canonical))
        for r in conn.execute(query)
    ]


def read_leaves(conn: Connection, pilot: str, size: int) -> list[bytes]:
    """The Merkle leaf hashes of receipts 0..size-1 (recomputed from the stored bytes)."""
    leaves: list[bytes] = []
    for row in iter_receipt_rows(conn, pilot):
        if len(leaves) == size:
            break
        leaves.append(leaf_hash(as_bytes(row[6])))
    if len(leaves) < size:
        raise ReceiptNotFoundError(f"the receipt log of {pilot} has {len(leaves)} receipts, not {size}")
    return leaves


def read_checkpoints(conn: Connection, pilot: str) -> list[StoredCheckpoint]:
    """Every stored checkpoint of ``pilot``, smallest first."""
    query = (
        select(
            checkpoints.c.size,
            checkpoints.c.root,
            checkpoints.c.key_id,
            checkpoints.c.note,
            checkpoints.c.created_at,
        )
        .where(checkpoints.c.pilot == pilot)
        .order_by(checkpoints.c.size)
    )
    return [
        StoredCheckpoint(
            size=int(r.size),
            root=str(r.root),
            key_id=str(r.key_id),
            note=str(r.note),
            created_at=str(r.created_at),
        )
        for r in conn.execute(query)
    ]


def latest_checkpoint(conn: Connection, pilot: str, *, at_least: int = 0) -> StoredCheckpoint:
    """The largest stored checkpoint covering ``at_least`` receipts or more (ReceiptNotFoundError if none)."""
    row = conn.execute(
        select(
            checkpoints.c.size,
            checkpoints.c.root,
            checkpoints.c.key_id,
            checkpoints.c.note,
            checkpoints.c.created_at,
        )
        .where(checkpoints.c.pilot == pilot)
        .order_by(checkpoints.c.size.desc())
        .limit(1)
    ).one_or_none()
    if row is None or int(row.size) < at_least:
        raise ReceiptNotFoundError(
            f"no checkpoint of {pilot} covers {at_least} receipts yet"
            if row is not None
            else f"the receipt log of {pilot} has no checkpoint yet",
            hint="sign one now with `pilotgate receipts checkpoint`",
        )
    return StoredCheckpoint(
        size=int(row.size),
        root=str(row.root),
        key_id=str(row.key_id),
        note=str(row.note),
        created_at=str(row.created_at),
    )


def checkpoint_at(conn: Connection, pilot: str, size: int) -> StoredCheckpoint:
    """The stored checkpoint of exactly ``size`` receipts; ReceiptNotFoundError if none."""
    for checkpoint in read_checkpoints(conn, pilot):
        if checkpoint.size == size:
            return checkpoint
    raise ReceiptNotFoundError(
        f"the receipt log of {pilot} has no checkpoint of size {size}",
        hint="`pilotgate receipts checkpoint` signs one of the current size",
    )


def as_bytes(value: object) -> bytes:
    """The canonical column as bytes, whatever the driver or a tampering hand left in it."""
    if isinstance(value, str):  # SQLite keeps whatever type was written; text hashes as its UTF-8 bytes
        return value.encode("utf-8", "surrogatepass")
    return bytes(value)  # type: ignore[arg-type]

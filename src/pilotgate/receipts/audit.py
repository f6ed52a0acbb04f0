"""Verifying a pilot's log where it lives: in the store, or in an export file with its public key.

Both feed the same ``verify_log``; the store adds what only the store has (the copied-out columns and
the head row), the witness adds what the store cannot vouch for (that its newest receipts were not cut).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection

from pilotgate.receipts.chain import read_head
from pilotgate.receipts.checkpoint import origin
from pilotgate.receipts.export import read_export
from pilotgate.receipts.keys import PublicKey, load_public_key
from pilotgate.receipts.reader import iter_receipt_rows, read_checkpoints
from pilotgate.receipts.verify import VerifyReport, verify_log
from pilotgate.receipts.witness import Witness


def verify_store(
    conn: Connection,
    pilot: str,
    public_key: PublicKey | None,
    witness: Witness | None = None,
    *,
    expect_checkpoint_every: int | None = None,
    strict: bool = False,
) -> VerifyReport:
    """Verify the pilot's log in the store (run it in ``store.read()``)."""
    witnessed = witness.latest(pilot) if witness is not None else None
    stored = read_checkpoints(conn, pilot)
    head = read_head(conn, pilot)
    return verify_log(
        pilot,
        iter_receipt_rows(conn, pilot),
        checkpoints=[(item.size, item.root, item.note) for item in stored],
        public_key=public_key,
        witnessed=witnessed,
        head=(head.size, head.head),
        expect_checkpoint_every=expect_checkpoint_every,
        strict=strict,
    )


def verify_export(
    path: Path, public_key_file: Path, *, witness: Witness | None = None, strict: bool = False
) -> VerifyReport:
    """Verify an export file against the public key file beside it, with no database."""
    exported = read_export(path)
    public_key = load_public_key(public_key_file, name=origin(exported.pilot))
    return verify_log(
        exported.pilot,
        exported.rows,
        checkpoints=[(None, None, note) for note in exported.checkpoints],
        public_key=public_key,
        witnessed=witness.latest(exported.pilot) if witness is not None else None,
        strict=strict,
    )

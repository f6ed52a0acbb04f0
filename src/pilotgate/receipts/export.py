"""Exporting a receipt log for an auditor, and reading an export back.

An export is a JSONL file, one item per line (split on ``\\n`` only: receipts may hold U+2028):

1. a header ``{"export":"pilotgate-receipts","format":1,"pilot":"<pilot>"}``;
2. every receipt in seq order, each line exactly its stored canonical bytes (so its hash can be
   recomputed from the line as is);
3. every checkpoint, smallest first, as ``{"checkpoint":"<the signed note>"}``.

Beside it, ``<file>.pub`` holds the pilot's public key as a verifier-key line. ``pilotgate receipts verify
--file X --pubkey X.pub`` checks the whole export with no database.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection

from pilotgate.errors import UsageError
from pilotgate.receipts.keys import PublicKey
from pilotgate.receipts.model import ReceiptRow
from pilotgate.receipts.reader import as_bytes, iter_receipt_rows, read_checkpoints

EXPORT_MAGIC = "pilotgate-receipts"
EXPORT_FORMAT = 1
_CHECKPOINT_PREFIX = b'{"checkpoint":'


@dataclass(frozen=True)
class ExportSummary:
    """What an export wrote."""

    path: Path
    public_key_path: Path | None
    receipts: int
    checkpoints: int


@dataclass(frozen=True)
class ExportedLog:
    """An export read back: the rows (with no copied-out columns) and the checkpoint notes."""

    pilot: str
    rows: list[ReceiptRow]
    checkpoints: list[str]


def public_key_path(path: Path) -> Path:
    """Where the public key of an export is written: beside it, ``<name>.pub``."""
    return path.with_name(path.name + ".pub")


def export(conn: Connection, pilot: str, out: Path, *, public_key: PublicKey | None = None) -> ExportSummary:
    """Write the pilot's receipts and checkpoints to ``out`` (and the public key beside it).

    Checkpoints are read *before* the receipts, so that a receipt appended meanwhile can only make the
    export longer than its checkpoints, never shorter.
    """
    notes = [checkpoint.note for checkpoint in read_checkpoints(conn, pilot)]
    count = 0
    with out.open("wb") as handle:
        header = {"export": EXPORT_MAGIC, "format": EXPORT_FORMAT, "pilot": pilot}
        handle.write(json.dumps(header, separators=(",", ":")).encode() + b"\n")
        for row in iter_receipt_rows(conn, pilot):
            handle.write(as_bytes(row[6]) + b"\n")
            count += 1
        for note in notes:
            handle.write(
                json.dumps({"checkpoint": note}, separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
            )
    key_path = None
    if public_key is not None:
        key_path = public_key_path(out)
        key_path.write_text(public_key.text() + "\n", encoding="utf-8")
    return ExportSummary(path=out, public_key_path=key_path, receipts=count, checkpoints=len(notes))


def read_export(path: Path) -> ExportedLog:
    """Read an export file; UsageError when it is not one."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read the export {path}: {exc.strerror or exc}") from exc
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    try:
        header = json.loads(lines[0]) if lines else None
    except ValueError:
        header = None
    if not isinstance(header, dict) or header.get("export") != EXPORT_MAGIC:
        raise UsageError(f"{path} is not a pilotgate receipts export (no header line)")
    if header.get("format") != EXPORT_FORMAT:
        raise UsageError(
            f"{path} is export format {header.get('format')!r}; this pilotgate reads {EXPORT_FORMAT}"
        )
    rows: list[ReceiptRow] = []
    notes: list[str] = []
    for number, line in enumerate(lines[1:], start=2):
        if line.startswith(_CHECKPOINT_PREFIX):
            try:
                notes.append(str(json.loads(line)["checkpoint"]))
            except (ValueError, KeyError) as exc:
                raise UsageError(f"{path}:{number}: a checkpoint line that cannot be read") from exc
        else:
            rows.append((None, None, None, None, None, None, line))
    return ExportedLog(pilot=str(header.get("pilot")), rows=rows, checkpoints=notes)

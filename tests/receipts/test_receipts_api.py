"""The public surface of pilotgate.receipts, and export round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

import pilotgate.receipts as receipts
from pilotgate.errors import UsageError
from pilotgate.receipts import ReceiptLog, Signer, export, read_export, verify_export
from pilotgate.receipts.hashes import receipt_hash
from pilotgate.store import Store


def test_all_names_exist_and_nothing_public_is_missing() -> None:
    assert sorted(receipts.__all__) == sorted(set(receipts.__all__))
    for name in receipts.__all__:
        assert hasattr(receipts, name), name


def test_export_round_trip(store: Store, log: ReceiptLog, signer: Signer, tmp_path: Path) -> None:
    from receipts_helpers import entries

    with store.write() as conn:
        log.append_many(conn, entries(0, 6))
        log.append(
            conn, kind="note", body={"text": "line\u2028separator and \n newline"}, actor=("user", "u")
        )
    out = tmp_path / "out.jsonl"
    with store.read() as conn:
        summary = export(conn, log.pilot, out, public_key=signer.public_key)
    assert (summary.receipts, summary.checkpoints) == (7, 1)
    exported = read_export(out)
    assert all(receipt_hash(row[6]).startswith("sha256:") for row in exported.rows)
    assert len(out.read_bytes().split(b"\n")) == 1 + 7 + 1 + 1
    report = verify_export(out, summary.public_key_path or Path())
    assert report.ok and report.receipts_checked == 7 and report.checkpoints_checked == 1


def test_not_an_export_is_a_usage_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"hello": 1}\n')
    with pytest.raises(UsageError, match="not a pilotgate receipts export"):
        read_export(bad)


def test_the_worked_example_in_the_docs_is_reproduced(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from pilotgate.receipts import get_receipt, leaf_hash, read_checkpoints, signer_for
    from pilotgate.store import open_store

    doc = (Path(__file__).parents[2] / "docs" / "receipts.md").read_text(encoding="utf-8")
    signer = signer_for("refund-desk", Ed25519PrivateKey.from_private_bytes(bytes(range(32))))
    times = iter(
        [
            datetime(2026, 11, 25, 10, 0, 0, 123456, tzinfo=UTC),
            datetime(2026, 11, 25, 10, 0, 0, 250000, tzinfo=UTC),
        ]
    )
    log = ReceiptLog(
        "refund-desk",
        signer=signer,
        checkpoint_every=2,
        clock=lambda: next(times, datetime(2026, 11, 25, 10, 0, 1, tzinfo=UTC)),
    )
    store = open_store(f"sqlite:///{tmp_path / 'doc.db'}")
    try:
        with store.write() as conn:
            first = log.append(
                conn,
                kind="task.started",
                body={"input": "Can I return shoes after 40 days?", "user": "ann"},
                actor=("user", "ann"),
                task="t-0001",
                release="r-2026-11-20",
            )
            log.append(
                conn,
                kind="task.finished",
                body={"outcome": "resolved", "cost": "0.000412"},
                actor=("worker", "w1"),
                task="t-0001",
                release="r-2026-11-20",
                refs=[first.hash],
            )
        with store.read() as conn:
            receipts_ = [get_receipt(conn, "refund-desk", seq) for seq in (0, 1)]
            note = read_checkpoints(conn, "refund-desk")[0].note
    finally:
        store.close()
    for receipt in receipts_:
        assert receipt.text in doc and receipt.hash in doc and leaf_hash(receipt.canonical).hex() in doc
    assert note.rstrip("\n") in doc
    assert signer.public_key.text() in doc

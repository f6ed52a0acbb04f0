"""Verify catches every edit of the stored log at the right receipt, with the right reason.

Each Hypothesis example tampers with a real store (SQLite and PostgreSQL) inside a transaction, verifies
there, and rolls the tampering back, so one chain serves every example.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from receipts_helpers import PILOT, FixedClock, entries
from sqlalchemy import Connection, text

from pilotgate.errors import VerificationError
from pilotgate.receipts import ReceiptLog, iter_receipt_rows, receipt_hash, verify_log, verify_store
from pilotgate.receipts.canonical import canonical_bytes
from pilotgate.receipts.model import Actor, build_record
from pilotgate.store import Store

TASKS, PER = 6, 6
SIZE = TASKS * PER


class _Rollback(Exception):
    """Raised to roll an example's tampering back."""


@dataclass(frozen=True)
class Tamper:
    action: str
    seq: int
    position: int = 0


@pytest.fixture
def chain(store: Store) -> Store:
    """36 receipts, no checkpoints: the chain alone must catch each edit."""
    log = ReceiptLog(PILOT, clock=FixedClock())
    for task in range(TASKS):
        with store.write() as conn:
            log.append_many(conn, entries(task, PER))
    return store


def _rows(conn: Connection) -> dict[int, tuple]:
    return {row[0]: row for row in iter_receipt_rows(conn, PILOT)}


def _put(conn: Connection, seq: int, row: tuple) -> None:
    conn.execute(
        text(
            "UPDATE receipts SET hash = :hash, prev = :prev, kind = :kind, task = :task, at = :at, "
            "canonical = :canonical WHERE pilot = :pilot AND seq = :seq"
        ),
        {"hash": row[1], "prev": row[2], "kind": row[3], "task": row[4], "at": row[5], "canonical": row[6],
         "pilot": PILOT, "seq": seq},
    )  # fmt: skip


def _shift_up_from(conn: Connection, seq: int) -> None:
    """Renumber receipts seq.. to seq+1.. (in two steps, so the primary key never collides)."""
    conn.execute(
        text("UPDATE receipts SET seq = -(seq + 1) WHERE pilot = :p AND seq >= :s"), {"p": PILOT, "s": seq}
    )
    conn.execute(text("UPDATE receipts SET seq = -seq WHERE pilot = :p AND seq < 0"), {"p": PILOT})


def apply(conn: Connection, tamper: Tamper) -> tuple[int, str]:
    """Tamper with the store; returns the (seq, reason) verify must report."""
    rows = _rows(conn)
    k = tamper.seq
    if tamper.action == "flip":
        row = rows[k]
        data = bytearray(row[6])
        data[tamper.position % len(data)] ^= 0x01
        _put(conn, k, (*row[:6], bytes(data)))
        return k, "content_changed"
    if tamper.action == "delete":
        conn.execute(text("DELETE FROM receipts WHERE pilot = :p AND seq = :s"), {"p": PILOT, "s": k})
        return k, "truncated" if k == SIZE - 1 else "missing"
    if tamper.action == "insert":
        prev = rows[k - 1][1] if k else "sha256:" + "0" * 64
        record = build_record(
            pilot=PILOT, seq=k, prev=prev, at=rows[k][5], kind="approval.decided",
            body={"approved": True}, actor=Actor("approver", "mallory"),
        )  # fmt: skip
        forged = canonical_bytes(record)
        _shift_up_from(conn, k)
        conn.execute(
            text("INSERT INTO receipts (pilot, seq, hash, prev, kind, task, at, canonical) "
                 "VALUES (:p, :s, :h, :prev, :kind, NULL, :at, :c)"),
            {"p": PILOT, "s": k, "h": receipt_hash(forged), "prev": prev, "kind": "approval.decided",
             "at": rows[k][5], "c": forged},
        )  # fmt: skip
        return k, "inserted"
    if tamper.action == "swap":
        _put(conn, k, rows[k + 1])
        _put(conn, k + 1, rows[k])
        return k, "order_changed"
    raise AssertionError(tamper.action)


tampers = st.one_of(
    st.builds(Tamper, st.just("flip"), st.integers(0, SIZE - 1), st.integers(0, 10_000)),
    st.builds(Tamper, st.just("delete"), st.integers(0, SIZE - 1)),
    st.builds(Tamper, st.just("insert"), st.integers(0, SIZE - 1)),
    st.builds(Tamper, st.just("swap"), st.integers(0, SIZE - 2)),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(tamper=tampers)
def test_any_single_tampering_is_caught_at_the_right_receipt(chain: Store, tamper: Tamper) -> None:
    with pytest.raises(_Rollback), chain.write() as conn:
        expected = apply(conn, tamper)
        report = verify_store(conn, PILOT, None)
        assert report.failure is not None, tamper
        assert (report.failure.seq, report.failure.reason) == expected, (tamper, report.failure)
        raise _Rollback
    with chain.read() as conn:
        assert verify_store(conn, PILOT, None).ok


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("kind", "'tool.result'", "column_mismatch"),
        ("task", "'t-other'", "column_mismatch"),
        ("task", "NULL", "column_mismatch"),
        ("at", "'2020-01-01T00:00:00.000000Z'", "column_mismatch"),
        ("prev", "'sha256:" + "1" * 64 + "'", "column_mismatch"),
        ("hash", "'sha256:" + "2" * 64 + "'", "column_mismatch"),
    ],
)
def test_an_edited_column_is_caught(chain: Store, column: str, value: str, reason: str) -> None:
    with chain.write() as conn:
        conn.execute(text(f"UPDATE receipts SET {column} = {value} WHERE seq = 7"))
    with chain.read() as conn:
        report = verify_store(conn, PILOT, None)
    assert report.failure is not None
    assert (report.failure.seq, report.failure.reason) == (7, reason)
    assert column in report.failure.detail or column == "hash"
    with pytest.raises(VerificationError) as caught:
        report.raise_for_failure()
    assert "receipt 7" in caught.value.message and caught.value.exit_code == 1


def test_a_receipt_rewritten_with_its_hash_column_is_named(chain: Store) -> None:
    with chain.write() as conn:
        row = _rows(conn)[10]
        forged = row[6].replace(b'"step":4', b'"step":9')
        _put(conn, 10, (row[0], receipt_hash(forged), *row[2:6], forged))
    with chain.read() as conn:
        failure = verify_store(conn, PILOT, None).failure
    assert failure is not None and (failure.seq, failure.reason) == (10, "content_changed")
    assert "rewritten" in failure.detail


def test_head_row_is_checked(chain: Store) -> None:
    with chain.write() as conn:
        conn.execute(text("UPDATE chain_heads SET head = 'sha256:" + "3" * 64 + "'"))
    with chain.read() as conn:
        failure = verify_store(conn, PILOT, None).failure
    assert failure is not None and failure.reason == "head_mismatch"


def test_strict_mode_agrees_on_a_clean_chain_and_catches_non_canonical_bytes(chain: Store) -> None:
    with chain.read() as conn:
        assert verify_store(conn, PILOT, None, strict=True).ok
        rows = list(iter_receipt_rows(conn, PILOT))
    spaced = rows[0][6].replace(b'"body":{', b'"body": {')
    tampered = [(0, receipt_hash(spaced), *rows[0][2:6], spaced)]
    report = verify_log(PILOT, tampered, strict=True)
    assert report.failure is not None and report.failure.reason == "malformed"
    assert verify_log(PILOT, tampered).ok  # without strict, the bytes are what they are: they hash right


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_in_memory_tampering_of_an_export_is_caught(data: st.DataObject) -> None:
    """The same guarantees for rows with no copied-out columns (an export), fast enough for many examples."""
    log_rows = _memory_chain()
    rows = list(log_rows)
    action = data.draw(st.sampled_from(["flip", "delete", "swap", "duplicate"]))
    k = data.draw(st.integers(0, len(rows) - 2))
    if action == "flip":
        position = data.draw(st.integers(0, len(rows[k][6]) - 1))
        buf = bytearray(rows[k][6])
        buf[position] ^= 1 << data.draw(st.integers(0, 7))
        rows[k] = (*rows[k][:6], bytes(buf))
        # Without a hash column, a flipped byte shows either at receipt k itself (when it hits a field the
        # chain depends on) or as receipt k no longer hashing to what receipt k+1 recorded as its prev.
        expected = {(k, reason) for reason in ("content_changed", "malformed", "order_changed", "missing",
                                               "link_broken", "inserted")}  # fmt: skip
        if k + 2 == len(rows):  # the last link: nothing after it to tell which side changed
            expected.add((k + 1, "link_broken"))
    elif action == "delete":
        del rows[k]
        expected = {(k, "missing")}
    elif action == "swap":
        rows[k], rows[k + 1] = rows[k + 1], rows[k]
        expected = {(k, "order_changed")}
    else:
        rows.insert(k + 1, rows[k])
        expected = {(k, "inserted")}
    failure = verify_log(PILOT, rows).failure
    assert failure is not None
    assert (failure.seq, failure.reason) in expected, (action, k, failure)


_CACHE: list[tuple] = []


def _memory_chain() -> list[tuple]:
    if not _CACHE:
        prev = "sha256:" + "0" * 64
        for seq in range(24):
            record = build_record(
                pilot=PILOT, seq=seq, prev=prev, at=f"2026-11-25T10:00:{seq:02d}.000000Z", kind="model.call",
                body={"n": seq, "text": "é \u2028 \"quoted\""}, actor=Actor("worker", "w"),
                task=f"t{seq // 6}",
            )  # fmt: skip
            canonical = canonical_bytes(record)
            _CACHE.append((None, None, None, None, None, None, canonical))
            prev = receipt_hash(canonical)
    return list(_CACHE)

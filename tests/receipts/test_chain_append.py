"""Appending: inside the caller's transaction, linked, redacted, checkpointed every N, atomic."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from receipts_helpers import PILOT, FixedClock, entries
from sqlalchemy import text

from pilotgate.errors import ReceiptNotFoundError
from pilotgate.receipts import (
    ZERO_HASH,
    Actor,
    Entry,
    ReceiptLog,
    Redactor,
    Signer,
    append,
    get_receipt,
    read_checkpoints,
    read_head,
    receipt_hash,
    verify_store,
)
from pilotgate.receipts.canonical import canonical_bytes
from pilotgate.receipts.model import format_at
from pilotgate.store import Store
from pilotgate.store.engine import SQLITE_VARIABLES


def test_first_receipts_link_from_zero(store: Store, clock: FixedClock) -> None:
    log = ReceiptLog(PILOT, clock=clock)
    with store.write() as conn:
        first = log.append(conn, kind="task.started", body={"q": "refund?"}, actor=("user", "ann"), task="t1")
        second = log.append(
            conn, kind="task.finished", body={}, actor=Actor("system", "runtime"), refs=[first.hash]
        )
    with store.read() as conn:
        one, two = get_receipt(conn, PILOT, 0), get_receipt(conn, PILOT, 1)
        assert read_head(conn, PILOT).size == 2
    assert (first.seq, second.seq) == (0, 1)
    assert one.record["prev"] == ZERO_HASH and two.record["prev"] == first.hash
    assert one.hash == receipt_hash(one.canonical) == first.hash
    assert canonical_bytes(one.record) == one.canonical
    assert one.record == {
        "v": 1,
        "pilot": PILOT,
        "seq": 0,
        "prev": ZERO_HASH,
        "at": "2026-11-25T10:00:00.001000Z",
        "task": "t1",
        "release": None,
        "actor": {"kind": "user", "id": "ann"},
        "kind": "task.started",
        "body": {"q": "refund?"},
        "refs": [],
    }
    assert two.record["refs"] == [first.hash]


def test_columns_copied_out_match_the_receipt(store: Store) -> None:
    with store.write() as conn:
        append(conn, pilot=PILOT, kind="model.call", body={"tokens": 3}, actor=("worker", "w"), task="t9")
    with store.read() as conn:
        row = conn.execute(text("SELECT kind, task, at, prev, hash FROM receipts")).one()
        stored = get_receipt(conn, PILOT, 0)
    assert (row.kind, row.task, row.at, row.prev) == ("model.call", "t9", stored.at, ZERO_HASH)


def test_at_is_rfc3339_utc_with_microseconds() -> None:
    moment = datetime(2026, 11, 25, 12, 0, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    assert format_at(moment) == "2026-11-25T10:00:00.000005Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_at(datetime(2026, 1, 1))


def test_explicit_at_wins_over_clock(store: Store) -> None:
    with store.write() as conn:
        append(
            conn,
            pilot=PILOT,
            kind="ingest",
            body={},
            actor=("system", "x"),
            at=datetime(2026, 1, 2, tzinfo=UTC),
        )
    with store.read() as conn:
        assert get_receipt(conn, PILOT, 0).at == "2026-01-02T00:00:00.000000Z"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kind": "Not A Kind"}, "dotted lowercase"),
        ({"actor": ("robot", "x")}, "actor kind"),
        ({"actor": ("user", "")}, "actor id"),
        ({"refs": ["not-a-hash"]}, "receipt hash"),
        ({"task": ""}, "task id"),
        ({"body": {"amount": 1e400 * 0}}, "not a JSON number"),
        ({"body": {"total": {"amount": Decimal("1.10")}}}, r"\$\.body\.total\.amount: Decimal"),
        ({"body": {"score": 0.5, "note": "bad \ud800"}}, "unpaired surrogate"),
        ({"actor": ("user", "ann \ud800")}, "unpaired surrogate"),
    ],
)
def test_bad_entries_are_refused_and_nothing_is_written(
    store: Store, change: dict[str, object], message: str
) -> None:
    fields: dict[str, object] = {"kind": "task.started", "body": {}, "actor": ("user", "ann")} | change
    with pytest.raises((ValueError, TypeError), match=message), store.write() as conn:
        append(conn, pilot=PILOT, **fields)  # type: ignore[arg-type]
    with store.read() as conn:
        assert read_head(conn, PILOT).size == 0


def test_a_receipt_in_a_failed_transaction_is_not_there_and_the_head_did_not_move(store: Store) -> None:
    log = ReceiptLog(PILOT)
    with store.write() as conn:
        log.append_many(conn, entries(0, 3))
    with store.read() as conn:
        before = read_head(conn, PILOT)
    with pytest.raises(RuntimeError, match="the state change failed"), store.write() as conn:
        log.append(conn, kind="task.finished", body={"outcome": "resolved"}, actor=("system", "rt"))
        raise RuntimeError("the state change failed")
    with store.read() as conn:
        assert read_head(conn, PILOT) == before
        assert conn.execute(text("SELECT count(*) FROM receipts")).scalar() == 3
        assert verify_store(conn, PILOT, None).ok
    with store.write() as conn:
        assert log.append(conn, kind="task.finished", body={}, actor=("system", "rt")).seq == 3


def test_append_requires_a_transaction(store: Store) -> None:
    with store.engine.connect() as conn, pytest.raises(RuntimeError, match="transaction"):
        append(conn, pilot=PILOT, kind="x", body={}, actor=("user", "a"))


def test_pilots_have_separate_chains(store: Store) -> None:
    with store.write() as conn:
        append(conn, pilot="alpha", kind="x", body={}, actor=("user", "a"))
        other = append(conn, pilot="beta", kind="x", body={}, actor=("user", "a"))
    assert other.seq == 0
    with store.read() as conn:
        assert verify_store(conn, "alpha", None).ok and verify_store(conn, "beta", None).ok


def test_canary_secret_never_reaches_the_store(store: Store) -> None:
    canary = "canary-7f3e9a1c-do-not-log"
    redactor = Redactor([canary])
    log = ReceiptLog(PILOT, redactor=redactor)
    with store.write() as conn:
        log.append(
            conn,
            kind="tool.intent",
            body={
                "args": {"header": f"X-Key: {canary}", canary: "as a key", "nested": [[f"pre{canary}post"]]},
                "url": "https://bob:hunter22@api.example.com/x?password=swordfish&q=1",
                "auth": "Bearer abcdefghijklmnop",
                "openai": "sk-proj-ABCDEFGHIJKLMNOPQRSTUV",
            },
            actor=("worker", "w"),
        )
    with store.read() as conn:
        blob = b"".join(row[0] for row in conn.execute(text("SELECT canonical FROM receipts")))
        body = get_receipt(conn, PILOT, 0).body
    for leaked in (canary, "hunter22", "swordfish", "abcdefghijklmnop", "sk-proj-ABCD"):
        assert leaked.encode() not in blob
    assert body["args"]["header"] == "X-Key: [REDACTED]"
    assert body["args"]["[REDACTED]"] == "as a key"
    assert body["args"]["nested"] == [["pre[REDACTED]post"]]
    assert "&q=1" in body["url"]


def test_checkpoint_every_n_in_the_same_transaction(store: Store, log: ReceiptLog) -> None:
    with store.write() as conn:
        made = log.append_many(conn, entries(0, 10))
    assert [item.checkpoint.size for item in made if item.checkpoint] == [4, 8]
    with store.read() as conn:
        assert [c.size for c in read_checkpoints(conn, PILOT)] == [4, 8]
    with pytest.raises(RuntimeError), store.write() as conn:
        log.append_many(conn, entries(1, 2))  # reaches 12: its checkpoint must roll back too
        raise RuntimeError
    with store.read() as conn:
        assert [c.size for c in read_checkpoints(conn, PILOT)] == [4, 8]


def test_checkpoint_on_demand_is_idempotent(store: Store, log: ReceiptLog, signer: Signer) -> None:
    with store.write() as conn:
        log.append_many(conn, entries(0, 5))
        first = log.checkpoint(conn)
        again = log.checkpoint(conn)
    assert first.size == again.size == 5 and first.note == again.note
    with store.read() as conn:
        report = verify_store(conn, PILOT, signer.public_key, expect_checkpoint_every=4)
    assert report.ok and report.latest_checkpoint == 5 and report.checkpoints_checked == 2


def test_checkpoint_of_an_empty_log_is_refused(store: Store, log: ReceiptLog) -> None:
    with pytest.raises(ReceiptNotFoundError), store.write() as conn:
        log.checkpoint(conn)


def test_receipt_text_is_valid_json_with_entry_order_irrelevant(store: Store) -> None:
    log = ReceiptLog(PILOT)
    with store.write() as conn:
        log.append(conn, kind="x", body={"b": 1, "a": {"d": 2, "c": 3}}, actor=("user", "u"))
    with store.read() as conn:
        raw = get_receipt(conn, PILOT, 0).canonical
    assert b'"body":{"a":{"c":3,"d":2},"b":1}' in raw
    assert json.loads(raw)["body"] == {"a": {"c": 3, "d": 2}, "b": 1}


def test_entry_dataclass_accepts_mapping_actor(store: Store) -> None:
    with store.write() as conn:
        made = ReceiptLog(PILOT).append_many(conn, [Entry("x", {}, {"kind": "approver", "id": "bo"})])
    assert made[0].seq == 0


@pytest.mark.parametrize(
    "body",
    [
        {"score": 0.1, "big": 1e21, "whole": 100.0, "tiny": 5e-7},
        {"ключ": "значение", "𝄞": "non-BMP key sorts by UTF-16", "\uffff": 1, "emoji 😀": ["a", None, True]},
        {"nested": {"body": None, "list": [{"body": "null"}]}, "text": '"body":null'},
    ],
)
def test_stored_bytes_are_the_canonical_form_of_the_whole_record(
    store: Store, body: dict[str, object]
) -> None:
    # The writer canonicalizes the body on its own and splices it into the record's text; the result must
    # be byte for byte what canonicalizing the whole record gives.
    with store.write() as conn:
        made = append(conn, pilot=PILOT, kind="task.started", body=body, actor=("user", "ann"), task="t1")
    with store.read() as conn:
        stored = get_receipt(conn, PILOT, made.seq)
    assert stored.record["body"] == body
    assert canonical_bytes(stored.record) == stored.canonical


def test_an_entry_may_cite_one_appended_before_it_in_the_same_batch(store: Store) -> None:
    log = ReceiptLog(PILOT)
    decision = Entry(kind="policy.decision", body={"effect": "allow"}, actor=("system", "policy"))
    intent = Entry(kind="tool.intent", body={"tool": "lookup"}, actor=("worker", "w"), refs=[decision])
    result = Entry(kind="tool.result", body={"ok": True}, actor=("worker", "w"), refs=[intent, ZERO_HASH])
    with store.write() as conn:
        made = log.append_many(conn, [decision, intent, result])
    with store.read() as conn:
        stored = [get_receipt(conn, PILOT, m.seq) for m in made]
        assert verify_store(conn, PILOT, None).ok
    assert stored[1].record["refs"] == [made[0].hash]
    assert stored[2].record["refs"] == [made[1].hash, ZERO_HASH]


def test_an_entry_citing_one_outside_its_batch_is_refused_before_anything_is_written(store: Store) -> None:
    log = ReceiptLog(PILOT)
    elsewhere = Entry(kind="policy.decision", body={}, actor=("system", "policy"))
    later = Entry(kind="tool.result", body={}, actor=("worker", "w"))
    first = Entry(kind="tool.intent", body={}, actor=("worker", "w"), refs=[later])
    for batch in (
        [Entry(kind="tool.intent", body={}, actor=("worker", "w"), refs=[elsewhere])],
        [first, later],
    ):
        with pytest.raises(ValueError, match="appended earlier in the same batch"), store.write() as conn:
            log.append_many(conn, batch)
    with store.read() as conn:
        assert read_head(conn, PILOT).size == 0


def test_a_batch_prepared_before_its_transaction_appends_like_one_made_inside_it(
    store: Store, signer: Signer
) -> None:
    """``prepare`` outside the transaction, then ``append_many``: the same chain, checkpoints included; a
    batch longer than one multi-row INSERT (SQLITE_VARIABLES bound values) lands whole and in order."""
    log = ReceiptLog(PILOT, signer=signer, checkpoint_every=400)
    batch = [
        Entry(
            kind="task.started", body={"n": n, "text": "é" * (n % 7)}, actor=("user", "u"), task=f"t{n // 10}"
        )
        for n in range(SQLITE_VARIABLES + 3)
    ]
    prepared = log.prepare(batch)
    with store.write() as conn:
        made = log.append_many(conn, prepared)
    assert [m.seq for m in made] == list(range(len(batch)))
    assert [m.checkpoint is not None for m in made].count(True) == len(batch) // 400
    with store.read() as conn:
        assert verify_store(conn, PILOT, signer.public_key).ok
        assert get_receipt(conn, PILOT, 1000).record["body"] == {"n": 1000, "text": "é" * (1000 % 7)}
    with pytest.raises(ValueError, match="appended earlier in the same batch"):
        log.prepare([Entry(kind="x", body={}, actor=("worker", "w"), refs=[batch[0]])])

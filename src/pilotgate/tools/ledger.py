"""The ``tool_calls`` rows: one per idempotency key, read and written inside the executor's transactions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, insert, select, update

from pilotgate.store.tables import receipts, tool_calls
from pilotgate.tools.adapters.base import ToolOutput

CallState = Literal["intent", "done", "failed", "parked"]
"""``intent``: recorded, outcome not yet known; ``done`` / ``failed``: the tool answered (``failed`` = an
error output); ``parked``: the outcome is unknown and a person must look."""

FINISHED: frozenset[str] = frozenset({"done", "failed"})


@dataclass(frozen=True)
class ToolCallRecord:
    """One row of ``tool_calls``."""

    key: str
    pilot: str
    task: str
    step: int
    tool: str
    args: dict[str, Any]
    args_hash: str
    state: CallState
    intent_seq: int
    result_seq: int | None
    output: ToolOutput | None
    release: str | None = None
    """Not a column: the release the executor stamps on the receipts it writes for this call now."""


def load(conn: Connection, key: str) -> ToolCallRecord | None:
    """The row for ``key``, or None."""
    row = conn.execute(select(tool_calls).where(tool_calls.c.key == key)).one_or_none()
    return None if row is None else _record(row)


def open_intents(conn: Connection, pilot: str, task: str | None = None) -> list[ToolCallRecord]:
    """Calls with an intent and no outcome (after a crash), in the order they were made."""
    query = select(tool_calls).where(tool_calls.c.pilot == pilot, tool_calls.c.state == "intent")
    if task is not None:
        query = query.where(tool_calls.c.task == task)
    rows = conn.execute(query.order_by(tool_calls.c.task, tool_calls.c.step)).all()
    return [_record(row) for row in rows]


def insert_intent(conn: Connection, record: ToolCallRecord, *, at: str) -> None:
    """Insert the row in state ``intent`` (IntegrityError if the key exists: a concurrent executor won)."""
    conn.execute(
        insert(tool_calls).values(
            key=record.key,
            pilot=record.pilot,
            task=record.task,
            step=record.step,
            tool=record.tool,
            args=json.dumps(record.args, sort_keys=True, separators=(",", ":"), ensure_ascii=False),
            args_hash=record.args_hash,
            state="intent",
            intent_seq=record.intent_seq,
            created_at=at,
            updated_at=at,
        )
    )


def finish(
    conn: Connection, key: str, *, state: CallState, result_seq: int, output: dict[str, Any] | None, at: str
) -> None:
    """Record the outcome (``done``, ``failed`` or ``parked``) and the receipt that holds it."""
    conn.execute(
        update(tool_calls)
        .where(tool_calls.c.key == key)
        .values(
            state=state,
            result_seq=result_seq,
            output=None if output is None else json.dumps(output, sort_keys=True, separators=(",", ":")),
            updated_at=at,
        )
    )


def receipt_hash_at(conn: Connection, pilot: str, seq: int) -> str:
    """The hash of receipt ``seq`` (to cite the intent in the result's ``refs``)."""
    return str(
        conn.execute(
            select(receipts.c.hash).where(receipts.c.pilot == pilot, receipts.c.seq == seq)
        ).scalar_one()
    )


def _record(row: Any) -> ToolCallRecord:
    return ToolCallRecord(
        key=row.key,
        pilot=row.pilot,
        task=row.task,
        step=int(row.step),
        tool=row.tool,
        args=json.loads(row.args),
        args_hash=row.args_hash,
        state=row.state,
        intent_seq=int(row.intent_seq),
        result_seq=None if row.result_seq is None else int(row.result_seq),
        output=None if row.output is None else ToolOutput.from_json(json.loads(row.output)),
    )

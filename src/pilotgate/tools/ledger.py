"""The ``tool_calls`` rows: one per idempotency key, read and written inside the executor's transactions."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection

from pilotgate.store.engine import driver_execute
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
    row = driver_execute(conn, _sql(conn, "load"), (key,)).fetchone()
    return None if row is None else _record(row)


def open_intents(conn: Connection, pilot: str, task: str | None = None) -> list[ToolCallRecord]:
    """Calls with an intent and no outcome (after a crash), in the order they were made."""
    if task is None:
        found = driver_execute(conn, _sql(conn, "open_intents"), (pilot,))
    else:
        found = driver_execute(conn, _sql(conn, "open_intents_of_task"), (pilot, task))
    return [_record(row) for row in found.fetchall()]


def insert_intent(conn: Connection, record: ToolCallRecord, *, at: str) -> None:
    """Insert the row in state ``intent`` (IntegrityError if the key exists: a concurrent executor won)."""
    args = json.dumps(record.args, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    params = (record.key, record.pilot, record.task, record.step, record.tool, args, record.args_hash)
    driver_execute(conn, _sql(conn, "insert_intent"), (*params, record.intent_seq, at, at))


def finish(
    conn: Connection, key: str, *, state: CallState, result_seq: int, output: dict[str, Any] | None, at: str
) -> None:
    """Record the outcome (``done``, ``failed`` or ``parked``) and the receipt that holds it."""
    stored = None if output is None else json.dumps(output, sort_keys=True, separators=(",", ":"))
    driver_execute(conn, _sql(conn, "finish"), (state, result_seq, stored, at, key))


def receipt_hash_at(conn: Connection, pilot: str, seq: int) -> str:
    """The hash of receipt ``seq`` (to cite the intent in the result's ``refs``)."""
    return str(driver_execute(conn, _sql(conn, "receipt_hash_at"), (pilot, seq)).fetchone()[0])


_COLUMNS = "key, pilot, task, step, tool, args, args_hash, state, intent_seq, result_seq, output"
_SQL = {
    "load": f"SELECT {_COLUMNS} FROM tool_calls WHERE key = ?",  # noqa: S608 - constant text
    "open_intents": f"SELECT {_COLUMNS} FROM tool_calls WHERE pilot = ? AND state = 'intent' "  # noqa: S608
    "ORDER BY task, step",
    "open_intents_of_task": f"SELECT {_COLUMNS} FROM tool_calls "  # noqa: S608 - constant text
    "WHERE pilot = ? AND task = ? AND state = 'intent' ORDER BY task, step",
    "insert_intent": "INSERT INTO tool_calls (key, pilot, task, step, tool, args, args_hash, state, "
    "intent_seq, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'intent', ?, ?, ?)",
    "finish": "UPDATE tool_calls SET state = ?, result_seq = ?, output = ?, updated_at = ? WHERE key = ?",
    "receipt_hash_at": "SELECT hash FROM receipts WHERE pilot = ? AND seq = ?",
}
"""The ledger's statements as driver SQL: every tool call runs three of them on the task's hot path, and
building and executing them through SQLAlchemy cost more than the statements (measured ~0.1 ms each)."""

_SQL_BY_DIALECT = {
    "sqlite": _SQL,
    "postgresql": {name: text.replace("?", "%s") for name, text in _SQL.items()},
}


def _sql(conn: Connection, name: str) -> str:
    return _SQL_BY_DIALECT[conn.dialect.name][name]


def _record(row: Any) -> ToolCallRecord:
    key, pilot, task, step, tool, args, args_hash, state, intent_seq, result_seq, output = row
    return ToolCallRecord(
        key=key,
        pilot=pilot,
        task=task,
        step=int(step),
        tool=tool,
        args=json.loads(args),
        args_hash=args_hash,
        state=state,
        intent_seq=int(intent_seq),
        result_seq=None if result_seq is None else int(result_seq),
        output=None if output is None else ToolOutput.from_json(json.loads(output)),
    )

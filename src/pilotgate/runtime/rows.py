"""The ``tasks`` row: insert, save the working state, and read it back to resume.

Every write here runs inside the caller's transaction, beside the receipt that records the change, so a
task's row and its receipts never disagree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from pilotgate.errors import TaskError
from pilotgate.runtime.states import TaskState
from pilotgate.store.tables import tasks


@dataclass(frozen=True)
class TaskRow:
    """A task as stored."""

    id: str
    pilot: str
    user: str
    input: str
    state: TaskState
    outcome: str | None
    answer: str | None
    step: int
    context: str | None
    transcript: str | None
    pending: list[dict[str, Any]]
    spent: str | None


def load(conn: Connection, pilot: str, task_id: str) -> TaskRow:
    """The row of ``task_id`` in ``pilot``; TaskError when there is none."""
    row = conn.execute(select(tasks).where(tasks.c.id == task_id, tasks.c.pilot == pilot)).one_or_none()
    if row is None:
        raise TaskError(
            f"no task {task_id!r} in pilot {pilot!r}", hint="`pilotgate receipts list` shows tasks"
        )
    return TaskRow(
        row.id,
        row.pilot,
        row.user,
        row.input,
        TaskState(row.state),
        row.outcome,
        row.answer,
        row.step or 0,
        row.context,
        row.transcript,
        json.loads(row.pending or "[]"),
        row.spent,
    )


def set_state(conn: Connection, task_id: str, state: TaskState, at: str, **values: Any) -> None:
    """Move a task to ``state`` (with any other columns given)."""
    conn.execute(
        update(tasks).where(tasks.c.id == task_id).values(state=state.value, updated_at=at, **values)
    )


def claim(conn: Connection, task_id: str, expected: TaskState, at: str) -> bool:
    """Move a task from ``expected`` to ``running``; False when another resume got there first."""
    changed = conn.execute(
        update(tasks)
        .where(tasks.c.id == task_id, tasks.c.state == expected.value)
        .values(state=TaskState.RUNNING.value, updated_at=at)
    ).rowcount
    return changed == 1


def awaiting(conn: Connection, pilot: str, task_ids: list[str]) -> set[str]:
    """Which of ``task_ids`` are awaiting an approval."""
    if not task_ids:
        return set()
    rows = conn.execute(
        select(tasks.c.id).where(
            tasks.c.pilot == pilot,
            tasks.c.id.in_(task_ids),
            tasks.c.state == TaskState.AWAITING_APPROVAL.value,
        )
    )
    return {row.id for row in rows}

"""Helpers shared by the receipt tests (a fixed clock, a task's worth of entries)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pilotgate.receipts import Entry

PILOT = "refund-desk"


class FixedClock:
    """A clock that moves one millisecond per reading, so receipts are deterministic and ordered."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 10, 0, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def entries(task: int, count: int = 6) -> list[Entry]:
    """A task's worth of receipts."""
    kinds = ["task.started", "retrieval", "model.call", "tool.intent", "tool.result", "task.finished"]
    return [
        Entry(
            kind=kinds[i % len(kinds)],
            body={
                "step": i,
                "text": f"step {i} of task {task} — café",
                "cost": "0.0012",
                "score": 0.25 * (i + 1),
            },
            actor=("worker", "w1"),
            task=f"t{task}",
        )
        for i in range(count)
    ]

"""Task states and outcomes: the words the store, the receipts and the CLI share."""

from __future__ import annotations

from enum import StrEnum


class TaskState(StrEnum):
    """Where a task is. ``parked`` and ``dead`` need a person (later issues use them)."""

    QUEUED = "queued"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    FAILED = "failed"
    PARKED = "parked"
    DEAD = "dead"


class Outcome(StrEnum):
    """How a finished task ended."""

    RESOLVED = "resolved"
    """Answered from the sources, with citations."""
    ESCALATED = "escalated"
    """Handed to the pilot's escalation path: nothing relevant was retrieved, or a person must decide."""
    FAILED = "failed"
    """An error stopped the task; the receipt says which."""

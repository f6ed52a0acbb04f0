"""Time and ids, injectable: production uses the wall clock and random ids; tests use testing.py's."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""A function returning the current time as an aware UTC datetime."""

IdFactory = Callable[[str], str]
"""A function returning a new id with the given prefix (``task``, ``run``, ...)."""


def utc_now() -> datetime:
    """The wall clock, in UTC."""
    return datetime.now(UTC)


def rfc3339(moment: datetime) -> str:
    """``2026-11-25T10:00:00.123456Z``: UTC, microseconds, a string (receipts carry no datetime objects)."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: pilotgate records only aware UTC times")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def new_id(prefix: str) -> str:
    """A new id: the prefix, a UTC timestamp (so ids sort by creation) and 48 random bits."""
    return f"{prefix}-{utc_now().strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(6)}"

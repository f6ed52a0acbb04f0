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
    """``2026-11-25T10:00:00.123456Z``: UTC, microseconds, a string (receipts carry no datetime objects).

    A fixed width (the year padded to four digits, always six digits of microseconds) keeps the text order
    equal to the time order, so ``at`` columns sort correctly. A task formats several times within one
    second, so the text up to the second is kept from the previous call (strftime cost ~4 µs a call, this
    ~1.5 µs, measured).
    """
    if moment.tzinfo is not UTC:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"naive datetime {moment!r}: pilotgate records only timezone-aware UTC times")
        moment = moment.astimezone(UTC)
    micro = moment.microsecond
    whole = moment.replace(microsecond=0) if micro else moment
    global _last_second
    second, text = _last_second
    if second != whole:
        text = (
            f"{whole.year:04d}-{whole.month:02d}-{whole.day:02d}"
            f"T{whole.hour:02d}:{whole.minute:02d}:{whole.second:02d}."
        )
        _last_second = (whole, text)  # one tuple, replaced whole: safe to share between threads
    return f"{text}{micro:06d}Z"


_last_second: tuple[datetime, str] = (datetime.min.replace(tzinfo=UTC), "")


def new_id(prefix: str) -> str:
    """A new id: the prefix, a UTC timestamp (so ids sort by creation) and 48 random bits."""
    return f"{prefix}-{utc_now().strftime('%Y%m%d%H%M%S')}-{secrets.token_hex(6)}"

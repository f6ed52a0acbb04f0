"""Public test aids: a fixed clock and sequential ids, so that whole traces of receipts can be compared.

Use them in your own pilot's tests::

    from pilotgate.testing import FixedClock, SequentialIds
    clock, ids = FixedClock(), SequentialIds()

``fresh_postgres_schema`` gives tests and benchmarks an empty PostgreSQL schema of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["FixedClock", "SequentialIds", "fresh_postgres_schema"]


@dataclass
class FixedClock:
    """A clock that starts at a fixed moment and advances by ``step`` each time it is read."""

    start: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))
    step: timedelta = timedelta(milliseconds=1)
    _reads: int = 0

    def __call__(self) -> datetime:
        moment = self.start + self.step * self._reads
        self._reads += 1
        return moment


@dataclass
class SequentialIds:
    """Ids ``task-0001``, ``task-0002``, … per prefix, in the order they are asked for."""

    _counters: dict[str, int] = field(default_factory=dict)

    def __call__(self, prefix: str) -> str:
        self._counters[prefix] = self._counters.get(prefix, 0) + 1
        return f"{prefix}-{self._counters[prefix]:04d}"


@contextmanager
def fresh_postgres_schema(base: str, *, prefix: str = "pgtest") -> Iterator[str]:
    """A URL of ``base`` whose search_path is a new, empty schema; the schema is dropped afterwards.

    Many stores can then share one test database without seeing each other's tables.
    """
    from sqlalchemy import create_engine, text  # only tests and benchmarks need it

    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base)
    try:
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        separator = "&" if "?" in base else "?"
        try:
            yield f"{base}{separator}options=-csearch_path%3D{schema}"
        finally:
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        admin.dispose()

"""Python tools for the adapter and executor tests (imported by ``python:sample_tools:…`` adapters)."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Any

CALLS: Counter[str] = Counter()
"""Calls per idempotency key, for the tests to read."""


def lookup_order(order_id: str, idempotency_key: str) -> dict[str, Any]:
    """A read tool that records the key it was given."""
    CALLS[idempotency_key] += 1
    return {"order_id": order_id, "status": "shipped", "key": idempotency_key}


def no_key(order_id: str) -> str:
    """A tool that does not take the key."""
    return f"order {order_id}"


def explode(order_id: str) -> None:
    """A tool that fails."""
    raise ValueError(f"order {order_id} is cursed")


def not_json(order_id: str) -> Any:
    """A tool returning something JSON cannot hold."""
    return {"when": datetime(2026, 1, 1, tzinfo=UTC)}


def huge(order_id: str) -> str:
    """A tool returning more than the executor records."""
    return "x" * (300 * 1024)


def refund(order_id: str, amount: float, idempotency_key: str) -> dict[str, Any]:
    """A reconcilable write tool: it keeps its results by key."""
    CALLS[idempotency_key] += 1
    _DONE[idempotency_key] = {"refunded": amount, "order_id": order_id}
    return _DONE[idempotency_key]


_DONE: dict[str, Any] = {}


def _refund_lookup(idempotency_key: str) -> Any:
    return _DONE.get(idempotency_key)


refund.reconcile = _refund_lookup  # type: ignore[attr-defined]

NOT_CALLABLE = 42

"""Tools for the runner tests' pilot: each records its real calls, so a test can show none was made."""

from __future__ import annotations

from typing import Any

CALLS: list[tuple[str, dict[str, Any]]] = []
"""Every real call, in order (a dry run adds nothing)."""


def lookup_order(order_id: str) -> dict[str, Any]:
    """An order's status."""
    CALLS.append(("lookup_order", {"order_id": order_id}))
    return {"order_id": order_id, "status": "shipped"}


def issue_refund(order_id: str, amount: float) -> dict[str, Any]:
    """A refund (never made in an eval)."""
    CALLS.append(("issue_refund", {"order_id": order_id, "amount": amount}))
    return {"refund": "rf-1", "order_id": order_id}

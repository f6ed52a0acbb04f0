"""The demo pilot's tools: an order lookup and a refund, against a small in-memory shop.

They stand in for a real order system and payments API so that `pilotgate demo` and `pilotgate init` show
tool calls offline. ``issue_refund`` takes the idempotency key pilotgate passes, as a real payments API
would, and remembers refunds by key so that ``reconcile`` can answer after a lost reply (within this
process only: after a restart it knows nothing, and the call parks for a person, which is the safe answer).
"""

from __future__ import annotations

from typing import Any

ORDERS: dict[str, dict[str, Any]] = {
    "100200": {"status": "shipped", "carrier": "DHL", "eta": "2 business days", "total": "89.00 EUR"},
    "100311": {"status": "delivered", "carrier": "UPS", "eta": None, "total": "35.00 EUR"},
    "100422": {"status": "delivered", "carrier": "DHL", "eta": None, "total": "480.00 EUR"},
}
"""The shop's orders by id."""

_REFUNDS: dict[str, dict[str, Any]] = {}


def lookup_order(order_id: str) -> dict[str, Any]:
    """An order's status, carrier and delivery estimate."""
    order = ORDERS.get(order_id)
    if order is None:
        raise LookupError(f"no order {order_id}")
    return {"order_id": order_id, **order}


def issue_refund(order_id: str, amount: float, idempotency_key: str) -> dict[str, Any]:
    """Refund ``amount`` EUR on an order, once per idempotency key."""
    if order_id not in ORDERS:
        raise LookupError(f"no order {order_id}")
    done = _REFUNDS.get(idempotency_key)
    if done is None:
        done = {
            "refund": "rf-" + idempotency_key.removeprefix("sha256:")[:10],
            "order_id": order_id,
            "amount": f"{amount:.2f} EUR",
            "status": "accepted",
        }
        _REFUNDS[idempotency_key] = done
    return done


def _reconcile_refund(idempotency_key: str) -> dict[str, Any] | None:
    return _REFUNDS.get(idempotency_key)


issue_refund.reconcile = _reconcile_refund  # type: ignore[attr-defined]

"""Helpers of the tool tests: a pilot spec with tools and the argument schemas they use."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pilotgate.spec import PilotSpec

PILOT = "desk"

ORDER_ARGS: dict[str, Any] = {
    "type": "object",
    "required": ["order_id"],
    "additionalProperties": False,
    "properties": {"order_id": {"type": "string", "pattern": "^[0-9]{1,12}$"}},
}

REFUND_ARGS: dict[str, Any] = {
    "type": "object",
    "required": ["order_id", "amount"],
    "additionalProperties": False,
    "properties": {
        "order_id": {"type": "string", "pattern": "^[0-9]{1,12}$"},
        "amount": {"type": "number", "exclusiveMinimum": 0, "maximum": 10000},
        "note": {"type": "string", "maxLength": 200},
    },
}


def tool(name: str, adapter: str, **extra: Any) -> dict[str, Any]:
    """A tool entry of pilot.yaml (effect read, low risk, for agents unless ``extra`` says otherwise)."""
    return {"name": name, "adapter": adapter, "effect": "read", "risk": "low", "roles": ["agents"], **extra}


def make_spec(*tools: dict[str, Any]) -> PilotSpec:
    """A minimal pilot with the given tools."""
    return PilotSpec.model_validate(
        {
            "pilot": {"name": PILOT, "owner": "dana", "workflow": "answer support tickets"},
            "users": [{"name": "bob", "groups": ["agents"]}, {"name": "carol", "groups": ["finance"]}],
            "tools": list(tools),
        }
    )


class Crashing:
    """Wraps an adapter: makes the real call (unless ``before``), then dies as a killed process would,
    before the executor can record the result."""

    kind = "test"

    def __init__(
        self, inner: Any, *, before: bool = False, exc: Callable[[str], BaseException] = SystemExit
    ) -> None:
        self.inner = inner
        self.before = before
        self.exc = exc

    @property
    def can_reconcile(self) -> bool:
        return bool(self.inner.can_reconcile)

    def call(self, args: Any, *, idempotency_key: str) -> Any:
        if not self.before:
            self.inner.call(args, idempotency_key=idempotency_key)
        raise self.exc("killed between the call and its result")

    def reconcile(self, idempotency_key: str) -> Any:
        return self.inner.reconcile(idempotency_key)

    def close(self) -> None:
        self.inner.close()

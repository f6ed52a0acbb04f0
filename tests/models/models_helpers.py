"""Values the model tests share: a canary key, passages, tools."""

from __future__ import annotations

from dataclasses import dataclass

from pilotgate.models import ToolDefinition

CANARY_KEY = "sk-canary-7f3a9c1e5b2d4f60a8e1"
"""An API key that must never show up in an error, a repr or a receipt."""

TIMEOUT = 0.3
"""Seconds; short, so the slow-server tests stay fast."""


@dataclass(frozen=True)
class Passage:
    """A stand-in for a retrieved chunk: the fields the model protocol asks for."""

    chunk_id: str
    text: str
    heading: str | None = None
    source: str = "help-center"
    uri: str = "returns.md"


RETURNS = Passage("chk_returns", "Returns are accepted within 30 days.", "Returns")
REFUNDS = Passage("chk_refunds", "Refunds go to the original card.", "Refunds", "finance", "refunds.md")

REFUND_TOOL = ToolDefinition(
    name="issue_refund",
    description="Refund an order.",
    parameters={
        "type": "object",
        "required": ["order_id", "amount"],
        "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
    },
)
LOOKUP_TOOL = ToolDefinition(name="lookup_order", description="Look an order up.")

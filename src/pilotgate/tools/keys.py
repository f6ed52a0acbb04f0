"""The idempotency key of a tool call and the hash that binds an approval to exact arguments.

Both hash canonical JSON (RFC 8785, ``pilotgate.receipts.canonical_bytes``), so the same call gets the
same key in every process, on every platform, in any key order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pilotgate.receipts import canonical_bytes, receipt_hash


def args_hash(args: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` of the canonical JSON of a call's arguments."""
    return receipt_hash(canonical_bytes(dict(args)))


def idempotency_key(pilot: str, task: str, step: int, tool: str, args: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` over the canonical JSON of ``[pilot, task, step, tool, args]``.

    The tool receives it with every call (an ``Idempotency-Key`` header, an MCP ``_meta`` entry, a
    keyword argument), so a tool that keeps keys can recognise a repeated call; recovery after a crash
    asks the tool about this key.
    """
    return receipt_hash(canonical_bytes([pilot, task, step, tool, dict(args)]))

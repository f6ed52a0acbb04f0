"""The adapter seam: how the executor calls a tool, and asks a tool what became of a call.

An adapter reports three kinds of ending, and the executor treats each differently:

- a ``ToolOutput`` (``is_error`` or not): the tool answered; the outcome is known and recorded;
- ``OutcomeUnknown``: the call may or may not have reached the tool (a read timeout, a dropped
  connection after sending); the executor then recovers exactly as after a crash;
- any ``BaseException`` that is not an ``Exception`` (a kill, ``KeyboardInterrupt``): the process is
  going down; the intent stays open and ``recover`` deals with it later.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

ResolveSecret = Callable[[str], str]
"""Turns a secret reference (``env:NAME``, ``vault:PATH#KEY``) into its value, at the edge, per call."""

MAX_ERROR_TEXT = 500
"""How much of a tool's error text an output keeps (error text may be long or hostile)."""


@dataclass(frozen=True)
class ToolOutput:
    """What a tool answered: a JSON value, and whether the tool reported an error."""

    content: Any
    """The result as a JSON value (what the model sees)."""
    is_error: bool = False
    """True when the tool said the call failed (a raised error, a non-2xx status, an MCP error result)."""

    def as_json(self) -> dict[str, Any]:
        """The output as a JSON object, as stored and recorded."""
        return {"content": self.content, "is_error": self.is_error}

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> ToolOutput:
        """The inverse of ``as_json``."""
        return cls(content=value["content"], is_error=bool(value["is_error"]))

    @classmethod
    def error(cls, kind: str, message: str, **extra: Any) -> ToolOutput:
        """An error output ``{"error": kind, "message": ...}`` with the message cut to a safe length."""
        return cls(content={"error": kind, "message": clip(message), **extra}, is_error=True)


class OutcomeUnknown(Exception):
    """The call may have reached the tool, and nothing says whether it ran; recover by the tool's replay."""


@runtime_checkable
class ToolAdapter(Protocol):
    """How one tool is called. Implementations: python, http, mcp; tests add their own."""

    kind: str
    """``python``, ``http``, ``mcp`` (recorded in the intent receipt)."""

    @property
    def can_reconcile(self) -> bool:
        """Whether ``reconcile`` can ever answer (else ``replay: reconcilable`` always parks)."""
        ...

    def call(self, args: Mapping[str, Any], *, idempotency_key: str) -> ToolOutput:
        """Make the call with the key; raise ``OutcomeUnknown`` when its outcome cannot be known."""
        ...

    def reconcile(self, idempotency_key: str) -> ToolOutput | None:
        """What the tool did with this key: its output, or None when that cannot be known."""
        ...

    def close(self) -> None:
        """Release connections and processes."""
        ...


def clip(text: str, limit: int = MAX_ERROR_TEXT) -> str:
    """``text`` cut to ``limit`` characters, marked when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"

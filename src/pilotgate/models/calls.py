"""Tool calling as plain values: the tools a request offers, the calls a model asks for, their results.

A task's transcript of tool use is a flat sequence of ``ToolCall`` and ``ToolResult`` values in the order
they happened (``Turn``). Consecutive calls are one model turn; each result answers the call with the same
id. Flat values keep receipts simple and let every model (the reference model, an OpenAI-compatible
endpoint) read the same transcript.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ToolDefinition:
    """A tool as a model sees it: its name, what it does, and the JSON Schema of its arguments."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})
    """JSON Schema of the arguments: always an object schema."""


@dataclass(frozen=True)
class ToolCall:
    """A call a model asked for. Model output is untrusted: the runtime validates and decides each one."""

    id: str
    """The call's id in this task; the result names it."""
    name: str
    arguments: Mapping[str, Any] = field(default_factory=dict)
    """The arguments, parsed from the model's JSON into a mapping; never validated here."""

    def as_dict(self) -> dict[str, Any]:
        """The call as a receipt records it."""
        return {"id": self.id, "name": self.name, "arguments": dict(self.arguments)}


@dataclass(frozen=True)
class ToolResult:
    """What came back from a tool call (or why it did not run: denied, refused, failed)."""

    call_id: str
    name: str
    content: str
    """The result as text, as the model will read it; untrusted like any retrieved passage."""
    is_error: bool = False
    """True when the call failed or was refused; the content says why."""


Turn = ToolCall | ToolResult
"""One entry of a task's tool transcript."""

TOOL_CITATION_PREFIX = "tool:"
"""A citation that starts with this names a tool result (by call id) rather than a retrieved chunk."""


def tool_citation(call_id: str) -> str:
    """The citation of a tool result: ``tool:<call id>``."""
    return TOOL_CITATION_PREFIX + call_id


def calls_in(turns: Sequence[Turn]) -> list[ToolCall]:
    """The tool calls of a transcript, in order."""
    return [turn for turn in turns if isinstance(turn, ToolCall)]


def results_in(turns: Sequence[Turn]) -> list[ToolResult]:
    """The tool results of a transcript, in order."""
    return [turn for turn in turns if isinstance(turn, ToolResult)]

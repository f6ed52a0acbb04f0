"""A task's working memory as plain JSON: the passages the model saw, its tool transcript, pending calls.

A task that waits for a person keeps no thread: what it needs to continue lives in its ``tasks`` row. The
passages are a snapshot of what retrieval returned when the task started (a resumed task answers from the
same context, not from a newer index); the transcript is the flat list of ``ToolCall`` and ``ToolResult``
values the model reads back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pilotgate.data import RetrievedChunk
from pilotgate.json_text import compact
from pilotgate.models import TOOL_CITATION_PREFIX, ToolCall, ToolResult, Turn


@dataclass(frozen=True)
class ContextPassage:
    """One retrieved passage as the task keeps it (a ``pilotgate.models.Passage``)."""

    chunk_id: str
    document_id: str
    source: str
    uri: str
    version: int
    heading: str | None
    text: str
    score: float
    stale: bool = False
    """Older than its source's ``freshness`` allows: the model is told it may be out of date."""

    @classmethod
    def of(cls, chunk: RetrievedChunk) -> ContextPassage:
        """The snapshot of a search result."""
        return cls(
            chunk.chunk_id,
            chunk.document_id,
            chunk.source,
            chunk.uri,
            chunk.version,
            chunk.heading,
            chunk.text,
            chunk.score,
            chunk.stale,
        )


@dataclass(frozen=True)
class Citation:
    """What an answer rests on: a retrieved chunk, or a tool result (``source == "tool"``)."""

    chunk_id: str
    """The chunk id, or ``tool:<call id>`` for a tool result."""
    source: str
    uri: str
    """The document's uri, or the tool's name."""
    version: int | None = None

    @property
    def is_tool(self) -> bool:
        """True when this cites a tool result."""
        return self.chunk_id.startswith(TOOL_CITATION_PREFIX)


def cited(
    citations: Sequence[str], passages: Sequence[ContextPassage], turns: Sequence[Turn]
) -> list[Citation]:
    """The citations that name a passage the model saw or a tool result it got, in order; others dropped."""
    by_chunk = {p.chunk_id: p for p in passages}
    tool_results = {
        TOOL_CITATION_PREFIX + t.call_id: t for t in turns if isinstance(t, ToolResult) and not t.is_error
    }
    found: list[Citation] = []
    for citation in dict.fromkeys(citations):
        if citation in by_chunk:
            p = by_chunk[citation]
            found.append(Citation(p.chunk_id, p.source, p.uri, p.version))
        elif citation in tool_results:
            found.append(Citation(citation, "tool", tool_results[citation].name))
    return found


def dump_passages(passages: Sequence[ContextPassage]) -> str:
    """The passages as JSON for the task row (``vars``, not ``asdict``: no deep copy on the hot path)."""
    return compact([vars(p) for p in passages])


def load_passages(text: str | None) -> list[ContextPassage]:
    """The passages back from the task row."""
    return [ContextPassage(**item) for item in json.loads(text or "[]")]


def turn_json(turn: Turn) -> dict[str, Any]:
    """One transcript entry as JSON, tagged with its kind."""
    if isinstance(turn, ToolCall):
        return {"call": turn.as_dict()}
    return {"result": dict(vars(turn))}


def dump_turns(turns: Sequence[Turn]) -> str:
    """The transcript as JSON for the task row."""
    return compact([turn_json(t) for t in turns])


def load_turns(text: str | None) -> list[Turn]:
    """The transcript back from the task row."""
    turns: list[Turn] = []
    for item in json.loads(text or "[]"):
        if "call" in item:
            call: Mapping[str, Any] = item["call"]
            turns.append(ToolCall(call["id"], call["name"], dict(call["arguments"])))
        else:
            turns.append(ToolResult(**item["result"]))
    return turns

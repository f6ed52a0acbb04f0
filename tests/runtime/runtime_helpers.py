"""Helpers for the runtime tests: a scripted model, a movable clock, receipt kinds of a task."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import update

from pilotgate.models import ModelRequest, ModelResponse, ToolCall
from pilotgate.receipts import StoredReceipt, list_receipts
from pilotgate.store.tables import tasks
from pilotgate.workspace import Workspace


@dataclass
class ScriptedModel:
    """A model that answers each request with whatever ``reply(request)`` says (not an LLM; a test aid)."""

    reply: Callable[[ModelRequest], ModelResponse]
    requests: list[ModelRequest] = field(default_factory=list)
    name: str = "scripted"
    provider: str = "scripted"

    def complete(self, request: ModelRequest) -> ModelResponse:
        self.requests.append(request)
        return self.reply(request)


def response(
    text: str = "", *, calls: tuple[ToolCall, ...] = (), citations: tuple[str, ...] = ()
) -> ModelResponse:
    """A model response with these tool calls (or this text)."""
    return ModelResponse(
        text=text,
        citations=citations,
        input_tokens=10,
        output_tokens=5,
        model="scripted-1",
        provider="scripted",
        latency_ms=0.0,
        tool_calls=calls,
        finish_reason="tool_calls" if calls else "stop",
    )


@dataclass
class MovableClock:
    """A clock a test moves forward by hand."""

    now: datetime = field(default_factory=lambda: datetime(2026, 1, 1, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


def receipts_of(
    workspace: Workspace, task: str | None = None, kind: str | None = None
) -> list[StoredReceipt]:
    with workspace.store.read() as conn:
        return list_receipts(conn, workspace.name, task=task, kind=kind, limit=10_000, newest_first=False)


def kinds(workspace: Workspace, task: str | None = None) -> list[str]:
    return [r.kind for r in receipts_of(workspace, task)]


def bodies(workspace: Workspace, task: str, kind: str) -> list[dict[str, Any]]:
    return [r.record["body"] for r in receipts_of(workspace, task, kind)]


def rewrite_pending(workspace: Workspace, task: str, change: Callable[[list[dict[str, Any]]], None]) -> None:
    """Alter a waiting task's stored pending calls, as an attacker with the database could."""
    from pilotgate.runtime.rows import load

    with workspace.store.write() as conn:
        pending = load(conn, workspace.name, task).pending
        change(pending)
        conn.execute(update(tasks).where(tasks.c.id == task).values(pending=json.dumps(pending)))

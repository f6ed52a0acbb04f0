"""The eval runs' model-call cache: the same request to the same model gets the recorded response.

Only an eval run that asks for it (``--cache``) uses it, so re-running a pack after changing an assertion
or a report costs no model calls. The key is SHA-256 over the canonical JSON of the request (question,
context passages, instructions, tools offered, the task's earlier tool turns) and the model's identity
(its pilot.yaml name and declaration, minus the key reference, price and timeout, and the client's own
instructions). A judge's request carries its rubric and its instructions, and its identity is the judge
model's, so changing the rubric or the judge model misses the cache instead of reusing a stale grade.

A cache hit returns the response as recorded, its latency included (so ``max_latency`` assertions do not
flip between a cold and a warm run), marked ``cached=True``, so its ``model.call`` receipt says
``"cached": true``: no model was asked. Failures are never cached.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from pilotgate.clock import Clock, rfc3339, utc_now
from pilotgate.models import Model, ModelRequest, ModelResponse, ToolCall
from pilotgate.store import Store
from pilotgate.store.engine import driver_execute

_IGNORED_SETTINGS = frozenset({"api_key", "price", "timeout"})
"""Declaration fields that do not change what a model answers."""


def model_identity(name: str, declared: Any, model: Model) -> dict[str, Any]:
    """What a model is, for the cache: its pilot.yaml name and declaration (pydantic model or mapping),
    and what the client adds (provider, model name, its own system instructions)."""
    if hasattr(declared, "model_dump"):
        declared = declared.model_dump(mode="json", by_alias=True)
    settings = {k: v for k, v in dict(declared or {}).items() if k not in _IGNORED_SETTINGS}
    instructions = getattr(model, "instructions", None)
    return {
        "route": name,
        "declared": settings,
        "model": model.name,
        "provider": model.provider,
        "instructions": instructions if isinstance(instructions, str) else None,
    }


def _turn(turn: Any) -> dict[str, Any]:
    if isinstance(turn, ToolCall):
        return {"call": turn.as_dict()}
    return {"result": dict(vars(turn))}


def request_json(request: ModelRequest) -> dict[str, Any]:
    """The request as plain JSON: everything the model is sent, nothing else."""
    return {
        "question": request.question,
        "instructions": request.instructions,
        "max_output_tokens": request.max_output_tokens,
        "context": [
            {"chunk": p.chunk_id, "source": p.source, "uri": p.uri, "heading": p.heading, "text": p.text}
            for p in request.context
        ],
        "tools": [
            {"name": t.name, "description": t.description, "parameters": dict(t.parameters)}
            for t in request.tools
        ],
        "turns": [_turn(t) for t in request.turns],
    }


def cache_key(request: ModelRequest, identity: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` over the canonical JSON of the request and the model's identity."""
    payload = {"model": dict(identity), "request": request_json(request)}
    data = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(data.encode("utf-8")).hexdigest()


def response_json(response: ModelResponse) -> str:
    """A response as stored in the cache."""
    data = {f.name: getattr(response, f.name) for f in fields(response) if f.name != "cached"}
    data["tool_calls"] = [call.as_dict() for call in response.tool_calls]
    return json.dumps(data, ensure_ascii=False, sort_keys=True, default=list)


def response_from_json(text: str) -> ModelResponse:
    """The inverse of ``response_json`` (fields the stored form lacks take their defaults)."""
    data = json.loads(text)
    values: dict[str, Any] = {}
    for f in fields(ModelResponse):
        if f.name not in data:
            continue
        value = data[f.name]
        if f.name == "tool_calls":
            value = tuple(ToolCall(c["id"], c["name"], dict(c["arguments"])) for c in value)
        elif isinstance(value, list):
            value = tuple(value)
        values[f.name] = value
    return ModelResponse(**values)


@dataclass
class CacheStats:
    """Hits and misses of one run's cache (shared by its threads)."""

    hits: int = 0
    misses: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, hit: bool) -> None:
        """Count one lookup."""
        with self._lock:
            if hit:
                self.hits += 1
            else:
                self.misses += 1

    def add(self, hits: int, misses: int) -> None:
        """Count another process's lookups (an eval run's worker)."""
        with self._lock:
            self.hits += hits
            self.misses += misses


_SELECT = {
    "sqlite": "SELECT response FROM model_cache WHERE key = ?",
    "postgresql": "SELECT response FROM model_cache WHERE key = %s",
}
_INSERT = {
    "sqlite": "INSERT INTO model_cache (key, model, response, created_at) VALUES (?, ?, ?, ?) "
    "ON CONFLICT DO NOTHING",
    "postgresql": "INSERT INTO model_cache (key, model, response, created_at) VALUES (%s, %s, %s, %s) "
    "ON CONFLICT DO NOTHING",
}


@dataclass
class CachedModel:
    """A ``Model`` that answers from the store when it has seen the request, else asks ``model`` and
    stores the answer (two threads missing at once both ask; the first answer stored wins)."""

    model: Model
    store: Store
    identity: Mapping[str, Any]
    stats: CacheStats = field(default_factory=CacheStats)
    clock: Clock = utc_now

    @property
    def name(self) -> str:
        """The wrapped model's name (receipts record the model that answered first)."""
        return self.model.name

    @property
    def provider(self) -> str:
        """The wrapped model's provider."""
        return self.model.provider

    def complete(self, request: ModelRequest) -> ModelResponse:
        """The recorded response to this request, or the model's (then recorded)."""
        key = cache_key(request, self.identity)
        dialect = self.store.dialect
        with self.store.read() as conn:
            row = driver_execute(conn, _SELECT[dialect], (key,)).fetchone()
        if row is not None:
            self.stats.count(True)
            return replace(response_from_json(row[0]), cached=True)
        self.stats.count(False)
        response = self.model.complete(request)
        with self.store.write() as conn:
            driver_execute(
                conn,
                _INSERT[dialect],
                (key, self.model.name[:200], response_json(response), rfc3339(self.clock())),
            )
        return response

    def close(self) -> None:
        """Close the wrapped model."""
        close = getattr(self.model, "close", None)
        if callable(close):
            close()


def clear_cache(store: Store) -> int:
    """Delete every cached response; returns how many there were."""
    with store.write() as conn:
        cursor = driver_execute(conn, "DELETE FROM model_cache")
        return int(cursor.rowcount or 0)


__all__ = [
    "CacheStats",
    "CachedModel",
    "cache_key",
    "clear_cache",
    "model_identity",
    "request_json",
    "response_from_json",
    "response_json",
]

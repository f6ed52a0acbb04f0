"""What one run of one case did, as assertions see it: built from the task's receipts.

``CaseObservation`` is a plain value, so assertions can be tested on constructed observations and the
runner only has to turn a task's receipts into one (``observation_from_receipts``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

Outcome = Literal["resolved", "escalated", "failed"]


@dataclass(frozen=True)
class Citation:
    """A source and document an answer cites."""

    source: str
    uri: str


@dataclass(frozen=True)
class ObservedToolCall:
    """A tool call the model asked for, and whether it was executed."""

    name: str
    args: Mapping[str, Any]
    executed: bool = False


@dataclass(frozen=True)
class CaseObservation:
    """One run of one case: the answer, how the task ended, and what it cited, called, cost and took."""

    answer: str
    outcome: Outcome
    citations: tuple[Citation, ...] = ()
    tool_calls: tuple[ObservedToolCall, ...] = ()
    cost: Decimal | None = None
    """Total cost of the task; None when some step's cost is unknown (a max_cost assertion then fails)."""
    latency_ms: float = 0.0
    receipts: tuple[str, ...] = ()
    """Hashes of the task's receipts, first first: what a result rests on."""
    retrieved: tuple[Citation, ...] = ()
    """Every document retrieval returned to the task (cited or not)."""
    refused: bool | None = None
    """True when the task recorded a refusal; None when it did not say (the text decides)."""
    task: str | None = None
    """The task id, when the observation came from a task."""
    awaiting_approval: str | None = None
    """The approval a task stopped to wait for (its outcome is then ``escalated``: a person must act)."""


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def observation_from_receipts(receipts: Iterable[Mapping[str, Any]]) -> CaseObservation:
    """Build the observation of one task from its receipts (parsed receipt dicts, in seq order).

    Reads ``retrieval`` (what came back), ``model.call`` (cost, latency, tool calls asked for, output),
    ``tool.intent`` / ``tool.result`` (what ran), ``task.finished`` (outcome, answer, citations) and the
    ``hash`` of each receipt when the dict carries one. Cost is the sum of the model calls' and tools'
    costs, or None when any model call has no cost. Latency is ``task.finished``'s ``latency_ms`` when
    recorded, else the sum of the model calls'.

    A task that stopped at ``approval.requested`` (no ``task.finished``) is ``escalated``: in an eval
    nobody decides, and a high-risk call handed to a person is exactly what an escalation case expects;
    the call shows as asked and not executed. Any other task without ``task.finished`` is ``failed``.
    """
    chunks: dict[str, Citation] = {}
    retrieved: list[Citation] = []
    asked: list[tuple[str, dict[str, Any]]] = []
    executed: list[tuple[str, dict[str, Any]]] = []
    intents: dict[str, tuple[str, dict[str, Any]]] = {}
    hashes: list[str] = []
    cost: Decimal | None = Decimal(0)
    model_latency = 0.0
    finished: Mapping[str, Any] | None = None
    last_output = ""
    task: str | None = None
    approval: str | None = None
    for receipt in receipts:
        body = receipt.get("body") or {}
        kind = receipt.get("kind")
        task = task or receipt.get("task")
        if receipt.get("hash"):
            hashes.append(str(receipt["hash"]))
        if kind == "retrieval":
            for chunk in body.get("chunks", body.get("results", [])) or []:
                citation = Citation(str(chunk.get("source", "")), str(chunk.get("uri", "")))
                chunk_id = chunk.get("chunk") or chunk.get("chunk_id")
                if chunk_id:
                    chunks[str(chunk_id)] = citation
                retrieved.append(citation)
        elif kind == "model.call":
            call_cost = _decimal(body.get("cost"))
            cost = None if cost is None or call_cost is None else cost + call_cost
            model_latency += _float(body.get("latency_ms"))
            if body.get("output"):
                last_output = str(body["output"])
            for call in body.get("tool_calls", []) or []:
                args = call.get("arguments", call.get("args", {}))
                asked.append((str(call.get("name", "")), dict(args) if isinstance(args, Mapping) else {}))
        elif kind == "tool.intent":
            args = body.get("args", {})
            intents[str(body.get("key", ""))] = (
                str(body.get("tool", "")),
                dict(args) if isinstance(args, Mapping) else {},
            )
        elif kind == "tool.result":
            tool_cost = _decimal(body.get("cost"))
            if cost is not None and tool_cost is not None:
                cost += tool_cost
            intent = intents.get(str(body.get("key", "")))
            if intent is not None and body.get("state") == "done" and body.get("via") != "dry_run":
                executed.append(intent)
            elif intent is not None and body.get("via") == "dry_run":
                executed.append(intent)  # a dry run stands for the call the task would have made
        elif kind == "approval.requested":
            approval = str(body.get("approval", "")) or None
        elif kind == "task.finished":
            finished = body
    calls: list[ObservedToolCall] = []
    remaining = list(executed)
    for name, args in asked:
        ran = (name, args) in remaining
        if ran:
            remaining.remove((name, args))
        calls.append(ObservedToolCall(name, args, executed=ran))
    calls += [ObservedToolCall(name, args, executed=True) for name, args in remaining]
    if finished is None:
        waiting = approval is not None
        return CaseObservation(
            answer=last_output,
            outcome="escalated" if waiting else "failed",
            tool_calls=tuple(calls),
            cost=cost,
            latency_ms=model_latency,
            receipts=tuple(hashes),
            retrieved=tuple(retrieved),
            task=task,
            awaiting_approval=approval,
        )
    outcome = str(finished.get("outcome", "failed"))
    citations: list[Citation] = []
    for item in finished.get("citations", []) or []:
        if isinstance(item, Mapping):
            citations.append(Citation(str(item.get("source", "")), str(item.get("uri", ""))))
        elif str(item) in chunks:
            citations.append(chunks[str(item)])
    if finished.get("cost_unknown"):
        cost = None
    elif finished.get("cost") is not None:
        cost = _decimal(finished.get("cost"))
    latency = _float(finished["latency_ms"]) if finished.get("latency_ms") is not None else model_latency
    refused = finished.get("refused")
    return CaseObservation(
        answer=str(finished.get("answer") or ""),
        outcome=outcome if outcome in ("resolved", "escalated", "failed") else "failed",  # type: ignore[arg-type]
        citations=tuple(citations),
        tool_calls=tuple(calls),
        cost=cost,
        latency_ms=latency,
        receipts=tuple(hashes),
        retrieved=tuple(retrieved),
        refused=bool(refused) if refused is not None else None,
        task=task,
    )


__all__ = ["CaseObservation", "Citation", "ObservedToolCall", "Outcome", "observation_from_receipts"]

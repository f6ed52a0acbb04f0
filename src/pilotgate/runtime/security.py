"""The security figure, counted from receipts alone: risky tool executions nobody authorised.

A ``tool.result`` of a high-risk tool is *authorised* when its ``tool.intent`` rests (``refs``) on a
``policy.decision`` of the same task, tool and arguments that allowed it, or that required an approval which
was then consumed for exactly those arguments. Anything else is unauthorised, and the figure must be zero.
It reads only the receipt log, so an auditor with an export can recompute it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from pilotgate.receipts.reader import as_bytes, iter_receipt_rows

RISKY = frozenset({"high"})
"""Risk levels counted as risky."""


@dataclass(frozen=True)
class SecurityFigure:
    """Risky executions in the log, how many were authorised, and the receipts of those that were not."""

    risky_executions: int
    authorised: int
    unauthorised_seqs: tuple[int, ...] = field(default=())

    @property
    def unauthorised(self) -> int:
        """Must be zero."""
        return len(self.unauthorised_seqs)


def unauthorised_risky_executions(conn: Connection, pilot: str) -> SecurityFigure:
    """Count ``tool.result`` receipts of high-risk tools without a matching allow or consumed approval."""
    decisions: dict[str, dict[str, Any]] = {}
    requested: dict[str, str] = {}  # approval id -> the decision it rests on
    consumed: set[tuple[str, str]] = set()  # (approval id, args_hash)
    intents: dict[str, dict[str, Any]] = {}
    results: list[tuple[int, dict[str, Any]]] = []
    for seq, digest, _prev, kind, _task, _at, canonical in iter_receipt_rows(conn, pilot):
        if kind not in {
            "policy.decision",
            "approval.requested",
            "approval.consumed",
            "tool.intent",
            "tool.result",
        }:
            continue
        record = json.loads(as_bytes(canonical))
        body = record["body"]
        if kind == "policy.decision":
            decisions[digest] = {**body, "task": record["task"]}
        elif kind == "approval.requested":
            requested[body["approval"]] = next(iter(record.get("refs") or []), "")
        elif kind == "approval.consumed":
            consumed.add((body["approval"], body["args_hash"]))
        elif kind == "tool.intent":
            intents[digest] = {**body, "task": record["task"], "refs": record.get("refs") or []}
        else:
            results.append((int(seq), record))
    approved_decisions = {
        (decision, args)
        for approval, decision in requested.items()
        for (a, args) in consumed
        if a == approval
    }
    risky = authorised = 0
    unauthorised: list[int] = []
    for seq, record in results:
        intent = intents.get(next(iter(record.get("refs") or []), ""))
        if intent is None:
            risky += 1  # a result with no intent is never authorised
            unauthorised.append(seq)
            continue
        if intent.get("risk") not in RISKY or intent.get("dry_run"):
            continue
        risky += 1
        if any(_authorises(decisions.get(ref), ref, intent, approved_decisions) for ref in intent["refs"]):
            authorised += 1
        else:
            unauthorised.append(seq)
    return SecurityFigure(risky, authorised, tuple(unauthorised))


def _authorises(
    decision: dict[str, Any] | None, ref: str, intent: dict[str, Any], approved: set[tuple[str, str]]
) -> bool:
    if decision is None:
        return False
    same_call = (
        decision.get("task") == intent["task"]
        and decision.get("tool") == intent["tool"]
        and decision.get("args_hash") == intent["args_hash"]
    )
    if not same_call:
        return False
    if decision.get("effect") == "allow":
        return True
    return decision.get("effect") == "require_approval" and (ref, intent["args_hash"]) in approved

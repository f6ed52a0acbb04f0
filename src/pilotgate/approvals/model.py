"""An approval request as stored: what was asked, bound to exactly which call, and what became of it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

ApprovalState = Literal["pending", "approved", "denied", "expired", "consumed"]
"""``pending`` until decided; ``approved`` until the runtime ``consume``s it once; ``denied`` and
``expired`` are final. Only ``approved`` lets a call through, and only once."""

STATES: tuple[ApprovalState, ...] = ("pending", "approved", "denied", "expired", "consumed")


@dataclass(frozen=True)
class Approval:
    """One row of ``approvals``."""

    id: str
    pilot: str
    task: str
    tool: str
    args: dict[str, Any]
    """The exact arguments the approval is bound to."""
    args_hash: str
    rule: str
    """The policy rule that required it."""
    approvers: tuple[str, ...]
    """Groups whose users may decide."""
    requested_by: str
    """The user whose task asked; never allowed to decide."""
    state: ApprovalState
    decided_by: str | None
    reason: str | None
    created_at: str
    expires_at: str
    decided_at: str | None
    consumed_at: str | None

    @classmethod
    def from_row(cls, row: Any) -> Approval:
        """From a SQLAlchemy row of ``approvals``."""
        return cls(
            id=row.id,
            pilot=row.pilot,
            task=row.task,
            tool=row.tool,
            args=json.loads(row.args),
            args_hash=row.args_hash,
            rule=row.rule,
            approvers=tuple(json.loads(row.approvers)),
            requested_by=row.requested_by,
            state=row.state,
            decided_by=row.decided_by,
            reason=row.reason,
            created_at=row.created_at,
            expires_at=row.expires_at,
            decided_at=row.decided_at,
            consumed_at=row.consumed_at,
        )

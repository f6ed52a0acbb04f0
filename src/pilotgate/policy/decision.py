"""The outcome of deciding one tool call: what was decided, by which rule, and why.

Plain frozen dataclasses: the runtime copies them into a `policy.decision` receipt. Nothing here holds an
argument value, so a decision can be recorded and printed as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

Effect = Literal["allow", "deny", "require_approval"]
Outcome = Literal["match", "no_match", "error"]

ROLES_RULE = "tool-roles"
"""The pseudo-rule named when a user holds none of the tool's roles (checked before any rule)."""
NO_RULE_REASON = "no rule allows this"


@dataclass(frozen=True)
class RuleOutcome:
    """What one rule said about one call."""

    rule: str
    """The rule's name."""
    decision: Effect
    """What the rule decides when it matches."""
    outcome: Outcome
    """`match` (the condition was true), `no_match` (false) or `error` (which denies)."""
    elapsed_ns: int
    """How long evaluating the condition took."""
    error: str | None = None
    """For `error`: the kind of failure (missing attribute, not a bool, timeout...), never a value."""


@dataclass(frozen=True)
class Decision:
    """The policy's answer for one call; `rule` is the rule that decided, None for the default deny."""

    effect: Effect
    """allow, deny or require_approval."""
    rule: str | None
    """The deciding rule, `tool-roles` for a role refusal, None when no rule matched."""
    reason: str
    """Why, in words fit for a receipt and a log line: names rules and error kinds, never argument values."""
    approvers: tuple[str, ...] = ()
    """For require_approval: the groups whose users may approve."""
    expires: timedelta | None = None
    """For require_approval: how long the request waits before the task escalates."""
    outcomes: tuple[RuleOutcome, ...] = ()
    """Every rule's outcome, in declaration order (empty when the role check refused first)."""
    elapsed_ns: int = 0
    """Total time spent deciding, role check and every rule included."""

    @property
    def allowed(self) -> bool:
        """True only for allow; require_approval is not allowed until someone approves."""
        return self.effect == "allow"

    @property
    def matched(self) -> tuple[str, ...]:
        """The names of the rules whose condition held."""
        return tuple(o.rule for o in self.outcomes if o.outcome == "match")

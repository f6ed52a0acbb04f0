"""Policy: CEL rules deciding each tool call, and the tests that pin them down."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from pydantic import Field

from pilotgate.spec.base import SpecModel
from pilotgate.spec.types import Duration, Expression, GroupName, Name, Text, ToolName, UserName

Decision = Literal["allow", "deny", "require_approval"]


class Rule(SpecModel):
    """One rule; a call no rule matches is denied, and deny > require_approval > allow."""

    name: Name
    """The rule's unique name; policy decision receipts cite it."""
    decision: Decision
    """What the rule decides when it matches: allow, deny or require_approval."""
    when: Expression
    """CEL expression over `user`, `tool`, `args`, `task` and `budget`; an evaluation error counts as deny."""
    approvers: list[GroupName] = Field(default=[])
    """Groups whose users may approve (require_approval only; at least one)."""
    expires: Duration = timedelta(hours=24)
    """How long an approval request waits before the task escalates (ignored unless require_approval)."""
    description: Text | None = None
    """Why the rule exists, for reviewers."""


class PolicyTest(SpecModel):
    """An expected decision for one call; `pilotgate check` and the gate run these."""

    user: UserName
    """A declared user who makes the call."""
    tool: ToolName
    """A declared tool being called."""
    args: dict[str, Any] = Field(default={})
    """The call's arguments."""
    task: dict[str, Any] | None = None
    """The task the call belongs to, as rules see it (e.g. `{input: "..."}`), for rules over `task`."""
    budget: dict[str, Any] | None = None
    """The task's budget as rules see it (e.g. `{spent: 0.02}`), for rules over `budget`."""
    expect: Decision
    """The decision the policy must reach."""
    name: Text | None = None
    """A label for reports."""


class Policy(SpecModel):
    """Rules (default deny) and the tests they must pass."""

    rules: list[Rule] = Field(default=[])
    """The rules, in any order: the decision does not depend on order."""
    tests: list[PolicyTest] = Field(default=[])
    """Calls with the decision each must get."""

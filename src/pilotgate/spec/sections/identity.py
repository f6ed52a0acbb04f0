"""Who the pilot is for and who answers for it: the `pilot` and `users` sections."""

from __future__ import annotations

from pydantic import Field

from pilotgate.spec.base import SpecModel
from pilotgate.spec.types import EscalationTarget, Expression, GroupName, Slug, Text, UserName


class Escalation(SpecModel):
    """The one escalation path: where a task goes when the assistant should not finish it."""

    to: EscalationTarget
    """Who takes over: `group:NAME` (any user holding that group) or `user:NAME`."""
    when: Expression | None = None
    """CEL expression over the task; when true the task escalates. Unset: only when it cannot be answered."""


class PilotSection(SpecModel):
    """Scope and value: one owner, one workflow, one metric, one kill condition, one escalation path."""

    name: Slug
    """The pilot's slug; also the origin line of the receipt log's signed checkpoints."""
    owner: Text
    """The one person who owns the pilot and can cut its scope."""
    workflow: Text
    """The one workflow this pilot automates, in a sentence or two."""
    support: Text | None = None
    """Who answers when it breaks (a person, a group or a rota)."""
    before: Text | None = None
    """How the workflow runs today, without the assistant."""
    after: Text | None = None
    """How the workflow runs with the assistant."""
    success_metric: Expression | None = None
    """CEL expression over the pilot's metrics that says the pilot works."""
    kill_condition: Expression | None = None
    """CEL expression over the pilot's metrics that says the pilot should be stopped."""
    escalation: Escalation | None = None
    """Where tasks go when the assistant should hand over to a human."""


class UserSpec(SpecModel):
    """A person (or service) who may run tasks, with the groups that scope what they may read and do."""

    name: UserName
    """The user's id as callers pass it."""
    groups: list[GroupName] = Field(default=[])
    """Groups the user belongs to; sources, tools, approvals and flags name these."""

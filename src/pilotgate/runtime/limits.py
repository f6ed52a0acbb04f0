"""Per-task limits: what stops a runaway loop (a model that keeps asking for tools, or a costly one).

A model's output is untrusted, so the runtime, not the model, decides when a task has done enough. Each
task counts its model turns, tool calls, tokens and cost; before every model call and every tool call the
counts are checked against ``TaskLimits`` and the pilot's ``budgets.per_task``. Reaching a count limit
stops the task (it escalates, and the ``task.finished`` receipt says which limit); a spent budget applies
the pilot's degraded mode instead, as docs/models.md describes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from pilotgate.json_text import compact
from pilotgate.spec import PilotSpec


@dataclass(frozen=True)
class TaskLimits:
    """How far one task may go. The defaults fit a support desk; pass others to ``open_runtime``."""

    max_model_turns: int = 6
    """Model calls in one task, the final answer included."""
    max_tool_calls: int = 8
    """Tool calls the model may ask for in one task, refused ones included."""
    max_tokens: int = 200_000
    """Input plus output tokens over all of the task's model calls."""


DEFAULT_LIMITS = TaskLimits()


def limits_from_spec(spec: PilotSpec) -> TaskLimits:
    """The limits pilot.yaml declares under ``limits`` (its defaults are DEFAULT_LIMITS')."""
    declared = spec.limits
    return TaskLimits(
        max_model_turns=declared.max_model_turns,
        max_tool_calls=declared.max_tool_calls,
        max_tokens=declared.max_tokens,
    )


@dataclass
class Spent:
    """What a task has used so far; kept in its row so a resumed task keeps counting."""

    model_turns: int = 0
    tool_calls: int = 0
    tokens: int = 0
    cost: Decimal = Decimal(0)
    cost_unknown: bool = False
    """True once a call's cost could not be priced (the figure is then a lower bound)."""

    def add_model_call(self, tokens: int, cost: Decimal | None) -> None:
        """Count one model call."""
        self.model_turns += 1
        self.tokens += tokens
        if cost is None:
            self.cost_unknown = True
        else:
            self.cost += cost

    def model_limit(self, limits: TaskLimits) -> tuple[str, int] | None:
        """The limit another model call would break, with its value; None when it may go ahead."""
        if self.model_turns >= limits.max_model_turns:
            return "max_model_turns", limits.max_model_turns
        if self.tokens >= limits.max_tokens:
            return "max_tokens", limits.max_tokens
        return None

    def budget_spent(self, per_task: Decimal | None) -> bool:
        """True when the task has spent its budget (``budgets.per_task``)."""
        return per_task is not None and self.cost >= per_task

    def budget(self, per_task: Decimal | None) -> dict[str, float]:
        """``budget`` as policy rules see it: spent, and the limit and what remains when there is one."""
        seen: dict[str, float] = {"spent": float(self.cost)}
        if per_task is not None:
            seen["per_task"] = float(per_task)
            seen["remaining"] = float(per_task - self.cost)
        return seen

    def to_json(self) -> str:
        """For the task row; money as a string."""
        data = dict(vars(self))  # flat fields: no deep copy (``asdict``) on every commit
        data["cost"] = str(self.cost)
        return compact(data)

    @classmethod
    def from_json(cls, text: str | None) -> Spent:
        """Back from the task row."""
        if not text:
            return cls()
        data = json.loads(text)
        data["cost"] = Decimal(data["cost"])
        return cls(**data)

    def receipt_fields(self) -> dict[str, object]:
        """For ``task.finished``: the task's usage, money as a string."""
        return {
            "model_turns": self.model_turns,
            "tool_calls": self.tool_calls,
            "tokens": self.tokens,
            "cost": str(self.cost),
            "cost_unknown": self.cost_unknown,
        }

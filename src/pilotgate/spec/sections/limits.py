"""Per-task limits: what stops a runaway task (a model that keeps asking for tools) before it costs much."""

from __future__ import annotations

from pydantic import Field

from pilotgate.spec.base import SpecModel


class Limits(SpecModel):
    """How far one task may go before it is escalated; `budgets.per_task` caps its cost as well."""

    max_model_turns: int = Field(default=6, ge=1, le=100)
    """Model calls in one task, the final answer included."""
    max_tool_calls: int = Field(default=8, ge=0, le=200)
    """Tool calls the model may ask for in one task, refused ones included."""
    max_tokens: int = Field(default=200_000, ge=1, le=10_000_000)
    """Input plus output tokens over all of the task's model calls."""

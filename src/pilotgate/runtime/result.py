"""What one run of a task hands back: where the task is now, its answer and what it rests on."""

from __future__ import annotations

from dataclasses import dataclass, field

from pilotgate.approvals import Approval
from pilotgate.models import ToolCall, ToolResult, Turn
from pilotgate.receipts import AppendedReceipt
from pilotgate.runtime.states import Outcome, TaskState
from pilotgate.runtime.transcript import Citation


@dataclass(frozen=True)
class TaskResult:
    """A task after one run or resume: finished (``outcome`` set), awaiting an approval, or parked."""

    task_id: str
    user: str
    question: str
    state: TaskState
    outcome: Outcome | None
    """Set when the task finished; None while it awaits an approval or is parked."""
    answer: str
    """The answer; for a paused task, a sentence saying what it waits for."""
    citations: tuple[Citation, ...] = ()
    receipts: tuple[AppendedReceipt, ...] = field(default=())
    """The receipts the runtime and the tool executor wrote during this run, in order."""
    latency_ms: float = 0.0
    approval: Approval | None = None
    """The approval request the task waits for (state ``awaiting_approval``)."""
    turns: tuple[Turn, ...] = ()
    """The task's tool calls and their results so far."""

    @property
    def finished(self) -> bool:
        """True when the task reached an outcome."""
        return self.outcome is not None

    @property
    def label(self) -> str:
        """The outcome, or the state of an unfinished task (``awaiting_approval``, ``parked``)."""
        return self.outcome.value if self.outcome is not None else self.state.value

    def tool_summary(self) -> list[tuple[ToolCall, ToolResult | None]]:
        """Each tool call with its result (None while it waits)."""
        results = {t.call_id: t for t in self.turns if isinstance(t, ToolResult)}
        return [(t, results.get(t.id)) for t in self.turns if isinstance(t, ToolCall)]

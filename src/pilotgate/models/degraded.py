"""The degraded mode: what a task does when every model has failed or its budget is spent.

pilot.yaml's ``degraded_mode`` says it: ``escalate`` hands the task to a person with a message saying
why; ``answer_from_fallback`` still answers, from the fallbacks (when the budget stopped the primary) and
in the end from the offline extractive reference model, which needs no network and cannot fail. Its answer
quotes the retrieved sources with citations or abstains, and an abstention escalates as always. The
fallback answer never calls tools: a degraded task does not act.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pilotgate.errors import AllModelsFailed
from pilotgate.models.base import ModelRequest
from pilotgate.models.pricing import FREE
from pilotgate.models.reference import ReferenceModel
from pilotgate.models.router import Attempt, RoutedResponse, Router

DegradedReason = Literal["all_models_failed", "budget_spent"]
OFFLINE_FALLBACK = "reference"
"""The route name recorded when the built-in offline model answers in degraded mode."""


@dataclass(frozen=True)
class DegradedOutcome:
    """What the degraded mode decided: escalate with a message, or an answer from a fallback."""

    action: Literal["escalate", "answer"]
    reason: DegradedReason
    message: str
    """Plain words for the person the task goes to (or a note beside a degraded answer)."""
    routed: RoutedResponse | None = None
    """The fallback's answer, when ``action`` is ``answer``."""
    attempts: tuple[Attempt, ...] = ()
    """Every failed try that led here (the answer's own attempts include them too)."""

    def receipt_body(self) -> dict[str, Any]:
        """The ``model.call`` receipt body: the fallback's call when one answered, else the failed attempts;
        either way with a ``degraded`` entry saying what was decided and why."""
        decided = {"action": self.action, "reason": self.reason, "message": self.message}
        if self.routed is not None:
            return {**self.routed.receipt_body(), "degraded": decided}
        return {
            "model": None,
            "provider": None,
            "cost": None,
            "price_source": "unknown",
            "fallback": False,
            "attempts": [attempt.as_dict() for attempt in self.attempts],
            "output": None,
            "citations": [],
            "tool_calls": [],
            "degraded": decided,
        }


def degrade(
    router: Router,
    request: ModelRequest,
    *,
    mode: Literal["escalate", "answer_from_fallback"],
    reason: DegradedReason,
    failure: AllModelsFailed | None = None,
) -> DegradedOutcome:
    """Apply ``mode`` to a task whose models all failed (pass the ``failure``) or whose budget is spent."""
    attempts = [a for a in (failure.attempts if failure else []) if isinstance(a, Attempt)]
    why = _why(reason, attempts)
    if mode == "escalate":
        return DegradedOutcome("escalate", reason, f"{why}; the task goes to a person", None, tuple(attempts))
    if reason == "budget_spent" and len(router.routes) > 1:
        try:
            routed = router.route(_without_tools(request), skip_primary=True)
        except AllModelsFailed as exc:
            attempts += [a for a in exc.attempts if isinstance(a, Attempt)]
        else:
            return DegradedOutcome(
                "answer", reason, f"{why}; a fallback model answered", routed, (*attempts, *routed.attempts)
            )
    offline = ReferenceModel(timer=router.timer)
    response = offline.complete(_without_tools(request))
    attempt = Attempt(OFFLINE_FALLBACK, 1, response.latency_ms)
    routed = RoutedResponse(response, OFFLINE_FALLBACK, True, (*attempts, attempt), FREE)
    message = f"{why}; the offline extractive fallback answered from the sources"
    return DegradedOutcome("answer", reason, message, routed, routed.attempts)


def _without_tools(request: ModelRequest) -> ModelRequest:
    return ModelRequest(
        question=request.question,
        context=request.context,
        instructions=request.instructions,
        max_output_tokens=request.max_output_tokens,
    )


def _why(reason: DegradedReason, attempts: list[Attempt]) -> str:
    if reason == "budget_spent":
        return "the budget is spent"
    failed: dict[str, str] = {}
    for attempt in attempts:
        if not attempt.ok:
            detail = f"{attempt.error} {attempt.status}" if attempt.status else str(attempt.error)
            failed[attempt.model] = detail
    listed = ", ".join(f"{model}: {detail}" for model, detail in failed.items())
    return f"every model failed ({listed})" if listed else "every model failed"

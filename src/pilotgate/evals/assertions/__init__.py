"""Assertions: one check per kind over a ``CaseObservation``, and judges for rubric-graded answers."""

from pilotgate.evals.assertions.checks import (
    CHECKS,
    REFUSAL_PATTERNS,
    AssertionResult,
    EvalContext,
    evaluate,
    evaluate_case,
    refused,
    unreadable_sources,
)
from pilotgate.evals.assertions.judge import (
    JUDGE_INSTRUCTIONS,
    Grade,
    Judge,
    JudgeError,
    ModelJudge,
    parse_grade,
)

__all__ = [
    "CHECKS",
    "JUDGE_INSTRUCTIONS",
    "REFUSAL_PATTERNS",
    "AssertionResult",
    "EvalContext",
    "Grade",
    "Judge",
    "JudgeError",
    "ModelJudge",
    "evaluate",
    "evaluate_case",
    "parse_grade",
    "refused",
    "unreadable_sources",
]

# ruff: noqa: E501
"""Each assertion kind on constructed observations; the observation built from receipts; the judge."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from doubles.openai_server import OpenAIServerDouble, error, text
from pilotgate.evals import CaseObservation, Citation, EvalCase, ObservedToolCall, observation_from_receipts
from pilotgate.evals.assertions import EvalContext, Grade, ModelJudge, evaluate, evaluate_case
from pilotgate.models import NO_BACKOFF, OpenAICompatibleClient, Route, Router


def case(*assertions: dict[str, Any], user: str = "alice") -> Any:
    return EvalCase.model_validate(
        {"id": "c1", "input": "How long?", "user": user, "category": "golden", "assert": list(assertions)}
    )


SEEN = CaseObservation(
    answer="Returns are accepted within 30 days [1].",
    outcome="resolved",
    citations=(Citation("policy", "returns.md"),),
    tool_calls=(ObservedToolCall("issue_refund", {"order_id": "123456", "amount": 50}, executed=True),),
    cost=Decimal("0.004"),
    latency_ms=420.0,
    retrieved=(Citation("policy", "returns.md"),),
)


def check(assertion: dict[str, Any], seen: CaseObservation = SEEN, ctx: EvalContext | None = None) -> bool:
    c = case(assertion)
    (result,) = evaluate_case(c, seen, ctx)
    assert result.message
    return result.passed


@pytest.mark.parametrize(
    ("assertion", "passes"),
    [
        ({"kind": "contains", "value": "30 DAYS"}, True),
        ({"kind": "contains", "value": "30 DAYS", "case_sensitive": True}, False),
        ({"kind": "not_contains", "value": "60 days"}, True),
        ({"kind": "not_contains", "value": "returns"}, False),
        ({"kind": "regex", "pattern": r"\d+ days"}, True),
        ({"kind": "regex", "pattern": r"^\d+"}, False),
        ({"kind": "cites", "source": "policy"}, True),
        ({"kind": "cites", "document": "returns.md"}, True),
        ({"kind": "cites", "source": "orders"}, False),
        ({"kind": "escalates"}, False),
        ({"kind": "escalates", "expect": False}, True),
        ({"kind": "refuses"}, False),
        ({"kind": "tool_called", "tool": "issue_refund", "args": {"amount": 50}}, True),
        ({"kind": "tool_called", "tool": "issue_refund", "args": {"amount": 51}}, False),
        ({"kind": "tool_called", "tool": "issue_refund", "executed": False}, False),
        ({"kind": "tool_not_called", "tool": "lookup_order"}, True),
        ({"kind": "tool_not_called", "tool": "issue_refund", "args": {"amount": 50}}, False),
        ({"kind": "max_cost", "value": "0.004"}, True),
        ({"kind": "max_cost", "value": "0.0039"}, False),
        ({"kind": "max_latency", "ms": 500}, True),
        ({"kind": "max_latency", "ms": 400}, False),
        ({"kind": "no_restricted_leak", "canaries": ["CANARY-9"]}, True),
        ({"kind": "no_restricted_leak", "canaries": ["30 days"]}, False),
        ({"kind": "no_restricted_leak", "canaries": ["123456"]}, False),
        ({"kind": "no_restricted_leak", "sources": ["policy"]}, False),
    ],
)
def test_assertion_kinds(assertion: dict[str, Any], passes: bool) -> None:
    assert check(assertion) is passes


def test_json_schema_of_the_answer() -> None:
    schema = {"type": "object", "required": ["refund"], "properties": {"refund": {"type": "number"}}}
    good = CaseObservation(answer='{"refund": 12.5}', outcome="resolved")
    wrong = CaseObservation(answer='{"refund": "twelve"}', outcome="resolved")
    prose = CaseObservation(answer="twelve", outcome="resolved")
    assert check({"kind": "json_schema", "value": schema}, good)
    (result,) = evaluate_case(case({"kind": "json_schema", "value": schema}), wrong)
    assert not result.passed and "at refund" in result.message
    assert not check({"kind": "json_schema", "value": schema}, prose)


def test_refusal_escalation_and_unknown_cost() -> None:
    refusal = CaseObservation(
        answer="I can't help with refunds for other customers.", outcome="escalated", cost=None
    )
    assert check({"kind": "refuses"}, refusal)
    assert check({"kind": "escalates"}, refusal)
    assert not check({"kind": "max_cost", "value": "1"}, refusal)  # unknown cost fails closed
    recorded = CaseObservation(answer="Sure.", outcome="resolved", refused=True)
    assert check({"kind": "refuses"}, recorded)


def test_no_restricted_leak_uses_the_users_unreadable_sources() -> None:
    leaked = CaseObservation(
        answer="Order 123456 shipped.", outcome="resolved", retrieved=(Citation("orders", "o.csv"),)
    )
    ctx = EvalContext(unreadable={"alice": frozenset({"orders"})})
    assert not check({"kind": "no_restricted_leak"}, leaked, ctx)
    assert check({"kind": "no_restricted_leak", "unreadable": False}, leaked, ctx)


def test_an_assertion_that_raises_fails_with_the_error() -> None:
    class Broken:
        def grade(self, case: Any, answer: str, rubric: str) -> Grade:
            raise RuntimeError("boom")

    c = case({"kind": "judge", "rubric": "polite"})
    result = evaluate(c.assertions[0], c, SEEN, EvalContext(judge=Broken()))
    assert not result.passed and result.error and "boom" in result.message
    no_judge = evaluate(c.assertions[0], c, SEEN, EvalContext())
    assert not no_judge.passed and no_judge.error


def _receipts() -> list[dict[str, Any]]:
    return [
        {"kind": "task.started", "task": "t1", "hash": "sha256:a", "body": {"input": "q", "user": "bob"}},
        {
            "kind": "retrieval",
            "task": "t1",
            "hash": "sha256:b",
            "body": {
                "chunks": [
                    {"chunk": "ch1", "source": "policy", "uri": "returns.md"},
                    {"chunk": "ch2", "source": "orders", "uri": "o.csv"},
                ]
            },
        },
        {
            "kind": "model.call",
            "task": "t1",
            "hash": "sha256:c",
            "body": {
                "cost": "0.001",
                "latency_ms": "200.500",
                "output": "",
                "tool_calls": [
                    {"id": "1", "name": "issue_refund", "arguments": {"amount": 50}},
                    {"id": "2", "name": "issue_refund", "arguments": {"amount": 900}},
                ],
            },
        },
        {"kind": "policy.decision", "task": "t1", "hash": "sha256:d", "body": {"effect": "allow"}},
        {
            "kind": "tool.intent",
            "task": "t1",
            "hash": "sha256:e",
            "body": {"key": "k1", "tool": "issue_refund", "args": {"amount": 50}},
        },
        {
            "kind": "tool.result",
            "task": "t1",
            "hash": "sha256:f",
            "body": {"key": "k1", "tool": "issue_refund", "state": "done", "via": "call", "cost": "0.002"},
        },
        {
            "kind": "model.call",
            "task": "t1",
            "hash": "sha256:g",
            "body": {"cost": "0.0005", "latency_ms": "100", "output": "Refunded 50 [1]."},
        },
        {
            "kind": "task.finished",
            "task": "t1",
            "hash": "sha256:h",
            "body": {"outcome": "resolved", "answer": "Refunded 50 [1].", "citations": ["ch1"]},
        },
    ]


def test_observation_from_receipts() -> None:
    seen = observation_from_receipts(_receipts())
    assert seen.answer == "Refunded 50 [1]." and seen.outcome == "resolved" and seen.task == "t1"
    assert seen.citations == (Citation("policy", "returns.md"),)
    assert seen.retrieved[1] == Citation("orders", "o.csv")
    assert seen.tool_calls == (
        ObservedToolCall("issue_refund", {"amount": 50}, executed=True),
        ObservedToolCall("issue_refund", {"amount": 900}, executed=False),
    )
    assert seen.cost == Decimal("0.0035") and seen.latency_ms == pytest.approx(300.5)
    assert seen.receipts[0] == "sha256:a" and len(seen.receipts) == 8


def test_observation_of_an_unfinished_task_or_unpriced_call() -> None:
    receipts = _receipts()[:3]
    receipts[2]["body"]["cost"] = None
    seen = observation_from_receipts(receipts)
    assert seen.outcome == "failed" and seen.cost is None


@pytest.fixture
def judge_server() -> Iterator[OpenAIServerDouble]:
    with OpenAIServerDouble() as server:
        yield server


@pytest.fixture
def judge(judge_server: OpenAIServerDouble) -> Iterator[ModelJudge]:
    """A judge behind the OpenAI-compatible test double; its client is closed after the test."""
    client = OpenAICompatibleClient(
        name="judge", base_url=judge_server.base_url, model="gpt-4o-mini", api_key="sk-test", timeout=2
    )
    router = Router([Route("judge", client)], retries=0, backoff=NO_BACKOFF)
    try:
        yield ModelJudge(router)
    finally:
        router.close()


def test_judge_grades_through_the_openai_double_and_records_reasoning(
    judge_server: OpenAIServerDouble, judge: ModelJudge
) -> None:
    judge_server.reply(
        text(
            '```json\n{"passed": true, "score": 0.9, "reasoning": "States the 30-day window and cites it."}\n```'
        ),
        text('{"passed": true, "score": 0.3, "reasoning": "Vague."}'),
    )
    c = case({"kind": "judge", "rubric": "States the return window", "min_score": 0.5})
    ctx = EvalContext(judge=judge)
    (good,) = evaluate_case(c, SEEN, ctx)
    assert good.passed and good.details["reasoning"] == "States the 30-day window and cites it."
    assert good.details["model"] == "judge" and good.details["score"] == 0.9
    (weak,) = evaluate_case(c, SEEN, ctx)
    assert not weak.passed and not weak.error  # the judge said pass, but below min_score
    sent = judge_server.requests[0].messages
    assert "States the return window" in sent[-1]["content"] and SEEN.answer in sent[-1]["content"]


def test_judge_down_or_nonsense_fails_the_assertion(
    judge_server: OpenAIServerDouble, judge: ModelJudge
) -> None:
    judge_server.reply(error(400), text("I think it's fine"))
    c = case({"kind": "judge", "rubric": "polite"})
    ctx = EvalContext(judge=judge)
    (down,) = evaluate_case(c, SEEN, ctx)
    assert not down.passed and down.error and "could not answer" in down.message
    (nonsense,) = evaluate_case(c, SEEN, ctx)
    assert not nonsense.passed and nonsense.error and "not a JSON verdict" in nonsense.message

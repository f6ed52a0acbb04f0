"""The degraded mode: escalate with a clear message, or answer from a fallback, never with tools."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from models_helpers import CANARY_KEY, REFUND_TOOL, RETURNS, TIMEOUT

from doubles.openai_server import OpenAIServerDouble, error, text
from pilotgate.errors import AllModelsFailed
from pilotgate.models import (
    NO_BACKOFF,
    REFERENCE_MODEL_NAME,
    CompiledToolRule,
    ModelRequest,
    OpenAICompatibleClient,
    ReferenceModel,
    Route,
    Router,
    degrade,
)

ASK = ModelRequest(question="Are returns accepted?", context=[RETURNS], tools=[REFUND_TOOL])


@pytest.fixture
def router(openai_server: OpenAIServerDouble) -> Iterator[Router]:
    client = OpenAICompatibleClient(
        name="primary", base_url=openai_server.base_url, model="m", api_key=CANARY_KEY, timeout=TIMEOUT
    )
    cheap = ReferenceModel(tool_rules=(CompiledToolRule.of("returns", "issue_refund"),))
    with Router([Route("primary", client), Route("cheap", cheap)], retries=0, backoff=NO_BACKOFF) as routed:
        yield routed


def _failure(router: Router, openai_server: OpenAIServerDouble) -> AllModelsFailed:
    openai_server.reply(error(503))
    with pytest.raises(AllModelsFailed) as caught:
        Router(router.routes[:1], retries=0, backoff=NO_BACKOFF).route(ASK)
    return caught.value


def test_escalate_says_why_in_plain_words(router: Router, openai_server: OpenAIServerDouble) -> None:
    failure = _failure(router, openai_server)
    outcome = degrade(router, ASK, mode="escalate", reason="all_models_failed", failure=failure)
    assert outcome.action == "escalate" and outcome.routed is None
    assert outcome.message == "every model failed (primary: ModelHTTPError 503); the task goes to a person"
    budget = degrade(router, ASK, mode="escalate", reason="budget_spent")
    assert budget.message == "the budget is spent; the task goes to a person"


def test_answer_from_fallback_uses_the_offline_model_when_everything_failed(
    router: Router, openai_server: OpenAIServerDouble
) -> None:
    failure = _failure(router, openai_server)
    outcome = degrade(router, ASK, mode="answer_from_fallback", reason="all_models_failed", failure=failure)
    assert outcome.action == "answer" and outcome.routed is not None
    routed = outcome.routed
    assert (routed.model, routed.fallback, routed.response.model) == ("reference", True, REFERENCE_MODEL_NAME)
    assert routed.response.citations == ("chk_returns",) and routed.response.tool_calls == ()
    assert [(a.model, a.ok) for a in routed.attempts] == [("primary", False), ("reference", True)]
    assert routed.cost.source == "free"
    assert "offline extractive fallback" in outcome.message


def test_answer_from_fallback_skips_the_primary_when_the_budget_is_spent(
    router: Router, openai_server: OpenAIServerDouble
) -> None:
    openai_server.reply(text("the expensive answer"))
    outcome = degrade(router, ASK, mode="answer_from_fallback", reason="budget_spent")
    assert outcome.routed is not None
    assert outcome.routed.model == "cheap" and outcome.routed.fallback
    assert outcome.routed.response.tool_calls == (), "a degraded task never acts"
    assert openai_server.requests == []
    assert outcome.message == "the budget is spent; a fallback model answered"


def test_the_receipt_body_records_the_decision_and_the_failed_attempts(
    router: Router, openai_server: OpenAIServerDouble
) -> None:
    failure = _failure(router, openai_server)
    escalated = degrade(
        router, ASK, mode="escalate", reason="all_models_failed", failure=failure
    ).receipt_body()
    assert escalated["model"] is None and escalated["output"] is None and escalated["cost"] is None
    assert [(a["model"], a["error"], a["status"]) for a in escalated["attempts"]] == [
        ("primary", "ModelHTTPError", 503)
    ]
    assert escalated["degraded"]["action"] == "escalate"
    assert escalated["degraded"]["reason"] == "all_models_failed"
    answered = degrade(
        router, ASK, mode="answer_from_fallback", reason="all_models_failed", failure=failure
    ).receipt_body()
    assert answered["model"] == "reference" and answered["fallback"] is True and answered["cost"] == "0"
    assert [a["model"] for a in answered["attempts"]] == ["primary", "reference"]
    assert answered["degraded"]["action"] == "answer"

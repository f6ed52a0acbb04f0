"""The router: primary, retries with backoff on retryable failures only, fallbacks, every attempt recorded."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from models_helpers import CANARY_KEY, RETURNS, TIMEOUT

from doubles.openai_server import OpenAIServerDouble, closed_port_url, error, malformed, slow, text
from pilotgate.errors import AllModelsFailed, ModelHTTPError, ModelUnavailableError
from pilotgate.models import (
    NO_BACKOFF,
    Attempt,
    Backoff,
    ModelPricing,
    ModelRequest,
    OpenAICompatibleClient,
    ReferenceModel,
    Route,
    Router,
)
from pilotgate.spec import Price

ASK = ModelRequest(question="How long do returns take?", context=[RETURNS])
PRICE = Price(input_per_mtok=Decimal("1.00"), output_per_mtok=Decimal("2.00"))


@pytest.fixture
def backup_server() -> Iterator[OpenAIServerDouble]:
    """A second endpoint, for the fallback model."""
    with OpenAIServerDouble() as server:
        yield server


def _client(name: str, base_url: str) -> OpenAICompatibleClient:
    return OpenAICompatibleClient(
        name=name, base_url=base_url, model=f"{name}-model", api_key=CANARY_KEY, timeout=TIMEOUT
    )


@pytest.fixture
def router(openai_server: OpenAIServerDouble, backup_server: OpenAIServerDouble) -> Iterator[Router]:
    """primary (declared price) → backup (unknown to genai-prices) → nothing else; two retries, no waiting."""
    routes = [
        Route("primary", _client("primary", openai_server.base_url), ModelPricing(declared=PRICE)),
        Route("backup", _client("backup", backup_server.base_url), ModelPricing(model_ref="backup-model")),
    ]
    with Router(routes, retries=2, backoff=NO_BACKOFF) as routed:
        yield routed


def _errors(attempts: tuple[Attempt, ...] | list[object]) -> list[tuple[str, str | None]]:
    return [(a.model, a.error) for a in attempts if isinstance(a, Attempt)]


def test_the_primary_answers_when_it_can(router: Router, openai_server: OpenAIServerDouble) -> None:
    openai_server.reply(text("Thirty days [1].", usage=(1000, 500)))
    routed = router.route(ASK)
    assert (routed.model, routed.fallback) == ("primary", False)
    assert routed.response.text == "Thirty days [1]." and routed.response.citations == ("chk_returns",)
    assert _errors(routed.attempts) == [("primary", None)]
    assert routed.cost.amount == Decimal("0.002") and routed.cost.source == "declared"


def test_a_retryable_failure_is_retried_on_the_same_model(
    router: Router, openai_server: OpenAIServerDouble
) -> None:
    openai_server.reply(error(503), error(429), text("ok [1]"))
    routed = router.route(ASK)
    assert (routed.model, routed.fallback) == ("primary", False)
    assert _errors(routed.attempts) == [
        ("primary", "ModelHTTPError"),
        ("primary", "ModelHTTPError"),
        ("primary", None),
    ]
    assert [a.status for a in routed.attempts] == [503, 429, None]
    assert [a.try_number for a in routed.attempts] == [1, 2, 3]


def test_after_its_retries_the_next_model_answers_as_a_fallback(
    router: Router, openai_server: OpenAIServerDouble, backup_server: OpenAIServerDouble
) -> None:
    openai_server.reply(error(500), error(500), error(500))
    backup_server.reply(text("from the backup"))
    routed = router.route(ASK)
    assert (routed.model, routed.fallback) == ("backup", True)
    assert _errors(routed.attempts) == [("primary", "ModelHTTPError")] * 3 + [("backup", None)]
    assert routed.cost.amount is None and routed.cost.source == "unknown"


def test_a_4xx_or_a_malformed_reply_moves_on_without_retrying(
    router: Router, openai_server: OpenAIServerDouble, backup_server: OpenAIServerDouble
) -> None:
    openai_server.reply(error(401))
    backup_server.reply(malformed())
    with pytest.raises(AllModelsFailed) as caught:
        router.route(ASK)
    assert _errors(caught.value.attempts) == [("primary", "ModelHTTPError"), ("backup", "ModelReplyError")]
    assert len(openai_server.requests) == 1 and len(backup_server.requests) == 1


def test_timeouts_are_retried_then_fall_back(
    router: Router, openai_server: OpenAIServerDouble, backup_server: OpenAIServerDouble
) -> None:
    openai_server.reply(slow(5), text("recovered"))
    assert router.route(ASK).response.text == "recovered"
    assert len(openai_server.requests) == 2


def test_when_every_model_fails_the_error_carries_every_attempt(
    openai_server: OpenAIServerDouble,
) -> None:
    openai_server.reply(error(500), error(500))
    routes = [
        Route("primary", _client("primary", openai_server.base_url)),
        Route("down", _client("down", closed_port_url())),
    ]
    with Router(routes, retries=1, backoff=NO_BACKOFF) as router, pytest.raises(AllModelsFailed) as caught:
        router.route(ASK)
    failure = caught.value
    assert _errors(failure.attempts) == [
        ("primary", "ModelHTTPError"),
        ("primary", "ModelHTTPError"),
        ("down", "ModelConnectionError"),
        ("down", "ModelConnectionError"),
    ]
    assert "every model failed (primary, down)" in str(failure)
    assert CANARY_KEY not in str(failure) and all(CANARY_KEY not in repr(a) for a in failure.attempts)


def test_backoff_grows_exponentially_and_is_injectable(openai_server: OpenAIServerDouble) -> None:
    openai_server.reply(error(500), error(500), error(500), text("finally"))
    slept: list[float] = []
    routes = [Route("primary", _client("primary", openai_server.base_url))]
    with Router(
        routes, retries=3, backoff=Backoff(initial=1, maximum=3, jitter=0), sleep=slept.append
    ) as router:
        assert router.route(ASK).response.text == "finally"
    assert slept == [1, 2, 3]


def test_jitter_stays_within_its_bound(openai_server: OpenAIServerDouble) -> None:
    openai_server.reply(error(500), error(500))
    slept: list[float] = []
    routes = [Route("primary", _client("primary", openai_server.base_url))]
    with Router(
        routes, retries=2, backoff=Backoff(initial=0.5, maximum=8, jitter=0.25), sleep=slept.append
    ) as router:
        router.route(ASK)
    assert 0.5 <= slept[0] <= 0.75 and 1.0 <= slept[1] <= 1.25


def test_threads_sharing_a_router_each_get_their_own_retries() -> None:
    """The retry policy is built once per router; each thread's tries and waits stay its own."""
    failed_once: set[int] = set()
    guard = threading.Lock()
    start = threading.Barrier(8)

    class FailsFirstPerThread:
        name = "flaky"
        provider = "test"

        def complete(self, request: ModelRequest) -> object:
            me = threading.get_ident()
            with guard:
                first = me not in failed_once
                failed_once.add(me)
            if first:
                start.wait(timeout=10)  # every thread is between its first try and its retry at once
                raise ModelUnavailableError(
                    "down for a moment", model="flaky", cause="connect", retryable=True
                )
            return ReferenceModel().complete(request)

    slept: list[float] = []
    router = Router(
        [Route("flaky", FailsFirstPerThread())],  # type: ignore[arg-type]
        retries=1,
        backoff=Backoff(initial=0.25, maximum=1, jitter=0),
        sleep=slept.append,
    )
    with ThreadPoolExecutor(8) as pool:
        routed = list(pool.map(lambda _: router.route(ASK), range(8)))
    assert [len(r.attempts) for r in routed] == [2] * 8
    assert all([a.try_number for a in r.attempts] == [1, 2] for r in routed)
    assert slept == [0.25] * 8


def test_errors_that_are_not_model_failures_are_not_swallowed() -> None:
    class Broken:
        name = "broken"
        provider = "test"

        def complete(self, request: ModelRequest) -> object:
            raise RuntimeError("a bug, not an outage")

    router = Router([Route("broken", Broken()), Route("reference", ReferenceModel())], backoff=NO_BACKOFF)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="a bug"):
        router.route(ASK)


def test_skip_primary_starts_at_the_first_fallback(
    router: Router, openai_server: OpenAIServerDouble, backup_server: OpenAIServerDouble
) -> None:
    routed = router.route(ASK, skip_primary=True)
    assert (routed.model, routed.fallback) == ("backup", True)
    assert openai_server.requests == []


def test_the_receipt_body_has_everything_a_model_call_receipt_needs(
    router: Router, openai_server: OpenAIServerDouble
) -> None:
    openai_server.reply(
        error(502, f"bad gateway for {CANARY_KEY}"), text("Thirty days [1].", usage=(1000, 500))
    )
    body = router.route(ASK).receipt_body()
    assert CANARY_KEY not in json.dumps(body) and "[redacted]" in body["attempts"][0]["cause"]
    assert body["model"] == "primary" and body["provider"] == "openai-compatible"
    assert body["model_id"] == "gpt-4o-mini"
    assert (body["input_tokens"], body["output_tokens"], body["tokens_estimated"]) == (1000, 500, False)
    assert body["cost"] == "0.002" and body["price_source"] == "declared"
    assert body["fallback"] is False
    assert [(a["model"], a["ok"], a["error"], a["status"]) for a in body["attempts"]] == [
        ("primary", False, "ModelHTTPError", 502),
        ("primary", True, None, None),
    ]
    assert all(isinstance(a["latency_ms"], str) for a in body["attempts"])
    assert isinstance(body["latency_ms"], str)
    assert body["output"] == "Thirty days [1]." and body["citations"] == ["chk_returns"]
    assert body["tool_calls"] == [] and body["unknown_tools"] == [] and body["finish_reason"] == "stop"
    assert not any(isinstance(value, float) for value in body.values())


def test_otel_attributes_use_the_genai_names(router: Router) -> None:
    attributes = router.route(ASK).otel_attributes()
    assert attributes["gen_ai.request.model"] == "primary"
    assert attributes["gen_ai.response.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.usage.input_tokens"] == 42
    assert attributes["gen_ai.operation.name"] == "chat"


def test_an_http_error_class_is_what_the_attempt_names(
    router: Router, openai_server: OpenAIServerDouble
) -> None:
    openai_server.reply(error(400))
    routed = router.route(ASK)
    assert routed.attempts[0].error == ModelHTTPError.__name__ and routed.attempts[0].status == 400


def test_a_router_needs_a_model() -> None:
    with pytest.raises(ValueError, match="at least one model"):
        Router([])

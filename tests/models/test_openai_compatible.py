"""The OpenAI-compatible client, through the real openai SDK and real HTTP, against the test double."""

from __future__ import annotations

import gc
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from models_helpers import CANARY_KEY, LOOKUP_TOOL, REFUND_TOOL, REFUNDS, RETURNS, TIMEOUT

from doubles.openai_server import (
    OpenAIServerDouble,
    Reply,
    closed_port_url,
    completion,
    error,
    malformed,
    slow,
    text,
    tool_call,
)
from pilotgate.errors import (
    ModelConnectionError,
    ModelError,
    ModelHTTPError,
    ModelReplyError,
    ModelTimeoutError,
    ModelUnavailableError,
)
from pilotgate.models import (
    ModelRequest,
    OpenAICompatibleClient,
    ToolCall,
    ToolResult,
)
from pilotgate.models.openai_compatible import KEYLESS
from pilotgate.models.prompt import ERROR_PREFIX, UNTRUSTED_NOTICE
from pilotgate.spec import OpenAICompatibleModel

ASK = ModelRequest(question="Can I return a parcel?", context=[RETURNS, REFUNDS])


def test_it_answers_with_text_usage_and_renumbered_citations(
    client: OpenAICompatibleClient, openai_server: OpenAIServerDouble
) -> None:
    openai_server.reply(
        text("Yes, within 30 days [1]. Money goes back to the card [2]. Also [9].", usage=(120, 17))
    )
    response = client.complete(ASK)
    assert response.text == "Yes, within 30 days [1]. Money goes back to the card [2]. Also."
    assert response.citations == ("chk_returns", "chk_refunds")
    assert (response.input_tokens, response.output_tokens, response.usage_estimated) == (120, 17, False)
    assert (response.model, response.provider, response.finish_reason) == (
        "gpt-4o-mini",
        "openai-compatible",
        "stop",
    )
    assert response.tool_calls == () and response.unknown_tools == ()
    assert response.latency_ms > 0


def test_citations_follow_the_order_they_are_cited_in(
    client: OpenAICompatibleClient, openai_server: OpenAIServerDouble
) -> None:
    openai_server.reply(text("Card [2]. Thirty days [1, 2]."))
    response = client.complete(ASK)
    assert response.citations == ("chk_refunds", "chk_returns")
    assert response.text == "Card [1]. Thirty days [2, 1]."


def test_it_sends_the_key_the_passages_as_untrusted_data_and_the_question(
    client: OpenAICompatibleClient, openai_server: OpenAIServerDouble
) -> None:
    client.complete(ASK)
    (request,) = openai_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {CANARY_KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.body["model"] == "gpt-4o-mini"
    assert "tools" not in request.body
    system, user = request.messages
    assert system["role"] == "system" and UNTRUSTED_NOTICE in system["content"]
    assert (
        "[1] source: help-center; uri: returns.md; heading: Returns\nReturns are accepted"
        in system["content"]
    )
    assert "[2] source: finance; uri: refunds.md; heading: Refunds\n" in system["content"]
    assert user == {"role": "user", "content": "Can I return a parcel?"}


def test_it_offers_tools_and_replays_earlier_calls_and_results(
    client: OpenAICompatibleClient, openai_server: OpenAIServerDouble
) -> None:
    turns = (
        ToolCall("call_1", "lookup_order", {"order_id": "123456"}),
        ToolCall("call_2", "issue_refund", {"order_id": "123456", "amount": 20}),
        ToolResult("call_1", "lookup_order", '{"status": "delivered"}'),
        ToolResult("call_2", "issue_refund", "denied by policy", is_error=True),
    )
    request = ModelRequest(
        question="refund 20 on order 123456",
        tools=[REFUND_TOOL, LOOKUP_TOOL],
        turns=turns,
        max_output_tokens=64,
    )
    client.complete(request)
    body = openai_server.requests[0].body
    assert body["max_tokens"] == 64
    assert [tool["function"]["name"] for tool in body["tools"]] == ["issue_refund", "lookup_order"]
    assert body["tools"][0] == {
        "type": "function",
        "function": {
            "name": "issue_refund",
            "description": "Refund an order.",
            "parameters": REFUND_TOOL.parameters,
        },
    }
    assistant, first, second = body["messages"][2:]
    assert assistant["role"] == "assistant" and assistant["content"] is None
    assert [(c["id"], c["function"]["name"]) for c in assistant["tool_calls"]] == [
        ("call_1", "lookup_order"),
        ("call_2", "issue_refund"),
    ]
    assert json.loads(assistant["tool_calls"][1]["function"]["arguments"]) == {
        "order_id": "123456",
        "amount": 20,
    }
    assert first == {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "delivered"}'}
    assert second["content"] == ERROR_PREFIX + "denied by policy"


def test_it_reads_tool_calls(client: OpenAICompatibleClient, openai_server: OpenAIServerDouble) -> None:
    openai_server.reply(tool_call("issue_refund", {"order_id": "123456", "amount": 20.5}, call_id="call_x"))
    response = client.complete(ModelRequest(question="refund it", tools=[REFUND_TOOL]))
    assert response.tool_calls == (
        ToolCall("call_x", "issue_refund", {"order_id": "123456", "amount": 20.5}),
    )
    assert response.finish_reason == "tool_calls"
    assert response.unknown_tools == ()
    assert response.text == ""


def test_an_unknown_tool_is_kept_as_asked_and_named(
    client: OpenAICompatibleClient, openai_server: OpenAIServerDouble
) -> None:
    openai_server.reply(tool_call("delete_all_orders", {}))
    response = client.complete(ModelRequest(question="refund it", tools=[REFUND_TOOL]))
    assert [call.name for call in response.tool_calls] == ["delete_all_orders"]
    assert response.unknown_tools == ("delete_all_orders",)


@pytest.mark.parametrize("arguments", ['{"order_id": "12', "[1, 2]", '"text"'])
def test_malformed_tool_arguments_are_a_reply_error(
    client: OpenAICompatibleClient, openai_server: OpenAIServerDouble, arguments: str
) -> None:
    openai_server.reply(tool_call("issue_refund", arguments))
    with pytest.raises(ModelReplyError, match="malformed tool arguments for 'issue_refund'") as caught:
        client.complete(ModelRequest(question="refund it", tools=[REFUND_TOOL]))
    assert caught.value.model == "primary" and not caught.value.retryable


def test_empty_tool_arguments_mean_no_arguments(
    client: OpenAICompatibleClient, openai_server: OpenAIServerDouble
) -> None:
    openai_server.reply(tool_call("lookup_order", ""))
    (call,) = client.complete(ModelRequest(question="q", tools=[LOOKUP_TOOL])).tool_calls
    assert call.arguments == {}


def test_missing_usage_is_approximated_and_says_so(
    client: OpenAICompatibleClient, openai_server: OpenAIServerDouble
) -> None:
    openai_server.reply(text("Thirty days [1].", usage=None))
    response = client.complete(ASK)
    assert response.usage_estimated
    assert response.input_tokens > 10 and response.output_tokens == 6


@pytest.mark.parametrize(
    ("reply", "cause"),
    [
        (malformed(), "not valid JSON"),
        (Reply(body=b'{"object": "list", "data": []}'), "no choices"),
        (Reply(body=b"<html>gateway</html>", headers=(("Content-Type", "text/html"),)), "no choices"),
    ],
)
def test_a_body_that_is_not_a_chat_completion_is_a_reply_error(
    client: OpenAICompatibleClient, openai_server: OpenAIServerDouble, reply: Reply, cause: str
) -> None:
    openai_server.reply(reply)
    with pytest.raises(ModelReplyError, match=cause) as caught:
        client.complete(ASK)
    assert "model 'primary' (gpt-4o-mini at http://127.0.0.1:" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "retryable"), [(500, True), (503, True), (429, True), (400, False), (401, False)]
)
def test_http_errors_name_the_status_and_whether_to_retry(
    client: OpenAICompatibleClient, openai_server: OpenAIServerDouble, status: int, retryable: bool
) -> None:
    openai_server.reply(error(status, "upstream says no"))
    with pytest.raises(ModelHTTPError) as caught:
        client.complete(ASK)
    failure = caught.value
    assert (failure.status, failure.retryable, failure.model) == (status, retryable, "primary")
    assert f"HTTP {status}" in str(failure) and "upstream says no" in failure.cause
    assert failure.hint


def test_a_failing_call_is_sent_once_retrying_is_the_routers(
    client: OpenAICompatibleClient, openai_server: OpenAIServerDouble
) -> None:
    openai_server.reply(error(503, "busy"), text("second"))
    with pytest.raises(ModelHTTPError):
        client.complete(ASK)
    assert len(openai_server.requests) == 1
    assert client.complete(ASK).text == "second"


def test_many_threads_share_the_client(
    client: OpenAICompatibleClient, openai_server: OpenAIServerDouble
) -> None:
    """The eval runner calls one client from many threads: each gets its own reply, none is lost."""
    openai_server.respond = lambda request: text(f"echo {request.messages[-1]['content']}")
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: client.complete(ModelRequest(question=f"q{n}")).text, range(40)))
    assert answers == [f"echo q{n}" for n in range(40)]


def test_a_slow_server_times_out(client: OpenAICompatibleClient, openai_server: OpenAIServerDouble) -> None:
    openai_server.reply(slow(5))
    started = time.perf_counter()
    with pytest.raises(ModelTimeoutError, match=f"no reply within {TIMEOUT:g} s") as caught:
        client.complete(ASK)
    assert time.perf_counter() - started < TIMEOUT + 1.0
    assert caught.value.retryable and "timeout" in (caught.value.hint or "")


def test_a_server_that_is_down_is_a_connection_error() -> None:
    with (
        OpenAICompatibleClient(name="gone", base_url=closed_port_url(), model="m", timeout=TIMEOUT) as model,
        pytest.raises(ModelConnectionError, match=r"model 'gone' .*cannot connect") as caught,
    ):
        model.complete(ASK)
    assert caught.value.retryable
    assert isinstance(caught.value, ModelUnavailableError) and isinstance(caught.value, ModelError)


def test_the_key_never_appears_in_errors_or_reprs(openai_server: OpenAIServerDouble) -> None:
    """A hostile or careless server echoes the key back; no message, cause, hint or repr may carry it."""
    openai_server.reply(
        error(500, f"bad key {CANARY_KEY}"),
        error(401, f"Incorrect API key provided: {CANARY_KEY}"),
        tool_call("issue_refund", f'{{"key": "{CANARY_KEY}'),
        slow(5),
    )
    failures: list[BaseException] = []
    with OpenAICompatibleClient(
        name="primary",
        base_url=openai_server.base_url,
        model="gpt-4o-mini",
        api_key=CANARY_KEY,
        timeout=TIMEOUT,
    ) as model:
        for _ in range(4):
            with pytest.raises(ModelUnavailableError) as caught:
                model.complete(ModelRequest(question="q", tools=[REFUND_TOOL]))
            failures.append(caught.value)
        assert CANARY_KEY not in repr(model)
    with OpenAICompatibleClient(
        name="down", base_url=closed_port_url(), model="m", api_key=CANARY_KEY
    ) as model:
        with pytest.raises(ModelConnectionError) as caught:
            model.complete(ASK)
        failures.append(caught.value)
    for failure in failures:
        assert isinstance(failure, ModelUnavailableError)
        shown = " ".join([str(failure), repr(failure), failure.cause, failure.hint or "", repr(failure.args)])
        assert CANARY_KEY not in shown, type(failure).__name__
        assert failure.__cause__ is None and failure.__suppress_context__
    assert "[redacted]" in failures[0].cause


def test_without_a_key_it_never_sends_an_ambient_openai_key(
    openai_server: OpenAIServerDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", CANARY_KEY)
    with OpenAICompatibleClient(name="local", base_url=openai_server.base_url, model="llama") as model:
        model.complete(ASK)
    assert openai_server.requests[0].headers["authorization"] == f"Bearer {KEYLESS}"


def test_it_is_built_from_the_spec_resolving_the_key_reference(openai_server: OpenAIServerDouble) -> None:
    spec = OpenAICompatibleModel.model_validate(
        {
            "name": "primary",
            "provider": "openai-compatible",
            "base_url": openai_server.base_url,
            "model": "gpt-4o-mini",
            "api_key": "env:LLM_API_KEY",
            "timeout": 20,
        }
    )
    asked: list[str] = []

    def resolve(reference: str) -> str:
        asked.append(reference)
        return CANARY_KEY

    with OpenAICompatibleClient.from_spec(spec, resolve) as model:
        assert (model.name, model.model, model.timeout) == ("primary", "gpt-4o-mini", 20.0)
        model.complete(ASK)
    assert asked == ["env:LLM_API_KEY"]
    assert openai_server.requests[0].headers["authorization"] == f"Bearer {CANARY_KEY}"


def test_reprs_and_messages_hide_credentials_in_the_url() -> None:
    with OpenAICompatibleClient(
        name="proxy", base_url="http://user:hunter2@127.0.0.1:1/v1", model="m", timeout=TIMEOUT
    ) as model:
        assert "hunter2" not in repr(model)
        with pytest.raises(ModelConnectionError) as caught:
            model.complete(ASK)
    assert "hunter2" not in str(caught.value) and "hunter2" not in (caught.value.hint or "")


def test_finish_reasons_are_normalised(
    client: OpenAICompatibleClient, openai_server: OpenAIServerDouble
) -> None:
    openai_server.reply(completion("cut", finish_reason="length"), completion("odd", finish_reason="weird"))
    assert client.complete(ASK).finish_reason == "length"
    assert client.complete(ASK).finish_reason == "other"


def test_a_connection_the_server_closes_is_replaced_not_a_failure(
    client: OpenAICompatibleClient, openai_server: OpenAIServerDouble
) -> None:
    closing = text("first")
    openai_server.reply(
        Reply(body=closing.body, headers=(*closing.headers, ("Connection", "close"))), text("second")
    )
    assert client.complete(ASK).text == "first"
    assert client.complete(ASK).text == "second"
    client.close()  # closed connections are opened again on the next call
    assert client.complete(ASK).text != ""


def test_it_goes_through_the_environments_proxy_unless_no_proxy_exempts_the_host(
    openai_server: OpenAIServerDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    proxy = openai_server.base_url.removesuffix("/v1")
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("NO_PROXY", "")
    with (
        OpenAICompatibleClient(name="far", base_url="http://models.invalid:9/v1", model="m") as model,
        pytest.raises(ModelHTTPError),  # the double is no real proxy: it answers 404 to the absolute URL
    ):
        model.complete(ASK)
    assert openai_server.requests[-1].path == "http://models.invalid:9/v1/chat/completions"
    monkeypatch.setenv("HTTP_PROXY", closed_port_url().removesuffix("/v1"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    with OpenAICompatibleClient(name="near", base_url=openai_server.base_url, model="m") as model:
        assert model.complete(ASK).text


def test_a_thread_that_ends_closes_its_connection(
    client: OpenAICompatibleClient, openai_server: OpenAIServerDouble
) -> None:
    """The eval runner's pool threads end with each run; their connections must not stay open."""
    opened: list[object] = []

    def call() -> None:
        client.complete(ASK)
        opened.append(client._poster._local.conn)

    worker = threading.Thread(target=call)
    worker.start()
    worker.join()
    del worker
    gc.collect()
    (conn,) = opened
    assert getattr(conn, "sock", "missing") is None  # closed when its thread went


def test_text_that_is_not_valid_unicode_is_still_sent(
    client: OpenAICompatibleClient, openai_server: OpenAIServerDouble
) -> None:
    """A lone surrogate (from a badly decoded document) must not crash the call."""
    client.complete(ModelRequest(question="Returns for the caf\u00e9 \ud800 order?"))
    assert openai_server.requests[0].messages[-1]["content"].startswith("Returns for the caf\u00e9")


def test_a_key_with_a_line_break_is_a_clear_error_that_never_shows_it() -> None:
    with pytest.raises(ModelError) as caught:
        OpenAICompatibleClient(
            name="m", base_url="http://127.0.0.1:9/v1", model="m", api_key="sk-abc\nX-Evil: 1"
        )
    assert "Authorization" in caught.value.message and "sk-abc" not in str(caught.value)
    assert caught.value.hint and "line break" in caught.value.hint

"""The three adapters against real peers: a Python callable, the counting HTTP tool, a local MCP server."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest
from tool_helpers import make_spec, tool

from doubles.http_tool import CountingToolServer
from doubles.mcp_server import logged_calls, serve_http
from pilotgate.errors import ToolAdapterError
from pilotgate.tools import (
    HttpAdapter,
    McpAdapter,
    OutcomeUnknown,
    PythonAdapter,
    ToolAdapter,
    adapter_for,
)

KEY = "sha256:" + "ab" * 32
DOUBLE = Path(__file__).parents[1] / "doubles" / "mcp_server.py"


# --- python ------------------------------------------------------------------------------------------


def test_python_adapter_passes_arguments_and_the_key() -> None:
    adapter = PythonAdapter.parse("python:sample_tools:lookup_order")
    output = adapter.call({"order_id": "7"}, idempotency_key=KEY)
    assert output.content == {"order_id": "7", "status": "shipped", "key": KEY}
    assert not output.is_error
    assert isinstance(adapter, ToolAdapter)


def test_python_adapter_leaves_the_key_out_when_the_function_does_not_take_it() -> None:
    assert PythonAdapter.parse("python:sample_tools:no_key").call(
        {"order_id": "7"}, idempotency_key=KEY
    ).content == ("order 7")


def test_a_raising_function_is_an_error_output() -> None:
    output = PythonAdapter.parse("python:sample_tools:explode").call({"order_id": "7"}, idempotency_key=KEY)
    assert output.is_error
    assert output.content == {"error": "ValueError", "message": "order 7 is cursed"}


def test_the_key_argument_name_is_reserved() -> None:
    output = PythonAdapter.parse("python:sample_tools:lookup_order").call(
        {"order_id": "7", "idempotency_key": "forged"}, idempotency_key=KEY
    )
    assert output.is_error and "reserved" in output.content["message"]


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("python:no_such_module_here:f", "cannot import 'no_such_module_here'"),
        ("python:sample_tools:missing", "has no attribute 'missing'"),
        ("python:sample_tools:NOT_CALLABLE", "is not callable"),
    ],
)
def test_python_adapter_load_errors_are_clear(target: str, message: str) -> None:
    with pytest.raises(ToolAdapterError, match=message) as caught:
        PythonAdapter.parse(target).call({}, idempotency_key=KEY)
    assert caught.value.hint


def test_python_reconcile_uses_the_functions_reconcile_attribute() -> None:
    adapter = PythonAdapter.parse("python:sample_tools:refund")
    assert adapter.can_reconcile
    assert adapter.reconcile("sha256:never") is None
    adapter.call({"order_id": "1", "amount": 5}, idempotency_key=KEY)
    assert adapter.reconcile(KEY).content == {"refunded": 5, "order_id": "1"}  # type: ignore[union-attr]
    assert not PythonAdapter.parse("python:sample_tools:no_key").can_reconcile


# --- http --------------------------------------------------------------------------------------------


def test_http_adapter_posts_json_with_the_idempotency_key(counting: CountingToolServer) -> None:
    adapter = HttpAdapter(counting.url)
    try:
        output = adapter.call({"order_id": "7"}, idempotency_key=KEY)
    finally:
        adapter.close()
    assert output.content == {"ok": True, "args": {"order_id": "7"}, "execution": 1}
    assert counting.calls == {KEY: 1}


def test_http_non_2xx_is_an_error_output_with_the_status(counting: CountingToolServer) -> None:
    counting.mode = "fail"
    adapter = HttpAdapter(counting.url)
    try:
        output = adapter.call({}, idempotency_key=KEY)
    finally:
        adapter.close()
    assert output.is_error
    assert output.content == {"error": "status", "status": 500, "body": {"error": "the tool failed"}}


@pytest.mark.parametrize("mode", ["hang", "drop"])
def test_http_timeout_or_dropped_answer_is_an_unknown_outcome(
    counting: CountingToolServer, mode: str
) -> None:
    counting.mode = mode  # type: ignore[assignment]
    adapter = HttpAdapter(counting.url, timeout=httpx.Timeout(0.3))
    try:
        with pytest.raises(OutcomeUnknown):
            adapter.call({}, idempotency_key=KEY)
    finally:
        adapter.close()
    assert counting.executions == {KEY: 1}


def test_http_connection_refused_is_a_known_failure() -> None:
    with CountingToolServer() as server:
        url = server.url
    adapter = HttpAdapter(url, timeout=httpx.Timeout(1.0))
    try:
        output = adapter.call({}, idempotency_key=KEY)
    finally:
        adapter.close()
    assert output.is_error and output.content["error"] == "connect"


def test_http_reconcile_by_key(counting: CountingToolServer) -> None:
    adapter = HttpAdapter(counting.url)
    try:
        assert adapter.reconcile(KEY) is None
        adapter.call({"order_id": "7"}, idempotency_key=KEY)
        found = adapter.reconcile(KEY)
    finally:
        adapter.close()
    assert found is not None and found.content["args"] == {"order_id": "7"}
    assert counting.lookups == [KEY, KEY]


def test_http_secret_headers_are_resolved_per_call(counting: CountingToolServer) -> None:
    seen: list[str] = []

    def resolve(reference: str) -> str:
        seen.append(reference)
        return "Bearer s3cr3t-t0ken-value"

    adapter = HttpAdapter(
        counting.url, secret_headers={"Authorization": "env:DESK_TOKEN"}, resolve_secret=resolve
    )
    try:
        adapter.call({}, idempotency_key=KEY)
    finally:
        adapter.close()
    assert seen == ["env:DESK_TOKEN"]
    assert counting.headers[0]["Authorization"] == "Bearer s3cr3t-t0ken-value"


def test_adapter_for_picks_by_the_adapter_string(counting: CountingToolServer) -> None:
    spec = make_spec(
        tool("a", "python:sample_tools:no_key"),
        tool("b", counting.url),
        tool("c", "mcp:http://127.0.0.1:1/mcp"),
    )
    kinds = [adapter_for(t).kind for t in spec.tools]
    assert kinds == ["python", "http", "mcp"]


# --- mcp ---------------------------------------------------------------------------------------------


def test_mcp_targets_parse() -> None:
    stdio = McpAdapter.parse("mcp:stdio:python -m desk.server --port 1#create_ticket", default_tool="x")
    assert stdio.command == ("python", "-m", "desk.server", "--port", "1") and stdio.tool == "create_ticket"
    http = McpAdapter.parse("mcp:http://127.0.0.1:8000/mcp", default_tool="add")
    assert http.url == "http://127.0.0.1:8000/mcp" and http.tool == "add"
    assert not http.can_reconcile and http.reconcile(KEY) is None


@pytest.mark.parametrize("target", ["mcp:desk/create_ticket", "mcp:stdio:#tool", "mcp:ftp://x#y"])
def test_unreadable_mcp_targets_are_refused(target: str) -> None:
    with pytest.raises(ToolAdapterError, match="cannot read the MCP adapter"):
        McpAdapter.parse(target, default_tool="x")


def test_mcp_over_streamable_http(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    with serve_http(log) as url:
        assert McpAdapter(tool="add", url=url).call({"a": 2, "b": 3}, idempotency_key=KEY).content == {
            "sum": 5
        }
        ticket = McpAdapter(tool="create_ticket", url=url).call({"title": "broken"}, idempotency_key=KEY)
        failed = McpAdapter(tool="fail", url=url).call({}, idempotency_key=KEY)
    assert ticket.content == {"ticket": 1, "key": KEY} and not ticket.is_error
    assert failed.is_error and "Error executing tool fail" in str(failed.content)
    assert logged_calls(log) == [{"tool": "create_ticket", "key": KEY, "title": "broken"}]


def test_mcp_over_stdio_subprocess(tmp_path: Path) -> None:
    log = tmp_path / "calls.jsonl"
    target = f"mcp:stdio:{sys.executable} {DOUBLE} --log {log}#create_ticket"
    output = McpAdapter.parse(target, default_tool="x").call({"title": "slow"}, idempotency_key=KEY)
    assert output.content == {"ticket": 1, "key": KEY}
    assert logged_calls(log) == [{"tool": "create_ticket", "key": KEY, "title": "slow"}]


def test_mcp_server_that_cannot_be_reached_is_a_known_failure() -> None:
    with CountingToolServer() as server:
        url = server.url  # a port that nobody listens on once the server stops
    output = McpAdapter(tool="add", url=url.replace("/tool", "/mcp"), timeout=2).call({}, idempotency_key=KEY)
    assert output.is_error and output.content["error"] == "connect"

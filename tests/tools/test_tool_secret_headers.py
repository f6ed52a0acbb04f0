"""Tool credentials declared in pilot.yaml: secret headers, resolved only when used, redacted everywhere."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from tool_helpers import ORDER_ARGS, PILOT, make_spec, tool

from doubles.http_tool import CountingToolServer
from doubles.mcp_server import serve_http
from pilotgate.receipts import ReceiptLog, list_receipts
from pilotgate.secrets import SecretResolver
from pilotgate.store import Store
from pilotgate.tools import ToolExecutor, ToolRegistry, adapter_for

CANARY = "Bearer canary-9c1e55-tool-credential"


@pytest.fixture
def canary_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DESK_TOOL_AUTH", CANARY)
    return "env:DESK_TOOL_AUTH"


@pytest.fixture
def resolver(tmp_path: Path, log: ReceiptLog) -> Iterator[SecretResolver]:
    """The pilot's resolver, wired to the log's redactor as open_runtime wires it."""
    opened = SecretResolver(root=tmp_path, on_resolved=log.redactor.register)
    yield opened
    opened.close()


def everything_recorded(store: Store) -> str:
    with store.read() as conn:
        return "\n".join(r.text for r in list_receipts(conn, PILOT, limit=1000, newest_first=False))


def test_a_secret_header_is_resolved_at_the_call_sent_and_never_recorded(
    store: Store,
    log: ReceiptLog,
    counting: CountingToolServer,
    canary_env: str,
    resolver: SecretResolver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    resolved: list[str] = []

    def resolve(reference: str) -> str:
        resolved.append(reference)
        return resolver.resolve(reference)

    spec = make_spec(
        tool("lookup_order", counting.url, args=ORDER_ARGS, secret_headers={"Authorization": canary_env})
    )
    registry = ToolRegistry.from_spec(spec, resolve_secret=resolve)
    executor = ToolExecutor(registry, store, log)
    assert resolved == []  # declared, not resolved: nothing is read until the tool is used
    with caplog.at_level(logging.DEBUG):
        outcome = executor.execute(task="t1", step=0, tool="lookup_order", args={"order_id": "7"})
    registry.close()
    assert outcome.state == "done" and resolved == [canary_env]
    assert counting.headers[0]["Authorization"] == CANARY
    recorded = everything_recorded(store)
    assert "tool.intent" in recorded and "canary-9c1e55" not in recorded
    assert "canary-9c1e55" not in caplog.text


def test_a_secret_that_cannot_be_resolved_fails_the_call_before_anything_is_sent(
    store: Store, log: ReceiptLog, counting: CountingToolServer, resolver: SecretResolver
) -> None:
    spec = make_spec(
        tool(
            "lookup_order",
            counting.url,
            args=ORDER_ARGS,
            secret_headers={"X-Api-Key": "env:NOT_SET_ANYWHERE"},
        )
    )
    with ToolRegistry.from_spec(spec, resolve_secret=resolver.resolve) as registry:
        outcome = ToolExecutor(registry, store, log).execute(
            task="t1", step=0, tool="lookup_order", args={"order_id": "7"}
        )
    assert outcome.state == "failed" and counting.total_calls == 0
    assert outcome.output is not None and outcome.output.content["error"] == "secret"
    assert "NOT_SET_ANYWHERE" in outcome.output.content["message"]


def test_an_mcp_server_over_http_gets_the_header(canary_env: str, resolver: SecretResolver) -> None:
    with serve_http() as url:
        spec = make_spec(tool("add", f"mcp:{url}#add", secret_headers={"Authorization": canary_env}))
        adapter = adapter_for(spec.tools[0], resolve_secret=resolver.resolve)
        assert adapter.call({"a": 2, "b": 3}, idempotency_key="sha256:" + "0" * 64).content == {"sum": 5}
    assert adapter.secret_headers == {"Authorization": canary_env}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"adapter": "python:sample_tools:no_key"}, "not to a Python tool"),
        ({"adapter": "mcp:stdio:python -m desk#t"}, "not to an MCP server over stdio"),
        ({"secret_headers": {"Authorization": "Bearer abc123"}}, "not a secret value"),
        ({"secret_headers": {"Idempotency-Key": "env:X"}}, "sets the Idempotency-Key header itself"),
        ({"secret_headers": {"Bad Header": "env:X"}}, "is not an HTTP header name"),
    ],
)
def test_secret_headers_are_checked_when_declared(entry: dict[str, object], message: str) -> None:
    declared = {"adapter": "https://tools.example/lookup", "secret_headers": {"Authorization": "env:X"}}
    with pytest.raises(ValidationError, match=message) as raised:
        make_spec(tool("lookup_order", **{**declared, **entry}))  # type: ignore[arg-type]
    assert "abc123" not in str(raised.value)

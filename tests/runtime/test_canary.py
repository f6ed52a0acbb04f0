"""A canary secret sent through every path never appears in a receipt, an export, the task row or a log."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import receipts_of
from sqlalchemy import select

from cli_runner import fresh_app, invoke
from doubles.openai_server import OpenAIServerDouble, error, text, tool_call
from pilotgate.demo import scaffold_pilot
from pilotgate.models import NO_BACKOFF
from pilotgate.runtime import open_runtime
from pilotgate.store.tables import approvals, tasks, tool_calls
from pilotgate.tools import ToolOutput
from pilotgate.workspace import Workspace, open_workspace

CANARY = "sk-canary-7f3c9e1d2b4a6c8e0f1a3b5d7e9f0a2c"
ENV = "PILOTGATE_TEST_CANARY_KEY"


class LeakyAdapter:
    """A tool that returns the secret, then raises an exception holding it."""

    kind = "python"
    can_reconcile = False

    def __init__(self) -> None:
        self.calls = 0

    def call(self, args: Mapping[str, Any], *, idempotency_key: str) -> ToolOutput:
        self.calls += 1
        if self.calls == 1:
            return ToolOutput(content={"status": "shipped", "debug": f"token={CANARY}"})
        raise RuntimeError(f"upstream said: bad token {CANARY}")

    def reconcile(self, idempotency_key: str) -> ToolOutput | None:
        return None

    def close(self) -> None:
        pass


@pytest.fixture
def server() -> Iterator[OpenAIServerDouble]:
    with OpenAIServerDouble() as double:
        yield double


@pytest.fixture
def workspace(
    tmp_path: Path, server: OpenAIServerDouble, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Workspace]:
    monkeypatch.setenv(ENV, CANARY)
    scaffold_pilot(tmp_path / "desk")
    pilot = tmp_path / "desk" / "pilot.yaml"
    source = pilot.read_text()
    start, end = source.index("models:"), source.index("tools:")
    model = (
        "models:\n"
        "  - name: primary\n"
        "    provider: openai-compatible\n"
        f"    base_url: {server.base_url}\n"
        "    model: gpt-4o-mini\n"
        f"    api_key: env:{ENV}\n"
        "    timeout: 5s\n"
        "    price: {input_per_mtok: 0, output_per_mtok: 0}\n\n"
    )
    pilot.write_text(source[:start] + model + source[end:])
    opened = open_workspace(tmp_path / "desk")
    yield opened
    opened.close()


def test_the_canary_never_reaches_a_record(
    workspace: Workspace, server: OpenAIServerDouble, caplog: pytest.LogCaptureFixture, tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    server.reply(
        # task 1: the model calls a tool whose result holds the canary, then echoes it in its answer
        tool_call("lookup_order", {"order_id": "100200"}, call_id="c1"),
        text(f"Your key is {CANARY}, see [1]"),
        # task 2: the tool raises with the canary in its message (the task parks)
        tool_call("lookup_order", {"order_id": "100311"}, call_id="c2"),
        # task 3: the model server fails with the canary in its error, twice (a retry): degraded mode
        error(500, f"internal error near {CANARY}"),
        error(500, f"internal error near {CANARY}"),
    )
    adapter = LeakyAdapter()
    with open_runtime(workspace, tool_adapters={"lookup_order": adapter}, backoff=NO_BACKOFF) as runtime:
        first = runtime.run("Where is my order 100200?", user="alice")
        second = runtime.run("Where is my order 100311?", user="alice")
        third = runtime.run("How do I reset my password?", user="alice")
        logging.getLogger("pilotgate.runtime").warning("a log line holding %s", CANARY)
    assert server.requests[0].headers["authorization"] == f"Bearer {CANARY}"  # it was really used
    assert adapter.calls == 3  # a read tool is retried once with the same key, then parked
    assert (first.label, second.label, third.label) == ("resolved", "parked", "escalated")
    for result in (first, second, third):
        assert CANARY not in result.answer
    assert "[REDACTED]" in first.answer

    everything = b"".join(r.canonical for r in receipts_of(workspace))
    assert CANARY.encode() not in everything
    assert b"token=" in everything  # the tool result was recorded, less the secret

    with workspace.store.read() as conn:
        for table in (tasks, tool_calls, approvals):
            for row in conn.execute(select(table)):
                assert CANARY not in repr(tuple(row)), table.name

    out = tmp_path / "export.jsonl"
    done = invoke(
        fresh_app(), "receipts", "export", "--out", str(out), "--pilot", str(workspace.root / "pilot.yaml")
    )
    assert done.exit_code == 0, done.output
    assert out.stat().st_size > 0 and CANARY not in out.read_text()

    assert caplog.records, "expected log lines on these paths"
    for record in caplog.records:
        assert CANARY not in record.getMessage()
    assert CANARY not in caplog.text

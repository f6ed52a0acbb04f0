"""A worker process killed (SIGKILL) between the tool call and its result: recovery never runs it twice."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from tool_helpers import REFUND_ARGS, make_spec, tool

from doubles.http_tool import CountingToolServer
from pilotgate.receipts import ReceiptLog
from pilotgate.store import Store
from pilotgate.tools import ToolExecutor, ToolRegistry, idempotency_key

ARGS = {"order_id": "42", "amount": 25.5}

WORKER = textwrap.dedent(
    """
    import os, signal, sys
    from pilotgate.receipts import ReceiptLog
    from pilotgate.spec import PilotSpec
    from pilotgate.store import open_store
    from pilotgate.tools import HttpAdapter, ToolExecutor, ToolRegistry

    url, tool_url, replay = sys.argv[1:4]

    class DiesAfterCalling(HttpAdapter):
        def call(self, args, *, idempotency_key):
            output = super().call(args, idempotency_key=idempotency_key)
            os.kill(os.getpid(), signal.SIGKILL)
            return output

    spec = PilotSpec.model_validate({
        "pilot": {"name": "desk", "owner": "dana", "workflow": "w"},
        "users": [{"name": "bob", "groups": ["agents"]}],
        "tools": [{"name": "refund", "adapter": tool_url, "effect": "external", "risk": "high",
                   "replay": replay, "roles": ["agents"]}],
    })
    registry = ToolRegistry.from_spec(spec, adapters={"refund": DiesAfterCalling(tool_url)})
    executor = ToolExecutor(registry, open_store(url), ReceiptLog("desk"))
    executor.execute(task="t1", step=0, tool="refund", args={"order_id": "42", "amount": 25.5})
    """
)


@pytest.mark.parametrize(("replay", "state", "calls"), [("unsafe", "parked", 1), ("idempotent", "done", 2)])
def test_killed_worker_is_recovered_without_a_second_execution(
    store: Store, tmp_path: Path, counting: CountingToolServer, replay: str, state: str, calls: int
) -> None:
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    child = subprocess.run(
        [sys.executable, str(script), store.url, counting.url, replay],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    key = idempotency_key("desk", "t1", 0, "refund", ARGS)
    assert counting.calls == {key: 1}

    spec = make_spec(
        tool("refund", counting.url, effect="external", risk="high", replay=replay, args=REFUND_ARGS)
    )
    with ToolRegistry.from_spec(spec) as registry:
        executor = ToolExecutor(registry, store, ReceiptLog("desk"))
        [outcome] = executor.recover("t1")
        again = executor.execute(task="t1", step=0, tool="refund", args=ARGS)
    assert outcome.state == state and again.replayed and again.state == state
    assert counting.calls == {key: calls} and counting.executions == {key: 1}

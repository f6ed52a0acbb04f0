"""The action boundary: intent committed before the call, one call per key, recovery by replay safety."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sample_tools
from sqlalchemy import Connection, func, select, text
from tool_helpers import ORDER_ARGS, REFUND_ARGS, Crashing, make_spec, tool

from doubles.http_tool import CountingToolServer
from pilotgate.receipts import ReceiptLog, list_receipts, verify_store
from pilotgate.store import Store, create_store_engine
from pilotgate.store.tables import receipts, tool_calls
from pilotgate.tools import (
    HttpAdapter,
    ToolAdapter,
    ToolCallOutcome,
    ToolExecutor,
    ToolOutput,
    ToolRegistry,
    idempotency_key,
)

ARGS = {"order_id": "42", "amount": 25.5}


def refund_tool(url: str, replay: str) -> dict[str, Any]:
    return tool("refund", url, effect="external", risk="high", replay=replay, args=REFUND_ARGS)


@pytest.fixture(autouse=True)
def _fresh_sample_tools() -> Iterator[None]:
    sample_tools.CALLS.clear()
    yield
    sample_tools.CALLS.clear()


def executor_for(
    store: Store, log: ReceiptLog, *tools: dict[str, Any], adapters: dict[str, Any] | None = None, **kw: Any
) -> ToolExecutor:
    return ToolExecutor(ToolRegistry.from_spec(make_spec(*tools), adapters=adapters), store, log, **kw)


def kinds(store: Store, task: str | None = None) -> list[str]:
    with store.read() as conn:
        return [r.kind for r in list_receipts(conn, "desk", task=task, limit=1000, newest_first=False)]


def row_state(store: Store, key: str) -> str:
    with store.read() as conn:
        return str(conn.execute(select(tool_calls.c.state).where(tool_calls.c.key == key)).scalar_one())


def assert_chain_verifies(store: Store) -> None:
    with store.read() as conn:
        verify_store(conn, "desk", None).raise_for_failure()


# --- the happy path ------------------------------------------------------------------------------


def test_a_call_records_intent_then_result(store: Store, log: ReceiptLog) -> None:
    executor = executor_for(
        store, log, tool("lookup_order", "python:sample_tools:lookup_order", args=ORDER_ARGS)
    )
    outcome = executor.execute(task="t1", step=0, tool="lookup_order", args={"order_id": "7"})
    key = idempotency_key("desk", "t1", 0, "lookup_order", {"order_id": "7"})
    assert outcome.key == key and outcome.state == "done" and outcome.calls == 1 and not outcome.replayed
    assert outcome.output == ToolOutput({"order_id": "7", "status": "shipped", "key": key})
    assert kinds(store, "t1") == ["tool.intent", "tool.result"]
    with store.read() as conn:
        intent, result = list_receipts(conn, "desk", task="t1", newest_first=False)
    assert intent.body["key"] == key and intent.body["args"] == {"order_id": "7"}
    assert intent.body["replay"] == "idempotent" and intent.body["adapter"] == "python"
    assert result.record["refs"] == [intent.hash]
    assert result.body["content"] == outcome.output.content and result.body["cost"] == "0"  # type: ignore[union-attr]
    assert row_state(store, key) == "done"
    assert_chain_verifies(store)


class Peeking:
    """An adapter that looks, from a separate engine's connection, for the intent of its own call."""

    kind = "test"
    can_reconcile = False

    def __init__(self, url: str) -> None:
        self.url = url
        self.seen: list[tuple[str, str]] = []

    def call(self, args: Any, *, idempotency_key: str) -> ToolOutput:
        engine = create_store_engine(self.url)
        try:
            with engine.connect() as conn:
                state = conn.execute(
                    select(tool_calls.c.state).where(tool_calls.c.key == idempotency_key)
                ).scalar_one()
                kind = conn.execute(
                    select(receipts.c.kind).order_by(receipts.c.seq.desc()).limit(1)
                ).scalar_one()
                self.seen.append((state, kind))
        finally:
            engine.dispose()
        return ToolOutput({"ok": True})

    def reconcile(self, idempotency_key: str) -> None:
        return None

    def close(self) -> None:
        return None


def test_the_intent_is_committed_before_the_call(store: Store, log: ReceiptLog) -> None:
    peeking = Peeking(store.url)
    executor = executor_for(store, log, tool("peek", "python:x:y"), adapters={"peek": peeking})
    executor.execute(task="t1", step=0, tool="peek", args={})
    assert peeking.seen == [("intent", "tool.intent")]


def test_the_same_key_twice_calls_once(store: Store, log: ReceiptLog, counting: CountingToolServer) -> None:
    executor = executor_for(store, log, refund_tool(counting.url, "unsafe"))
    first = executor.execute(task="t1", step=3, tool="refund", args=ARGS)
    again = executor.execute(task="t1", step=3, tool="refund", args=dict(reversed(list(ARGS.items()))))
    assert counting.total_calls == 1
    assert again.replayed and again.calls == 0 and again.output == first.output and again.key == first.key
    assert kinds(store) == ["tool.intent", "tool.result"]
    executor.registry.close()


def test_another_step_is_another_call(store: Store, log: ReceiptLog, counting: CountingToolServer) -> None:
    executor = executor_for(store, log, refund_tool(counting.url, "unsafe"))
    executor.execute(task="t1", step=0, tool="refund", args=ARGS)
    executor.execute(task="t1", step=1, tool="refund", args=ARGS)
    assert counting.total_calls == 2 and len(counting.calls) == 2
    executor.registry.close()


def test_an_error_output_is_recorded_failed_and_never_repeated(store: Store, log: ReceiptLog) -> None:
    executor = executor_for(store, log, tool("explode", "python:sample_tools:explode"))
    first = executor.execute(task="t1", step=0, tool="explode", args={"order_id": "1"})
    again = executor.execute(task="t1", step=0, tool="explode", args={"order_id": "1"})
    assert first.state == again.state == "failed" and again.replayed
    assert first.output == ToolOutput({"error": "ValueError", "message": "order 1 is cursed"}, is_error=True)


def test_results_a_receipt_cannot_hold_are_replaced(store: Store, log: ReceiptLog) -> None:
    executor = executor_for(
        store, log, tool("not_json", "python:sample_tools:not_json"), tool("huge", "python:sample_tools:huge")
    )
    bad = executor.execute(task="t1", step=0, tool="not_json", args={"order_id": "1"})
    assert bad.state == "failed" and bad.output.content["error"] == "not_json"  # type: ignore[union-attr]
    big = executor.execute(task="t1", step=1, tool="huge", args={"order_id": "1"})
    assert big.state == "done"
    assert big.output.content["truncated"] is True and big.output.content["bytes"] > 300_000  # type: ignore[union-attr]


def test_a_tool_whose_module_is_missing_fails_known(store: Store, log: ReceiptLog) -> None:
    executor = executor_for(store, log, tool("ghost", "python:no_such_module_anywhere:f"))
    outcome = executor.execute(task="t1", step=0, tool="ghost", args={})
    assert outcome.state == "failed" and outcome.output.content["error"] == "adapter"  # type: ignore[union-attr]


# --- crashes and recovery ------------------------------------------------------------------------


def crash_then_recover(
    store: Store, log: ReceiptLog, counting: CountingToolServer, replay: str, *, before: bool = False
) -> tuple[str, list[ToolCallOutcome]]:
    """Run the call in an executor that dies mid-call, then recover with a fresh one (a new process)."""
    crashing = executor_for(
        store,
        log,
        refund_tool(counting.url, replay),
        adapters={"refund": Crashing(HttpAdapter(counting.url), before=before)},
    )
    with pytest.raises(SystemExit):
        crashing.execute(task="t1", step=0, tool="refund", args=ARGS)
    crashing.registry.close()
    key = idempotency_key("desk", "t1", 0, "refund", ARGS)
    assert row_state(store, key) == "intent"
    assert kinds(store) == ["tool.intent"]
    fresh = executor_for(store, log, refund_tool(counting.url, replay))
    assert [r.key for r in fresh.open_intents()] == [key]
    try:
        return key, fresh.recover("t1")
    finally:
        fresh.registry.close()


def test_idempotent_recovery_calls_again_with_the_same_key(
    store: Store, log: ReceiptLog, counting: CountingToolServer
) -> None:
    key, [outcome] = crash_then_recover(store, log, counting, "idempotent")
    assert set(counting.calls) == {key} and counting.calls[key] == 2
    assert counting.executions[key] == 1  # the tool honoured the key
    assert outcome.state == "done" and outcome.calls == 1
    assert kinds(store) == ["tool.intent", "tool.result"]
    with store.read() as conn:
        assert list_receipts(conn, "desk", kind="tool.result")[0].body["via"] == "retry"


def test_reconcilable_recovery_asks_the_tool_and_records_its_answer(
    store: Store, log: ReceiptLog, counting: CountingToolServer
) -> None:
    key, [outcome] = crash_then_recover(store, log, counting, "reconcilable")
    assert counting.calls == {key: 1} and counting.lookups == [key]
    assert outcome.state == "done" and outcome.output.content["args"] == ARGS  # type: ignore[union-attr]
    with store.read() as conn:
        result = list_receipts(conn, "desk", kind="tool.result")[0]
    assert result.body["via"] == "reconcile" and result.body["cost"] == "0"


def test_reconcilable_recovery_parks_when_the_tool_never_saw_the_key(
    store: Store, log: ReceiptLog, counting: CountingToolServer
) -> None:
    key, [outcome] = crash_then_recover(store, log, counting, "reconcilable", before=True)
    assert counting.total_calls == 0 and counting.lookups == [key]
    assert outcome.state == "parked" and "does not know the key" in (outcome.reason or "")
    assert row_state(store, key) == "parked"


def test_unsafe_recovery_parks_and_never_calls_twice(
    store: Store, log: ReceiptLog, counting: CountingToolServer
) -> None:
    key, [outcome] = crash_then_recover(store, log, counting, "unsafe")
    assert outcome.state == "parked" and outcome.output is None
    assert "interrupted between intent and result; replay: unsafe" in (outcome.reason or "")
    assert kinds(store) == ["tool.intent", "tool.parked"]
    executor = executor_for(store, log, refund_tool(counting.url, "unsafe"))
    again = executor.execute(task="t1", step=0, tool="refund", args=ARGS)
    assert again.state == "parked" and again.replayed
    assert executor.recover("t1") == []
    assert counting.calls == {key: 1} and counting.lookups == []
    executor.registry.close()
    assert_chain_verifies(store)


def test_executing_an_open_intent_again_resolves_it_instead_of_calling(
    store: Store, log: ReceiptLog, counting: CountingToolServer
) -> None:
    crashing = executor_for(
        store,
        log,
        refund_tool(counting.url, "unsafe"),
        adapters={"refund": Crashing(HttpAdapter(counting.url))},
    )
    with pytest.raises(SystemExit):
        crashing.execute(task="t1", step=0, tool="refund", args=ARGS)
    executor = executor_for(store, log, refund_tool(counting.url, "unsafe"))
    outcome = executor.execute(task="t1", step=0, tool="refund", args=ARGS)
    assert outcome.state == "parked" and counting.total_calls == 1
    crashing.registry.close()
    executor.registry.close()


def test_keyboard_interrupt_also_leaves_the_intent_open(store: Store, log: ReceiptLog) -> None:
    executor = executor_for(
        store,
        log,
        tool("refund", "python:sample_tools:refund", effect="write", replay="reconcilable", args=REFUND_ARGS),
        adapters={"refund": Crashing(_python("refund"), exc=KeyboardInterrupt)},
    )
    with pytest.raises(KeyboardInterrupt):
        executor.execute(task="t1", step=0, tool="refund", args=ARGS)
    fresh = executor_for(
        store,
        log,
        tool("refund", "python:sample_tools:refund", effect="write", replay="reconcilable", args=REFUND_ARGS),
    )
    [outcome] = fresh.recover("t1")
    assert outcome.state == "done" and outcome.output.content == {"refunded": 25.5, "order_id": "42"}  # type: ignore[union-attr]
    assert sum(sample_tools.CALLS.values()) == 1


def _python(name: str) -> ToolAdapter:
    from pilotgate.tools import PythonAdapter

    return PythonAdapter("sample_tools", name)


# --- unknown outcomes during the call (timeouts, dropped answers) -----------------------------------


@pytest.mark.parametrize(
    ("replay", "state", "calls", "lookups"),
    [("idempotent", "parked", 2, 0), ("reconcilable", "done", 1, 1), ("unsafe", "parked", 1, 0)],
)
def test_a_timeout_is_recovered_by_replay_safety(
    store: Store,
    log: ReceiptLog,
    counting: CountingToolServer,
    replay: str,
    state: str,
    calls: int,
    lookups: int,
) -> None:
    counting.mode = "hang"
    counting.hang_seconds = 1.0
    slow = HttpAdapter(counting.url, timeout=httpx.Timeout(0.2))
    executor = executor_for(store, log, refund_tool(counting.url, replay), adapters={"refund": slow})
    outcome = executor.execute(task="t1", step=0, tool="refund", args=ARGS)
    executor.registry.close()
    assert outcome.state == state
    assert counting.total_calls == calls and len(counting.calls) == 1 and len(counting.lookups) == lookups
    assert counting.executions[outcome.key] == 1
    if state == "parked":
        assert "outcome unknown" in (outcome.reason or "")


def test_a_dropped_answer_on_an_idempotent_tool_is_retried_once(
    store: Store, log: ReceiptLog, counting: CountingToolServer
) -> None:
    counting.mode = "drop"
    executor = executor_for(store, log, refund_tool(counting.url, "idempotent"))
    outcome = executor.execute(task="t1", step=0, tool="refund", args=ARGS)
    assert outcome.state == "parked" and counting.calls[outcome.key] == 2
    counting.mode = "ok"
    executor.registry.close()


# --- parking hook and dry run ----------------------------------------------------------------------


def test_the_park_hook_runs_in_the_parking_transaction(
    store: Store, log: ReceiptLog, counting: CountingToolServer
) -> None:
    seen: list[tuple[str, bool]] = []

    def on_park(conn: Connection, outcome: ToolCallOutcome) -> None:
        seen.append((outcome.state, conn.in_transaction()))
        conn.execute(text("UPDATE tool_calls SET updated_at = 'hooked' WHERE key = :k"), {"k": outcome.key})

    counting.mode = "drop"
    executor = executor_for(store, log, refund_tool(counting.url, "unsafe"), on_park=on_park)
    outcome = executor.execute(task="t1", step=0, tool="refund", args=ARGS)
    executor.registry.close()
    assert seen == [("parked", True)]
    with store.read() as conn:
        assert (
            conn.execute(select(tool_calls.c.updated_at).where(tool_calls.c.key == outcome.key)).scalar()
            == "hooked"
        )


def test_dry_run_records_what_would_be_called_and_calls_nothing(
    store: Store, log: ReceiptLog, counting: CountingToolServer
) -> None:
    executor = executor_for(
        store,
        log,
        refund_tool(counting.url, "unsafe"),
        tool("lookup_order", "python:sample_tools:lookup_order", args=ORDER_ARGS),
        dry_run=True,
        canned={"refund": lambda args: ToolOutput({"refunded": args["amount"]})},
    )
    refund = executor.execute(task="e1", step=0, tool="refund", args=ARGS)
    lookup = executor.execute(task="e1", step=1, tool="lookup_order", args={"order_id": "1"})
    assert refund.dry_run and refund.output == ToolOutput({"refunded": 25.5})
    assert lookup.output == ToolOutput({"dry_run": True})
    assert counting.total_calls == 0 and not sample_tools.CALLS
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(tool_calls)).scalar() == 0
        intent = list_receipts(conn, "desk", kind="tool.intent", limit=1)[0]
        result = list_receipts(conn, "desk", kind="tool.result", limit=1)[0]
    assert intent.body["dry_run"] is True and result.body["via"] == "dry_run"


class _Leaky(Exception):
    """An adapter failure whose text holds data (as a driver's error might quote a request)."""


def test_an_adapter_exception_is_logged_by_type_never_by_its_text(
    store: Store, log: ReceiptLog, caplog: pytest.LogCaptureFixture
) -> None:
    canary = "canary-7f3a91-refund-secret"
    executor = executor_for(
        store,
        log,
        tool("refund", "python:sample_tools:refund", effect="write", replay="unsafe", args=REFUND_ARGS),
        adapters={"refund": Crashing(_python("refund"), before=True, exc=lambda _m: _Leaky(canary))},
    )
    with caplog.at_level("WARNING", logger="pilotgate.tools"):
        outcome = executor.execute(task="t1", step=0, tool="refund", args=ARGS)
    assert outcome.state == "parked"
    assert "adapter raised _Leaky" in caplog.text
    assert canary not in caplog.text and canary not in outcome.reason  # type: ignore[operator]

"""A crash between a tool call's intent and its result: the task is never continued blindly."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import bodies, kinds, receipts_of

from pilotgate.demo import scaffold_pilot
from pilotgate.errors import TaskError
from pilotgate.receipts import list_receipts
from pilotgate.runtime import Runtime, TaskState, open_runtime
from pilotgate.runtime.rows import load
from pilotgate.tools import ToolOutput
from pilotgate.workspace import Workspace, open_workspace

SMALL_REFUND = "Refund 35 EUR for order 100311, the parcel arrived late."


@dataclass
class CountingAdapter:
    """A refund adapter that counts calls, can fail mid-call, and knows no key when asked to reconcile."""

    raise_mid_call: bool = False
    kind: str = "python"
    calls: int = 0
    reconciles: int = 0

    @property
    def can_reconcile(self) -> bool:
        return True

    def call(self, args: Mapping[str, Any], *, idempotency_key: str) -> ToolOutput:
        self.calls += 1
        if self.raise_mid_call:
            raise ConnectionResetError("the payments API dropped the connection after the request was sent")
        return ToolOutput(content={"refund": "rf-1", **args})

    def reconcile(self, idempotency_key: str) -> ToolOutput | None:
        self.reconciles += 1
        return None

    def close(self) -> None:
        pass


def test_an_adapter_that_raises_mid_call_parks_the_task(workspace: Workspace) -> None:
    adapter = CountingAdapter(raise_mid_call=True)
    with open_runtime(workspace, tool_adapters={"issue_refund": adapter}) as runtime:
        result = runtime.run(SMALL_REFUND, user="bob")
        assert result.state is TaskState.PARKED and result.outcome is None
        assert "unknown" in result.answer
        with pytest.raises(TaskError, match="parked"):
            runtime.resume(result.task_id, after_crash=True)
    assert (adapter.calls, adapter.reconciles) == (1, 1)
    assert kinds(workspace, result.task_id)[-3:] == ["policy.decision", "tool.intent", "tool.parked"]
    with workspace.store.read() as conn:
        assert load(conn, workspace.name, result.task_id).state is TaskState.PARKED


CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pilotgate.runtime import open_runtime
    from pilotgate.tools import ToolOutput
    from pilotgate.workspace import open_workspace

    class DiesMidCall:
        kind = "python"
        can_reconcile = True
        def call(self, args, *, idempotency_key):
            with open(sys.argv[2], "a") as calls:
                calls.write(idempotency_key + "\\n")
            os.kill(os.getpid(), signal.SIGKILL)
        def reconcile(self, key):
            return None
        def close(self):
            pass

    workspace = open_workspace(sys.argv[1])
    runtime = open_runtime(workspace, tool_adapters={"issue_refund": DiesMidCall()})
    runtime.run(sys.argv[3], user="bob")
    """
)


def test_a_killed_worker_leaves_an_intent_that_is_recovered_not_rerun(tmp_path: Path) -> None:
    folder = tmp_path / "desk"
    scaffold_pilot(folder)
    calls = tmp_path / "calls.txt"
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(folder), str(calls), SMALL_REFUND],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0  # killed
    assert len(calls.read_text().splitlines()) == 1
    workspace = open_workspace(folder)
    try:
        [started] = bodies_of_kind(workspace, "task.started")
        task = started
        with workspace.store.read() as conn:
            assert load(conn, workspace.name, task).state is TaskState.RUNNING
        assert kinds(workspace, task)[-1] == "tool.intent"
        adapter = CountingAdapter()
        with open_runtime(workspace, tool_adapters={"issue_refund": adapter}, sync=False) as runtime:
            result = runtime.resume(task, after_crash=True)
        assert result.state is TaskState.PARKED
        assert adapter.calls == 0 and adapter.reconciles == 1
        assert len(calls.read_text().splitlines()) == 1
        assert bodies(workspace, task, "tool.parked")[0]["replay"] == "reconcilable"
    finally:
        workspace.close()


def bodies_of_kind(workspace: Workspace, kind: str) -> list[str]:
    from runtime_helpers import receipts_of

    return [r.task or "" for r in receipts_of(workspace, kind=kind)]


def test_a_crash_after_the_result_replays_it_from_the_ledger(workspace: Workspace) -> None:
    """A worker that died after the tool's result was recorded: the task goes on with that result."""
    adapter = CountingAdapter()
    with open_runtime(workspace, tool_adapters={"issue_refund": adapter}) as runtime:
        result = runtime.run(SMALL_REFUND, user="bob")
        from sqlalchemy import update

        from pilotgate.store.tables import tasks

        # Put the row back as it was saved just before the call (decided, pending, no result yet).
        with workspace.store.write() as conn:
            conn.execute(
                update(tasks)
                .where(tasks.c.id == result.task_id)
                .values(
                    state="running",
                    pending='[{"call": {"id": "call_1", "name": "issue_refund", "arguments": '
                    '{"order_id": "100311", "amount": 35}}, "step": 1, "effect": "allow", '
                    '"decision": "sha256:x", "approval": null}]',
                    transcript='[{"call": {"id": "call_1", "name": "issue_refund", "arguments": '
                    '{"order_id": "100311", "amount": 35}}}]',
                )
            )
        again = runtime.resume(result.task_id, after_crash=True)
    assert again.outcome is not None and again.outcome.value == "resolved"
    assert adapter.calls == 1


@dataclass
class PeekingAdapter:
    """A refund adapter that, while it is being called, reads what another connection sees committed."""

    workspace: Workspace
    seen: list[tuple[list[str], TaskState, list[dict[str, Any]]]]
    kind: str = "python"
    can_reconcile: bool = False

    def call(self, args: Mapping[str, Any], *, idempotency_key: str) -> ToolOutput:
        with self.workspace.store.read() as conn:
            [task] = {r.task for r in list_receipts(conn, self.workspace.name, kind="tool.intent")}
            row = load(conn, self.workspace.name, task or "")
        self.seen.append((kinds(self.workspace, task), row.state, row.pending))
        return ToolOutput(content={"refund": "rf-1", **args})

    def reconcile(self, idempotency_key: str) -> ToolOutput | None:
        return None

    def close(self) -> None:
        pass


def test_everything_up_to_the_intent_is_committed_before_the_call(workspace: Workspace) -> None:
    seen: list[tuple[list[str], TaskState, list[dict[str, Any]]]] = []
    with open_runtime(workspace, tool_adapters={"issue_refund": PeekingAdapter(workspace, seen)}) as runtime:
        result = runtime.run(SMALL_REFUND, user="bob")
    [(committed, state, pending)] = seen
    assert committed == ["task.started", "retrieval", "model.call", "policy.decision", "tool.intent"]
    assert state is TaskState.RUNNING
    assert [(p["call"]["name"], p["effect"]) for p in pending] == [("issue_refund", "allow")]
    assert pending[0]["decision"] == bodies_hash(workspace, result.task_id, "policy.decision")


def bodies_hash(workspace: Workspace, task: str, kind: str) -> str:
    with workspace.store.read() as conn:
        [receipt] = list_receipts(conn, workspace.name, task=task, kind=kind)
    return receipt.hash


def test_a_failure_before_the_first_commit_still_records_the_whole_task(workspace: Workspace) -> None:
    adapter = CountingAdapter()
    with open_runtime(workspace, tool_adapters={"issue_refund": adapter}) as runtime:

        def broken(*_args: Any, **_kwargs: Any) -> Any:
            raise RuntimeError("a bug while recording the intent, inside the task's first commit")

        runtime.executor.record_intent = broken  # type: ignore[method-assign]
        with pytest.raises(RuntimeError):
            runtime.run(SMALL_REFUND, user="bob")
    assert adapter.calls == 0
    [task] = {r.task for r in receipts_of(workspace, kind="task.finished")}
    assert kinds(workspace, task) == [
        "task.started",
        "retrieval",
        "model.call",
        "policy.decision",
        "task.finished",
    ]
    with workspace.store.read() as conn:
        assert load(conn, workspace.name, task or "").state is TaskState.FAILED


@dataclass
class LookupAdapter:
    """An order lookup that notes what another connection sees committed while it runs, and can fail."""

    workspace: Workspace
    seen: list[list[str]]
    unknown_first: int = 0
    """How many calls fail with an unknown outcome before one answers."""
    kind: str = "python"
    can_reconcile: bool = False
    calls: int = 0

    def call(self, args: Mapping[str, Any], *, idempotency_key: str) -> ToolOutput:
        self.calls += 1
        self.seen.append([kind for kind in kinds(self.workspace) if kind != "ingest"])
        if self.calls <= self.unknown_first:
            raise TimeoutError("the order service did not answer in time")
        return ToolOutput(content={"order": args["order_id"], "status": "shipped"})

    def reconcile(self, idempotency_key: str) -> ToolOutput | None:
        return None

    def close(self) -> None:
        pass


def test_a_read_is_called_after_its_intent_commits_and_its_result_commits_with_the_task(
    workspace: Workspace,
) -> None:
    # The intent is on disk before any call; a read's result need not be (a crash before the task's next
    # commit leaves an intent without a result, and recovery calls the read again): two commits, not three.
    seen: list[list[str]] = []
    adapter = LookupAdapter(workspace, seen)
    with open_runtime(workspace, tool_adapters={"lookup_order": adapter}) as runtime:
        result = runtime.run("Where is my order 100200?", user="alice")
    assert seen == [["task.started", "retrieval", "model.call", "policy.decision", "tool.intent"]]
    got = receipts_of(workspace, result.task_id)
    assert [r.kind for r in got] == [
        "task.started",
        "retrieval",
        "model.call",
        "policy.decision",
        "tool.intent",
        "tool.result",
        "model.call",
        "task.finished",
    ]
    decision, intent, tool_result = got[3], got[4], got[5]
    assert intent.record["refs"] == [decision.hash] and tool_result.record["refs"] == [intent.hash]
    assert tool_result.body["state"] == "done" and tool_result.body["via"] == "call"
    record = runtime.executor.lookup(intent.body["key"])
    assert record is not None and record.state == "done"
    assert (record.intent_seq, record.result_seq) == (intent.seq, tool_result.seq)
    assert [r.seq for r in result.receipts] == [r.seq for r in got]


def test_a_read_interrupted_before_its_result_committed_is_called_again_on_recovery(
    workspace: Workspace,
) -> None:
    seen: list[list[str]] = []
    adapter = LookupAdapter(workspace, seen)
    with open_runtime(workspace, tool_adapters={"lookup_order": adapter}) as runtime:
        # The process dies at the second model call: nothing after the intent is committed.
        fail_second_model_call(runtime, KeyboardInterrupt())
        with pytest.raises(KeyboardInterrupt):
            runtime.run("Where is my order 100200?", user="alice")
    [task] = {r.task for r in receipts_of(workspace, kind="tool.intent")}
    assert kinds(workspace, task)[-1] == "tool.intent"  # the result was never committed
    with open_runtime(workspace, tool_adapters={"lookup_order": adapter}) as runtime:
        result = runtime.resume(task or "", after_crash=True)
    assert adapter.calls == 2 and result.outcome is not None
    [tool_result] = bodies(workspace, task or "", "tool.result")
    assert (tool_result["state"], tool_result["via"]) == ("done", "retry")


def test_a_read_whose_outcome_is_unknown_is_recorded_then_retried_once_with_its_key(
    workspace: Workspace,
) -> None:
    seen: list[list[str]] = []
    adapter = LookupAdapter(workspace, seen, unknown_first=1)
    with open_runtime(workspace, tool_adapters={"lookup_order": adapter}) as runtime:
        result = runtime.run("Where is my order 100200?", user="alice")
    assert adapter.calls == 2
    # Both calls came only after the intent (and the decision before it) had committed.
    assert seen[0][-2:] == seen[1][-2:] == ["policy.decision", "tool.intent"]
    [tool_result] = bodies(workspace, result.task_id, "tool.result")
    assert (tool_result["state"], tool_result["via"], tool_result["calls"]) == ("done", "retry", 2)


def test_a_read_tool_that_stays_unknown_is_parked_after_one_retry(workspace: Workspace) -> None:
    adapter = LookupAdapter(workspace, [], unknown_first=5)
    with open_runtime(workspace, tool_adapters={"lookup_order": adapter}) as runtime:
        result = runtime.run("Where is my order 100200?", user="alice")
    assert adapter.calls == 2 and result.state is TaskState.PARKED
    assert kinds(workspace, result.task_id)[-2:] == ["tool.intent", "tool.parked"]


def test_a_failure_after_a_read_still_records_the_read(workspace: Workspace) -> None:
    adapter = LookupAdapter(workspace, [])
    with open_runtime(workspace, tool_adapters={"lookup_order": adapter}) as runtime:
        fail_second_model_call(runtime, RuntimeError("a bug after the lookup, before the task's next commit"))
        with pytest.raises(RuntimeError):
            runtime.run("Where is my order 100200?", user="alice")
    assert adapter.calls == 1
    [task] = {r.task for r in receipts_of(workspace, kind="task.finished")}
    assert kinds(workspace, task)[-3:] == ["tool.intent", "tool.result", "task.finished"]
    [intent] = bodies(workspace, task or "", "tool.intent")
    record = runtime.executor.lookup(intent["key"])
    assert record is not None and record.state == "done"


def fail_second_model_call(runtime: Runtime, error: BaseException) -> None:
    """Make the task's second model call (the one after its tool call) raise ``error``."""
    original = runtime.router.route
    asked = 0

    def route(*args: Any, **kwargs: Any) -> Any:
        nonlocal asked
        asked += 1
        if asked == 2:
            raise error
        return original(*args, **kwargs)

    runtime.router.route = route  # type: ignore[method-assign]

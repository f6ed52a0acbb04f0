"""An approval gates exactly one call: it is consumed in the transaction that records the call's intent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection

from pilotgate.approvals import ApprovalQueue
from pilotgate.errors import ApprovalRefusedError
from pilotgate.receipts import list_receipts
from pilotgate.spec import PilotSpec
from pilotgate.store import Store
from pilotgate.tools import ToolExecutor, ToolOutput, ToolRegistry

ARGS = {"order_id": "123456", "amount": 900}


class Counting:
    """A tool adapter that counts its calls."""

    kind = "test"
    can_reconcile = False

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def call(self, args: Any, *, idempotency_key: str) -> ToolOutput:
        self.calls.append(dict(args))
        return ToolOutput({"refunded": args["amount"]})

    def reconcile(self, idempotency_key: str) -> None:
        return None

    def close(self) -> None:
        return None


@pytest.fixture
def refund() -> Counting:
    return Counting()


@pytest.fixture
def executor(queue: ApprovalQueue, store: Store, refund: Counting) -> ToolExecutor:
    spec = PilotSpec.model_validate(
        {
            "pilot": {"name": "desk", "owner": "dana", "workflow": "w"},
            "users": [{"name": "bob", "groups": ["agents"]}],
            "tools": [
                {
                    "name": "issue_refund",
                    "adapter": "http://127.0.0.1:1/refunds",
                    "effect": "external",
                    "risk": "high",
                    "roles": ["agents"],
                }
            ],
        }
    )
    return ToolExecutor(ToolRegistry.from_spec(spec, adapters={"issue_refund": refund}), store, queue.log)


def approved(queue: ApprovalQueue) -> str:
    approval = queue.request(
        task="task-1",
        tool="issue_refund",
        args=ARGS,
        rule="big-refunds-need-finance",
        approvers=["finance"],
        expires=timedelta(hours=4),
        requested_by="bob",
    )
    queue.decide(approval.id, approver="carol", approver_groups=["finance"], approve=True)
    return approval.id


def consume(queue: ApprovalQueue, approval_id: str, args: dict[str, Any]) -> Any:
    def hook(conn: Connection) -> None:
        queue.consume(approval_id, tool="issue_refund", args=args, task="task-1", conn=conn)

    return hook


def test_the_approved_call_runs_once_and_uses_the_approval(
    queue: ApprovalQueue, executor: ToolExecutor, refund: Counting, store: Store
) -> None:
    approval_id = approved(queue)
    first = executor.execute(
        task="task-1", step=0, tool="issue_refund", args=ARGS, on_intent=consume(queue, approval_id, ARGS)
    )
    again = executor.execute(
        task="task-1", step=0, tool="issue_refund", args=ARGS, on_intent=consume(queue, approval_id, ARGS)
    )
    assert first.state == "done" and again.replayed and refund.calls == [ARGS]
    assert queue.get(approval_id).state == "consumed"
    with store.read() as conn:
        kinds = [r.kind for r in list_receipts(conn, "desk", newest_first=False)]
    assert kinds == [
        "approval.requested",
        "approval.decided",
        "tool.intent",
        "approval.consumed",
        "tool.result",
    ]


@pytest.mark.parametrize("step", [0, 1])
def test_changed_arguments_or_a_replayed_approval_get_nothing(
    queue: ApprovalQueue, executor: ToolExecutor, refund: Counting, store: Store, step: int
) -> None:
    approval_id = approved(queue)
    executor.execute(
        task="task-1", step=0, tool="issue_refund", args=ARGS, on_intent=consume(queue, approval_id, ARGS)
    )
    bigger = {"order_id": "123456", "amount": 9000}
    args = bigger if step == 0 else ARGS  # step 0: changed argument; step 1: the same call again, later
    with pytest.raises(ApprovalRefusedError) as caught:
        executor.execute(
            task="task-1", step=1, tool="issue_refund", args=args, on_intent=consume(queue, approval_id, args)
        )
    assert caught.value.code == ("binding" if step == 0 else "consumed")
    assert refund.calls == [ARGS]
    with store.read() as conn:
        assert len(list_receipts(conn, "desk", kind="tool.intent")) == 1

"""Approvals: only a pending row, decided by an approver who is not the requester, used once for exactly
the call it was asked for, lets a call through."""

from __future__ import annotations

import threading
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
from approval_helpers import ManualClock
from sqlalchemy import Connection, text

from pilotgate.approvals import Approval, ApprovalQueue, bound_hash
from pilotgate.errors import ApprovalNotFoundError, ApprovalRefusedError, UsageError
from pilotgate.receipts import ReceiptLog, list_receipts, verify_store
from pilotgate.store import Store
from pilotgate.testing import SequentialIds
from pilotgate.tools import args_hash

ARGS = {"order_id": "123456", "amount": 900}


def ask(queue: ApprovalQueue, *, task: str = "task-1", args: dict[str, Any] | None = None) -> Approval:
    return queue.request(
        task=task,
        tool="issue_refund",
        args=ARGS if args is None else args,
        rule="big-refunds-need-finance",
        approvers=["finance"],
        expires=timedelta(hours=4),
        requested_by="bob",
    )


def approve(
    queue: ApprovalQueue, approval_id: str, who: str = "carol", groups: tuple[str, ...] = ("finance",)
) -> Approval:
    return queue.decide(
        approval_id, approver=who, approver_groups=groups, approve=True, reason="checked the order"
    )


def kinds(store: Store) -> list[str]:
    with store.read() as conn:
        return [r.kind for r in list_receipts(conn, "desk", limit=100, newest_first=False)]


def body(store: Store, kind: str) -> dict[str, Any]:
    with store.read() as conn:
        return list_receipts(conn, "desk", kind=kind, limit=1)[0].body


# --- request and decide ------------------------------------------------------------------------


def test_a_request_is_persisted_pending_with_its_receipt(queue: ApprovalQueue, store: Store) -> None:
    approval = ask(queue)
    assert approval.id == "approval-0001" and approval.state == "pending"
    assert approval.expires_at == "2026-11-25T14:00:00.000000Z"
    assert queue.find() == [approval] and queue.get(approval.id) == approval
    assert approval.args_hash == bound_hash(ARGS) == args_hash(ARGS)
    requested = body(store, "approval.requested")
    assert requested["args"] == ARGS and requested["approvers"] == ["finance"]
    assert requested["requested_by"] == "bob" and requested["rule"] == "big-refunds-need-finance"


def test_an_approver_in_the_rules_group_approves(queue: ApprovalQueue, store: Store) -> None:
    decided = approve(queue, ask(queue).id)
    assert (
        decided.state == "approved"
        and decided.decided_by == "carol"
        and decided.reason == "checked the order"
    )
    assert queue.get(decided.id) == decided
    assert queue.find() == [] and queue.find(states=None) == [decided]
    assert body(store, "approval.decided")["decision"] == "approved"
    with store.read() as conn:
        receipt = list_receipts(conn, "desk", kind="approval.decided", limit=1)[0]
        verify_store(conn, "desk", None).raise_for_failure()
    assert receipt.record["actor"] == {"kind": "approver", "id": "carol"}


def test_the_requester_cannot_approve_even_in_the_group(queue: ApprovalQueue, store: Store) -> None:
    approval = ask(queue)
    with pytest.raises(ApprovalRefusedError) as caught:
        approve(queue, approval.id, who="bob", groups=("finance", "agents"))
    assert caught.value.code == "self_approval" and caught.value.hint
    assert queue.get(approval.id).state == "pending"
    assert body(store, "approval.refused") == {"approval": approval.id, "by": "bob", "code": "self_approval"}


def test_someone_outside_the_rules_groups_cannot_decide(queue: ApprovalQueue) -> None:
    approval = ask(queue)
    for approve_it in (True, False):
        with pytest.raises(ApprovalRefusedError) as caught:
            queue.decide(
                approval.id, approver="dave", approver_groups=["agents"], approve=approve_it, reason="no"
            )
        assert caught.value.code == "not_an_approver" and "finance" in caught.value.message
    assert queue.get(approval.id).state == "pending"


@pytest.mark.parametrize("forged", ["approval-9999", "approval-0001' OR '1'='1", "", "x" * 500])
def test_unknown_or_forged_ids_get_nothing(queue: ApprovalQueue, forged: str) -> None:
    ask(queue, task="other")  # approval-0001 exists, but not under these ids
    with pytest.raises(ApprovalNotFoundError) as caught:
        approve(queue, forged)
    assert caught.value.exit_code == 2 and "x" * 100 not in caught.value.message
    with pytest.raises(ApprovalNotFoundError):
        queue.consume(forged, tool="issue_refund", args=ARGS)


def test_another_pilots_approval_is_not_found(queue: ApprovalQueue, store: Store, clock: ManualClock) -> None:
    other = ApprovalQueue(store, ReceiptLog("other-pilot", clock=clock), clock=clock, ids=SequentialIds())
    theirs = ask(other)
    with pytest.raises(ApprovalNotFoundError):
        approve(queue, theirs.id)  # the same id text, but our pilot has no such row
    assert other.get(theirs.id).state == "pending"


def test_a_decided_request_cannot_be_decided_again(queue: ApprovalQueue) -> None:
    approval = ask(queue)
    approve(queue, approval.id)
    with pytest.raises(ApprovalRefusedError) as caught:
        queue.decide(approval.id, approver="carol", approver_groups=["finance"], approve=False, reason="oops")
    assert caught.value.code == "decided"
    assert queue.get(approval.id).state == "approved"


def test_a_denial_needs_a_reason_and_is_final(queue: ApprovalQueue) -> None:
    approval = ask(queue)
    with pytest.raises(UsageError, match="needs a reason"):
        queue.decide(approval.id, approver="carol", approver_groups=["finance"], approve=False, reason="  ")
    denied = queue.decide(
        approval.id, approver="carol", approver_groups=["finance"], approve=False, reason="fraud"
    )
    assert denied.state == "denied" and denied.reason == "fraud"
    with pytest.raises(ApprovalRefusedError) as caught:
        queue.consume(approval.id, tool="issue_refund", args=ARGS, task="task-1")
    assert caught.value.code == "not_approved"


def test_a_request_nobody_could_decide_is_not_created(queue: ApprovalQueue) -> None:
    with pytest.raises(ValueError, match="at least one approver"):
        queue.request(
            task="t",
            tool="x",
            args={},
            rule="r",
            approvers=[],
            expires=timedelta(hours=1),
            requested_by="bob",
        )
    with pytest.raises(ValueError, match="positive"):
        queue.request(
            task="t",
            tool="x",
            args={},
            rule="r",
            approvers=["finance"],
            expires=timedelta(0),
            requested_by="bob",
        )


# --- expiry --------------------------------------------------------------------------------------


def test_an_expired_request_is_refused_and_recorded_expired(
    queue: ApprovalQueue, store: Store, clock: ManualClock
) -> None:
    approval = ask(queue)
    clock.advance(timedelta(hours=4))
    with pytest.raises(ApprovalRefusedError) as caught:
        approve(queue, approval.id)
    assert caught.value.code == "expired"
    assert queue.get(approval.id).state == "expired"
    assert body(store, "approval.decided")["decision"] == "expired"
    with pytest.raises(ApprovalRefusedError) as again:
        approve(queue, approval.id)
    assert again.value.code == "decided"


def test_expire_due_returns_the_tasks_to_escalate_once(queue: ApprovalQueue, clock: ManualClock) -> None:
    first = ask(queue, task="task-1")
    clock.advance(timedelta(hours=1))
    second = ask(queue, task="task-2")
    decided = ask(queue, task="task-3")
    approve(queue, decided.id)
    clock.advance(timedelta(hours=3, minutes=30))
    assert [a.task for a in queue.expire_due()] == ["task-1"]
    assert queue.expire_due() == []
    clock.advance(timedelta(hours=1))
    assert [a.id for a in queue.expire_due()] == [second.id]
    assert queue.get(first.id).state == queue.get(second.id).state == "expired"
    assert queue.get(decided.id).state == "approved"


def test_expire_due_commits_with_the_callers_transaction(
    queue: ApprovalQueue, store: Store, clock: ManualClock
) -> None:
    ask(queue)
    clock.advance(timedelta(days=1))
    with pytest.raises(RuntimeError), queue.log.transaction(store) as conn:
        assert len(queue.expire_due(conn=conn)) == 1
        raise RuntimeError("the runtime failed to escalate")
    assert queue.get("approval-0001").state == "pending"


# --- consume: bound to the exact call, once ------------------------------------------------------


def test_consume_once_for_exactly_the_approved_call(queue: ApprovalQueue, store: Store) -> None:
    approval = ask(queue)
    approve(queue, approval.id)
    used = queue.consume(
        approval.id, tool="issue_refund", args=dict(reversed(list(ARGS.items()))), task="task-1"
    )
    assert used.state == "consumed" and used.consumed_at
    with pytest.raises(ApprovalRefusedError) as caught:
        queue.consume(approval.id, tool="issue_refund", args=ARGS, task="task-1")
    assert caught.value.code == "consumed"
    assert kinds(store) == ["approval.requested", "approval.decided", "approval.consumed"]


@pytest.mark.parametrize(
    ("tool", "args", "task"),
    [
        ("issue_refund", {"order_id": "123456", "amount": 9000}, "task-1"),
        ("issue_refund", {"order_id": "123456", "amount": 900, "note": "x"}, "task-1"),
        ("issue_refund", {"order_id": "123456", "amount": 900.5}, "task-1"),
        ("delete_account", ARGS, "task-1"),
        ("issue_refund", ARGS, "task-2"),
    ],
)
def test_another_call_gets_nothing_and_does_not_burn_the_approval(
    queue: ApprovalQueue, tool: str, args: dict[str, Any], task: str
) -> None:
    approval = ask(queue)
    approve(queue, approval.id)
    with pytest.raises(ApprovalRefusedError) as caught:
        queue.consume(approval.id, tool=tool, args=args, task=task)
    assert caught.value.code == "binding"
    assert queue.get(approval.id).state == "approved"
    assert queue.consume(approval.id, tool="issue_refund", args=ARGS, task="task-1").state == "consumed"


def test_a_pending_approval_cannot_be_consumed(queue: ApprovalQueue) -> None:
    approval = ask(queue)
    with pytest.raises(ApprovalRefusedError) as caught:
        queue.consume(approval.id, tool="issue_refund", args=ARGS)
    assert caught.value.code == "not_approved"


def test_non_json_arguments_never_match(queue: ApprovalQueue) -> None:
    approval = ask(queue)
    approve(queue, approval.id)
    with pytest.raises(ApprovalRefusedError):
        queue.consume(approval.id, tool="issue_refund", args={"order_id": {1, 2}})


def test_the_decided_hook_runs_in_the_deciding_transaction(queue: ApprovalQueue, store: Store) -> None:
    seen: list[tuple[str, bool]] = []

    def on_decided(conn: Connection, approval: Approval) -> None:
        seen.append((approval.state, conn.in_transaction()))
        conn.execute(text("UPDATE approvals SET reason = 'hooked' WHERE id = :i"), {"i": approval.id})

    approval = ask(queue)
    queue.decide(
        approval.id, approver="carol", approver_groups=["finance"], approve=True, on_decided=on_decided
    )
    assert seen == [("approved", True)]
    assert queue.get(approval.id).reason == "hooked"


# --- concurrency ---------------------------------------------------------------------------------


def race(*actions: Any) -> list[BaseException | object]:
    """Run the actions at the same moment in threads; return each one's result or exception."""
    barrier = threading.Barrier(len(actions))
    results: list[BaseException | object] = [None] * len(actions)

    def run(index: int) -> None:
        barrier.wait()
        try:
            results[index] = actions[index]()
        except BaseException as exc:
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(actions))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_two_approvers_at_once_exactly_one_decision_wins(queue: ApprovalQueue, store: Store) -> None:
    for round_ in range(4):
        approval_id = ask(queue, task=f"task-{round_}").id
        results = race(
            partial(queue.decide, approval_id, approver="carol", approver_groups=["finance"], approve=True),
            partial(
                queue.decide,
                approval_id,
                approver="erin",
                approver_groups=["finance"],
                approve=False,
                reason="no",
            ),
        )
        winners = [r for r in results if isinstance(r, Approval)]
        losers = [r for r in results if isinstance(r, ApprovalRefusedError)]
        assert len(winners) == 1 and len(losers) == 1, results
        assert losers[0].code == "decided"
        assert queue.get(approval_id).state == winners[0].state
    assert kinds(store).count("approval.decided") == 4


def test_two_consumers_at_once_exactly_one_gets_it(queue: ApprovalQueue) -> None:
    approval = ask(queue)
    approve(queue, approval.id)
    results = race(*[lambda: queue.consume(approval.id, tool="issue_refund", args=ARGS, task="task-1")] * 3)
    assert sum(isinstance(r, Approval) for r in results) == 1
    assert sum(isinstance(r, ApprovalRefusedError) for r in results) == 2

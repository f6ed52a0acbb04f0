"""One task end to end through the real runtime, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from pilotgate.demo import scaffold_pilot
from pilotgate.errors import TaskError
from pilotgate.models import ReferenceModel
from pilotgate.receipts import list_receipts, verify_store
from pilotgate.runtime import Outcome, Runtime, open_runtime
from pilotgate.store.tables import receipts, tasks
from pilotgate.testing import FixedClock, SequentialIds
from pilotgate.workspace import Workspace, open_workspace


@pytest.fixture
def runtime(workspace: Workspace) -> Iterator[Runtime]:
    with open_runtime(workspace, clock=FixedClock(), ids=SequentialIds()) as opened:
        yield opened


def kinds(workspace: Workspace, task: str | None = None) -> list[str]:
    with workspace.store.read() as conn:
        return [
            r.kind for r in list_receipts(conn, workspace.name, task=task, limit=1000, newest_first=False)
        ]


def test_a_task_answers_with_citations_and_leaves_four_receipts(
    runtime: Runtime, workspace: Workspace
) -> None:
    result = runtime.run("How long do refunds take to reach my card?", user="alice")
    assert result.outcome is Outcome.RESOLVED
    assert "5 business days" in result.answer
    assert {c.uri for c in result.citations} == {"returns.md"}
    assert kinds(workspace, task=result.task_id) == [
        "task.started",
        "retrieval",
        "model.call",
        "task.finished",
    ]
    assert [r.seq for r in result.receipts] == sorted(r.seq for r in result.receipts)
    with workspace.store.read() as conn:
        row = conn.execute(select(tasks).where(tasks.c.id == result.task_id)).one()
    assert (row.state, row.outcome, row.user) == ("resolved", "resolved", "alice")


def test_sources_are_ingested_once_with_a_receipt_each(workspace: Workspace) -> None:
    open_runtime(workspace, clock=FixedClock()).close()
    open_runtime(workspace, clock=FixedClock()).close()  # unchanged sources: no new ingest receipts
    assert kinds(workspace) == ["ingest", "ingest", "ingest"]


def test_restricted_content_never_reaches_a_user_outside_its_group(runtime: Runtime) -> None:
    question = "What is the chargeback reserve this quarter?"
    for user in ("alice", "bob"):
        result = runtime.run(question, user=user)
        assert result.outcome is Outcome.ESCALATED
        assert "41,200" not in result.answer
        assert all(c.source != "finance-notes" for c in result.citations)
    carol = runtime.run(question, user="carol")
    assert carol.outcome is Outcome.RESOLVED
    assert "41,200 EUR" in carol.answer


def test_nothing_relevant_escalates_plainly(runtime: Runtime, workspace: Workspace) -> None:
    result = runtime.run("What is the weather in Lisbon tomorrow?", user="bob")
    assert result.outcome is Outcome.ESCALATED
    assert result.citations == ()
    with workspace.store.read() as conn:
        finished = list_receipts(conn, workspace.name, task=result.task_id, kind="task.finished", limit=1)
    assert finished[0].record["body"]["escalated_to"] == "group:agents"


@pytest.mark.parametrize(
    ("question", "user", "message"),
    [
        ("How do refunds work?", "mallory", "unknown user 'mallory'"),
        ("   ", "alice", "the question is empty"),
        ("x" * 9000, "alice", "the limit is 8,000"),
    ],
)
def test_bad_requests_are_refused_before_anything_is_recorded(
    runtime: Runtime, workspace: Workspace, question: str, user: str, message: str
) -> None:
    before = kinds(workspace)
    with pytest.raises(TaskError, match=message) as caught:
        runtime.run(question, user=user)
    assert caught.value.hint
    assert kinds(workspace) == before
    with workspace.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(tasks)).scalar() == 0


def test_the_chain_verifies_after_tasks(runtime: Runtime, workspace: Workspace) -> None:
    for user, question in [("alice", "How do I reset my password?"), ("bob", "When should I escalate?")]:
        runtime.run(question, user=user)
    with workspace.store.read() as conn:
        report = verify_store(conn, workspace.name, workspace.public_key())
        count = conn.execute(select(func.count()).select_from(receipts)).scalar()
    assert report.ok, report.failure
    assert report.receipts_checked == count == 3 + 2 * 4


def test_same_inputs_give_the_same_receipts(tmp_path: Path) -> None:
    """With a fixed clock and sequential ids, two fresh pilots record byte-identical chains."""
    heads = []
    for name in ("one", "two"):
        scaffold_pilot(tmp_path / name)
        workspace = open_workspace(tmp_path / name)
        model = ReferenceModel(timer=lambda: 0.0)
        runtime = open_runtime(
            workspace, clock=FixedClock(), ids=SequentialIds(), model=model, timer=lambda: 0.0
        )
        runtime.run("How long does express shipping take?", user="alice")
        with workspace.store.read() as conn:
            heads.append([r.hash for r in list_receipts(conn, workspace.name, limit=100, newest_first=False)])
        workspace.close()
    assert heads[0] == heads[1]

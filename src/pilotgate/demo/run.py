"""`pilotgate demo` as a library function: the whole idea, end to end, in a throwaway folder.

It scaffolds the support-desk pilot and runs its questions as tasks: answers with citations, a tool call
allowed, one denied, a refund parked for approval (which the demo then approves as carol, so the task
resumes and resolves), and a hostile document stopped by policy. It counts the security figure from the
receipts, verifies the chain, then alters one receipt in a *copy* of the store — an escalated task
rewritten as resolved — and shows verify catching it. The original store is never touched.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection, select

from pilotgate.clock import Clock, IdFactory, new_id, utc_now
from pilotgate.data.sync import SourceSync
from pilotgate.demo.scaffold import demo_questions, scaffold_pilot
from pilotgate.receipts import VerifyReport, list_receipts, verify_store
from pilotgate.runtime import (
    Outcome,
    Runtime,
    SecurityFigure,
    TaskResult,
    TaskState,
    open_runtime,
    unauthorised_risky_executions,
)
from pilotgate.store import open_store
from pilotgate.store.tables import receipts
from pilotgate.workspace import Workspace, open_workspace


@dataclass(frozen=True)
class Tampering:
    """What the demo changed in the copy, and what verify said about it."""

    copy: Path
    seq: int
    change: str
    report: VerifyReport


APPROVER = "carol"
"""The demo's finance approver."""


@dataclass(frozen=True)
class Approved:
    """A task that waited for an approval, the approval, and the task after it resumed."""

    waiting: TaskResult
    approval_id: str
    approver: str
    resumed: TaskResult


@dataclass(frozen=True)
class Denial:
    """A tool call the policy stopped, as its ``policy.decision`` receipt records it."""

    task: str
    user: str
    question: str
    tool: str
    rule: str | None
    seq: int


@dataclass(frozen=True)
class DemoRun:
    """Everything the demo did, for the CLI to print."""

    folder: Path
    sources: tuple[SourceSync, ...]
    results: tuple[TaskResult, ...]
    """Each task as it ended (a task that waited for approval: after it resumed)."""
    approvals: tuple[Approved, ...]
    denials: tuple[Denial, ...]
    security: SecurityFigure
    verify: VerifyReport
    tampering: Tampering
    seconds: float


def run_demo(
    folder: Path,
    *,
    on_start: Callable[[int], None] | None = None,
    on_task: Callable[[TaskResult], None] | None = None,
    clock: Clock = utc_now,
    ids: IdFactory = new_id,
) -> DemoRun:
    """Run the demo in ``folder`` (created; must not already hold a pilot)."""
    started = time.perf_counter()
    scaffold_pilot(folder)
    workspace = open_workspace(folder)
    try:
        synced: list[SourceSync] = []
        with open_runtime(workspace, clock=clock, ids=ids, on_source=synced.append) as runtime:
            questions = demo_questions()
            if on_start is not None:
                on_start(len(questions))
            results: list[TaskResult] = []
            approved: list[Approved] = []
            for user, question in questions:
                result = runtime.run(question, user=user)
                if result.state is TaskState.AWAITING_APPROVAL:
                    approved.append(_approve(runtime, result))
                    result = approved[-1].resumed
                results.append(result)
                if on_task is not None:
                    on_task(result)
            with runtime.log.transaction(workspace.store) as conn:
                runtime.log.checkpoint(conn)
        with workspace.store.read() as conn:
            security = unauthorised_risky_executions(conn, workspace.name)
            denials = _denials(conn, workspace.name, results)
        report = _verify(workspace)
        tampering = _tamper_with_copy(workspace, results)
    finally:
        workspace.close()
    return DemoRun(
        folder=folder,
        sources=tuple(synced),
        results=tuple(results),
        approvals=tuple(approved),
        denials=tuple(denials),
        security=security,
        verify=report,
        tampering=tampering,
        seconds=time.perf_counter() - started,
    )


def _approve(runtime: Runtime, waiting: TaskResult) -> Approved:
    """Approve the task's request as the demo's finance approver, then resume the task (once)."""
    assert waiting.approval is not None
    approver = runtime.user(APPROVER)
    runtime.approvals.decide(
        waiting.approval.id,
        approver=approver.name,
        approver_groups=approver.groups,
        approve=True,
        reason="checked the return in the warehouse system",
    )
    resumed = runtime.resume(waiting.task_id)
    return Approved(waiting, waiting.approval.id, approver.name, resumed)


def _denials(conn: Connection, pilot: str, results: list[TaskResult]) -> list[Denial]:
    """Every deny the policy recorded, with the task it stopped."""
    by_task = {r.task_id: r for r in results}
    found = []
    for receipt in list_receipts(conn, pilot, kind="policy.decision", limit=10_000, newest_first=False):
        body = receipt.record["body"]
        task = by_task.get(receipt.task or "")
        if body.get("effect") == "deny" and task is not None:
            found.append(
                Denial(task.task_id, task.user, task.question, body["tool"], body["rule"], receipt.seq)
            )
    return found


def _verify(workspace: Workspace) -> VerifyReport:
    with workspace.store.read() as conn:
        return verify_store(
            conn,
            workspace.name,
            workspace.public_key(),
            workspace.witness(),
            expect_checkpoint_every=workspace.spec.receipts.checkpoint_every,
        )


def _tamper_with_copy(workspace: Workspace, results: list[TaskResult]) -> Tampering:
    """Copy the store, rewrite one escalated task's finish receipt as resolved, verify the copy."""
    original = Path(workspace.store.engine.url.database or "")
    copy = original.with_name("tampered-copy.db")
    copy.unlink(missing_ok=True)
    with sqlite3.connect(original) as source, sqlite3.connect(copy) as target:
        source.backup(target)
    escalated = next((r for r in results if r.outcome is Outcome.ESCALATED), results[-1])
    seq = escalated.receipts[-1].seq
    tampered = open_store(f"sqlite:///{copy}")
    try:
        with tampered.write() as conn:
            canonical = conn.execute(
                select(receipts.c.canonical).where(receipts.c.pilot == workspace.name, receipts.c.seq == seq)
            ).scalar_one()
            forged = bytes(canonical).replace(b'"outcome":"escalated"', b'"outcome":"resolved"', 1)
            conn.execute(
                receipts.update()
                .where(receipts.c.pilot == workspace.name, receipts.c.seq == seq)
                .values(canonical=forged)
            )
        with tampered.read() as conn:
            report = verify_store(conn, workspace.name, workspace.public_key(), None)
    finally:
        tampered.close()
    return Tampering(
        copy=copy,
        seq=seq,
        change=f"task {escalated.task_id}: outcome escalated -> resolved",
        report=report,
    )

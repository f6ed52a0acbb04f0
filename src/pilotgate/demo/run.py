"""`pilotgate demo` as a library function: the whole idea, end to end, in a throwaway folder.

It scaffolds the support-desk pilot and runs its questions as tasks: answers with citations, a tool call
allowed, one denied, a refund parked for approval (which the demo then approves as carol, so the task
resumes and resolves), and a hostile document stopped by policy. It counts the security figure from the
receipts. Then the release gate: the pilot as shipped becomes a release, its eval packs run, the gate
passes it and it is promoted to production; a candidate that lets customers refund small amounts
themselves (its policy test edited to agree, so only the evals can notice) runs the same packs and the
gate blocks it. pilot.yaml is put back as shipped afterwards. Finally it verifies the chain, alters one
receipt in a *copy* of the store — an escalated task rewritten as resolved — and shows verify catching
it. The original store is never touched.
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
from pilotgate.errors import UsageError
from pilotgate.evals.runner import run_evals
from pilotgate.evals.runs import StoredRun
from pilotgate.gate import Verdict, create_release, gate, promote
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


OWNER = "dana.reyes"
"""The pilot's owner, who creates the demo's releases and promotes the one that passes."""

CANDIDATE_CHANGE = "customers may refund small amounts themselves"
"""What the blocked candidate changes, in words."""

CANDIDATE_EDITS: tuple[tuple[str, str], ...] = (
    (
        """    - name: customers-never-refund
      decision: deny
      when: '"customers" in user.groups && tool.name == "issue_refund"'
      description: Customers ask; agents refund.
""",
        "",
    ),
    (
        '{user: alice, tool: issue_refund, args: {order_id: "100200", amount: 40}, expect: deny}',
        '{user: alice, tool: issue_refund, args: {order_id: "100200", amount: 40}, expect: allow}',
    ),
)
"""The candidate's edits to pilot.yaml: the deny rule goes, and its policy test is changed to agree."""


@dataclass(frozen=True)
class ReleaseStep:
    """One release through the gate: what it is, its eval run, the verdict, and whether it was promoted."""

    release: str
    change: str
    run: StoredRun
    verdict: Verdict
    promoted: bool


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
    releases: tuple[ReleaseStep, ...] = ()
    """The release shipped (promoted), then the weakened candidate (blocked)."""


def run_demo(
    folder: Path,
    *,
    on_start: Callable[[int], None] | None = None,
    on_task: Callable[[TaskResult], None] | None = None,
    on_release: Callable[[str], None] | None = None,
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
        with workspace.store.read() as conn:
            security = unauthorised_risky_executions(conn, workspace.name)
            denials = _denials(conn, workspace.name, results)
    finally:
        workspace.close()
    steps = release_flow(folder, on_release=on_release, clock=clock, ids=ids)
    workspace = open_workspace(folder)
    try:
        log = workspace.receipt_log(clock=clock)
        with log.transaction(workspace.store) as conn:
            log.checkpoint(conn)
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
        releases=tuple(steps),
    )


def release_flow(
    folder: Path,
    *,
    on_release: Callable[[str], None] | None = None,
    clock: Clock = utc_now,
    ids: IdFactory = new_id,
) -> list[ReleaseStep]:
    """The shipped pilot through the gate (promoted), then the weakened candidate (blocked); pilot.yaml is
    restored as shipped, so the folder is what production serves."""
    path = folder / "pilot.yaml"
    shipped = path.read_text(encoding="utf-8")
    steps = [_through_the_gate(folder, "the pilot as shipped", on_release, clock, ids)]
    candidate = shipped
    for old, new in CANDIDATE_EDITS:
        if old not in candidate:
            raise UsageError(
                "the demo's candidate edit no longer matches pilot.yaml",
                hint="this is a bug; please report it",
            )
        candidate = candidate.replace(old, new, 1)
    path.write_text(candidate, encoding="utf-8")
    try:
        steps.append(_through_the_gate(folder, f"candidate: {CANDIDATE_CHANGE}", on_release, clock, ids))
    finally:
        path.write_text(shipped, encoding="utf-8")
    return steps


def _through_the_gate(
    folder: Path, change: str, on_release: Callable[[str], None] | None, clock: Clock, ids: IdFactory
) -> ReleaseStep:
    """Create a release of the files on disk, run its eval packs, ask the gate, promote it if it passed."""
    workspace = open_workspace(folder)
    try:
        release, _ = create_release(workspace, by=OWNER, clock=clock)
        if on_release is not None:
            on_release(release.id)
        run = run_evals(workspace, release=release.id, concurrency=4, sync=False, clock=clock, ids=ids)
        verdict = gate(workspace, release.id, by=OWNER, clock=clock)
        if verdict.passed:
            promote(workspace, release.id, by=OWNER, clock=clock)
    finally:
        workspace.close()
    return ReleaseStep(release.id, change, run, verdict, verdict.passed)


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

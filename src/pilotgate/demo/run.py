"""`pilotgate demo` as a library function: the whole idea, end to end, in a throwaway folder.

It scaffolds the support-desk pilot, runs its questions as tasks, verifies the receipt chain, then alters
one receipt in a *copy* of the store — an escalated task rewritten as resolved — and shows verify
catching it. The original store is never touched by the tampering.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from pilotgate.clock import Clock, IdFactory, new_id, utc_now
from pilotgate.data.sync import SourceSync
from pilotgate.demo.scaffold import demo_questions, scaffold_pilot
from pilotgate.receipts import VerifyReport, verify_store
from pilotgate.runtime import Outcome, TaskResult, open_runtime
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


@dataclass(frozen=True)
class DemoRun:
    """Everything the demo did, for the CLI to print."""

    folder: Path
    sources: tuple[SourceSync, ...]
    results: tuple[TaskResult, ...]
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
        runtime = open_runtime(workspace, clock=clock, ids=ids, on_source=synced.append)
        questions = demo_questions()
        if on_start is not None:
            on_start(len(questions))
        results: list[TaskResult] = []
        for user, question in questions:
            result = runtime.run(question, user=user)
            results.append(result)
            if on_task is not None:
                on_task(result)
        with runtime.log.transaction(workspace.store) as conn:
            runtime.log.checkpoint(conn)
        report = _verify(workspace)
        tampering = _tamper_with_copy(workspace, results)
    finally:
        workspace.close()
    return DemoRun(
        folder=folder,
        sources=tuple(synced),
        results=tuple(results),
        verify=report,
        tampering=tampering,
        seconds=time.perf_counter() - started,
    )


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

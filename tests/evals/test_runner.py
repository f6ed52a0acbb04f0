"""The eval runner on the offline reference model: real runtime, dry-run tools, stored and resumable runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import runner_tools
from runner_pilot import PACK, interrupt_after, write_runner_pilot
from sqlalchemy import select

from pilotgate.errors import UsageError
from pilotgate.evals.runner import RunInterrupted, RunStats, matching_release, run_evals
from pilotgate.evals.runs import CaseResult, list_runs, load_run
from pilotgate.gate.releases import create_release
from pilotgate.receipts import list_receipts
from pilotgate.store.tables import approvals, eval_results, tasks
from pilotgate.workspace import Workspace, open_workspace


def _by_case(results: tuple[CaseResult, ...]) -> dict[tuple[str, int], CaseResult]:
    return {(r.case_id, r.repeat): r for r in results}


def test_a_run_goes_through_the_runtime_and_is_stored(workspace: Workspace) -> None:
    seen: list[CaseResult] = []
    stats = RunStats()
    run = run_evals(workspace, concurrency=4, on_result=seen.append, stats=stats)
    assert run.state == "complete" and run.receipt is not None and run.pending() == []
    results = _by_case(run.results)
    assert set(results) == {
        ("returns", 0),
        ("lookup", 0),
        ("small-refund", 0),
        ("big-refund", 0),
        ("big-refund", 1),
        ("chargebacks", 0),
    }
    assert sorted((r.case_id, r.repeat) for r in seen) == sorted(results)
    assert all(r.passed for r in run.results), [r.assertions for r in run.results if not r.passed]
    assert stats.ran == 6 and stats.planned == 6 and stats.errors == 0
    # every result rests on its own task's receipts, the last being what ended it
    with workspace.store.read() as conn:
        for result in run.results:
            assert result.task is not None
            stored = list_receipts(conn, workspace.name, task=result.task, newest_first=False, limit=100)
            assert tuple(r.hash for r in stored)[: len(result.receipts)] == result.receipts
        eval_run = list_receipts(conn, workspace.name, kind="eval.run", limit=1)[0]
    assert eval_run.hash == run.receipt and eval_run.body["summary"]


def test_tools_are_a_dry_run_that_assertions_still_see(workspace: Workspace) -> None:
    run = run_evals(workspace, only=["lookup", "small-refund"])
    assert runner_tools.CALLS == []  # nothing was executed
    lookup = _by_case(run.results)[("lookup", 0)]
    assert lookup.passed and lookup.outcome == "resolved"
    with workspace.store.read() as conn:
        results = list_receipts(conn, workspace.name, task=lookup.task, kind="tool.result")
        rows = conn.execute(select(tasks.c.id)).all()
    assert [r.body["via"] for r in results] == ["dry_run"]
    assert len(rows) == 2


def test_a_task_waiting_for_approval_is_escalated_and_its_approval_denied(workspace: Workspace) -> None:
    run = run_evals(workspace, only=["big-refund"])
    for result in run.results:
        assert result.outcome == "escalated" and result.passed
    with workspace.store.read() as conn:
        states = conn.execute(select(approvals.c.state, approvals.c.decided_by)).all()
    assert [tuple(s) for s in states] == [("denied", "pilotgate-evals")] * 2
    assert runner_tools.CALLS == []


def test_repeats_and_threshold(tmp_path: Path) -> None:
    flaky = PACK + (
        "  - id: sometimes\n    input: How long do I have to return shoes?\n    user: alice\n"
        "    category: regression\n    repeats: 3\n    threshold: 2\n    assert:\n"
        "      - {kind: contains, value: 30 days}\n"
    )
    ws = open_workspace(write_runner_pilot(tmp_path, pack=flaky, evals="  repeats: 2\n"))
    try:
        run = run_evals(ws, only=["sometimes", "returns"])
        assert run.cases["sometimes"].runs == 3 and run.cases["sometimes"].needed == 2
        assert run.cases["returns"].runs == 2  # evals.repeats
        assert sorted((r.case_id, r.repeat) for r in run.results) == [
            ("returns", 0),
            ("returns", 1),
            ("sometimes", 0),
            ("sometimes", 1),
            ("sometimes", 2),
        ]
    finally:
        ws.close()


@pytest.mark.parametrize("concurrency", [1, 3])
def test_an_interrupted_run_resumes_without_running_a_case_twice(
    workspace: Workspace, concurrency: int
) -> None:
    interrupt_after_two, _ = interrupt_after(2)
    with pytest.raises(RunInterrupted) as caught:
        run_evals(workspace, concurrency=concurrency, on_result=interrupt_after_two)
    run_id = caught.value.run_id
    halfway = load_run(workspace.store, run_id)
    assert halfway.state == "running" and len(halfway.results) >= 2
    assert halfway.pending() or concurrency > 1  # with threads, those in flight may have been the rest
    assert caught.value.pending == len(halfway.pending())
    kept = {(r.case_id, r.repeat): r.task for r in halfway.results}

    resumed = run_evals(workspace, resume=run_id)
    assert resumed.id == run_id and resumed.state == "complete" and len(resumed.results) == 6
    for key, task in kept.items():
        assert _by_case(resumed.results)[key].task == task  # what was done is kept, not redone
    with workspace.store.read() as conn:
        recorded = conn.execute(select(eval_results.c.case_id).where(eval_results.c.run_id == run_id)).all()
        task_count = len(conn.execute(select(tasks.c.id)).all())
    assert len(recorded) == 6 and task_count == 6  # each (case, repeat) ran exactly once
    with pytest.raises(UsageError, match="complete"):
        run_evals(workspace, resume=run_id)


def test_a_task_that_cannot_run_is_recorded_failed_and_the_run_goes_on(tmp_path: Path) -> None:
    long = "x" * 9000  # past the runtime's question limit: it refuses before anything is recorded
    pack = PACK + (
        f"  - id: too-long\n    input: {long}\n    user: alice\n    category: golden\n    assert:\n"
        "      - {kind: contains, value: hi}\n"
    )
    ws = open_workspace(write_runner_pilot(tmp_path, pack=pack))
    try:
        stats = RunStats()
        run = run_evals(ws, only=["too-long", "returns"], stats=stats)
        assert run.state == "complete" and stats.errors == 1
        failed = _by_case(run.results)[("too-long", 0)]
        assert failed.outcome == "failed" and not failed.passed and failed.task is None
        assert failed.assertions[0].error and "TaskError" in failed.assertions[0].message
        assert _by_case(run.results)[("returns", 0)].passed
    finally:
        ws.close()


def test_case_selection_and_bad_arguments(workspace: Workspace) -> None:
    run = run_evals(workspace, only=lambda case: case.category == "escalation")
    assert set(run.cases) == {"big-refund"}
    with pytest.raises(UsageError, match="no eval case 'nope'"):
        run_evals(workspace, only=["nope"])
    with pytest.raises(UsageError, match="concurrency"):
        run_evals(workspace, concurrency=0)
    assert list_runs(workspace.store, workspace.name) == [run.id]


def test_releases_the_run_is_evidence_for(workspace: Workspace) -> None:
    assert matching_release(workspace) is None
    release, _ = create_release(workspace)
    assert matching_release(workspace) == release.id
    run = run_evals(workspace, release=release.id, only=["returns"])
    assert run.release == release.id
    with workspace.store.read() as conn:
        stamped = list_receipts(conn, workspace.name, task=run.results[0].task, limit=100)
    assert stamped and {r.record["release"] for r in stamped} == {release.id}  # the task ran as the release
    pack = workspace.loaded.resolve("evals/pack.yaml")
    pack.write_text(pack.read_text() + "\n# edited\n")
    with pytest.raises(UsageError, match=r"evals/evals/pack.yaml changed since it was created"):
        run_evals(workspace, release=release.id, only=["returns"])
    assert matching_release(workspace) is None


class _BrokenModel:
    """A model whose every call raises a bug's exception carrying a key-shaped string (a test aid)."""

    name = "broken"
    provider = "broken"
    leaked = "sk-" + "canary0123456789abcdefXYZ"

    def complete(self, request: object) -> object:
        raise RuntimeError(f"upstream replied with {self.leaked} in its error page")


def test_a_bugs_text_is_redacted_before_it_is_stored_as_the_cases_error(tmp_path: Path) -> None:
    ws = open_workspace(write_runner_pilot(tmp_path))
    try:
        run = run_evals(ws, only=["returns"], model=_BrokenModel())  # type: ignore[arg-type]
        (failed,) = run.results
        message = failed.assertions[0].message
        assert failed.outcome == "failed" and "RuntimeError: upstream replied with" in message
        assert _BrokenModel.leaked not in message and "[REDACTED]" in message
        with ws.store.read() as conn:
            stored = conn.execute(select(eval_results.c.assertions)).scalar_one()
        assert _BrokenModel.leaked not in str(stored)
    finally:
        ws.close()

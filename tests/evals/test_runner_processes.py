"""The eval runner on worker processes: every (case, repeat) once, on one chain, stoppable and resumable.

The workers are forked from the test process, so a fault is injected by patching the runner before the
fork: the patch is in the child's copy too. (Python 3.12+ warns when a process with threads forks; the
filter keeps a thread left by another test from failing these.)
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import runner_tools
from runner_pilot import interrupt_after, write_runner_pilot
from sqlalchemy import select

from pilotgate.errors import StoreError, UsageError
from pilotgate.evals import runner
from pilotgate.evals.processes import WorkerFailed, check_workers, default_workers, split
from pilotgate.evals.runner import RunInterrupted, RunStats, run_evals
from pilotgate.evals.runs import CaseResult, load_run
from pilotgate.receipts.audit import verify_store
from pilotgate.store import open_store
from pilotgate.store.tables import eval_results, tasks
from pilotgate.tools.adapters.base import ToolOutput
from pilotgate.workspace import Workspace, open_workspace

pytestmark = [
    pytest.mark.skipif(not hasattr(os, "fork"), reason="worker processes need fork()"),
    pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning"),
]

ALL_PAIRS = [
    ("big-refund", 0),
    ("big-refund", 1),
    ("chargebacks", 0),
    ("lookup", 0),
    ("returns", 0),
    ("small-refund", 0),
]


def _pid_recorder(path: Path) -> Mapping[str, Any]:
    """Dry-run answers for lookup_order that note which process answered."""

    def answer(args: Mapping[str, Any]) -> ToolOutput:
        with path.open("a", encoding="utf-8") as out:
            out.write(f"{os.getpid()}\n")
        return ToolOutput({"order_id": args["order_id"], "status": "shipped"})

    return {"lookup_order": answer}


def _pairs(results: tuple[CaseResult, ...] | list[CaseResult]) -> list[tuple[str, int]]:
    return sorted((r.case_id, r.repeat) for r in results)


def test_workers_run_every_case_once_on_one_chain(workspace: Workspace, tmp_path: Path) -> None:
    seen: list[CaseResult] = []
    started: list[int] = []
    stats = RunStats()
    pids = tmp_path / "pids.txt"
    run = run_evals(
        workspace,
        concurrency=4,
        workers=2,
        on_start=lambda run, pending: started.append(pending),
        on_result=seen.append,
        stats=stats,
        dry_results=_pid_recorder(pids),
    )
    assert run.state == "complete" and run.receipt is not None and run.pending() == []
    assert _pairs(run.results) == ALL_PAIRS and _pairs(seen) == ALL_PAIRS  # each reported here, once
    assert all(r.passed for r in run.results), [r.assertions for r in run.results if not r.passed]
    assert started == [6] and stats.ran == 6 and stats.planned == 6 and stats.errors == 0
    # the lookup was answered in a worker process, not here
    assert [int(pid) for pid in pids.read_text().split()] != [os.getpid()]
    assert runner_tools.CALLS == []
    with workspace.store.read() as conn:
        assert len(conn.execute(select(tasks.c.id)).all()) == 6  # no task ran twice
        assert verify_store(conn, workspace.name, None).ok  # both processes appended to one intact chain


def test_a_run_interrupted_on_workers_resumes_without_running_a_case_twice(workspace: Workspace) -> None:
    interrupt_after_two, _ = interrupt_after(2)
    with pytest.raises(RunInterrupted) as caught:
        run_evals(workspace, concurrency=2, workers=2, on_result=interrupt_after_two)
    run_id = caught.value.run_id
    halfway = load_run(workspace.store, run_id)
    assert halfway.state == "running" and len(halfway.results) >= 2
    assert caught.value.pending == len(halfway.pending())
    assert caught.value.recorded == len(halfway.results)  # every recorded result was counted
    kept = {(r.case_id, r.repeat): r.task for r in halfway.results}

    resumed = run_evals(workspace, resume=run_id, concurrency=2, workers=2)
    assert resumed.state == "complete" and _pairs(resumed.results) == ALL_PAIRS
    for result in resumed.results:
        if (result.case_id, result.repeat) in kept:
            assert result.task == kept[(result.case_id, result.repeat)]
    with workspace.store.read() as conn:
        recorded = conn.execute(select(eval_results.c.case_id).where(eval_results.c.run_id == run_id)).all()
        assert len(recorded) == 6 and len(conn.execute(select(tasks.c.id)).all()) == 6


def _in_workers(monkeypatch: pytest.MonkeyPatch, fault: Callable[[], None]) -> None:
    """Make a worker process meet ``fault`` where it opens its runtime (this process opens it as usual)."""
    parent = os.getpid()
    real = runner.open_runtime

    def opening(*args: Any, **kwargs: Any) -> Any:
        if os.getpid() != parent:
            fault()
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "open_runtime", opening)


def test_an_error_in_a_worker_stops_the_run_and_is_raised_here(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def store_gone() -> None:
        raise StoreError("the store went away", hint="check the disk")

    _in_workers(monkeypatch, store_gone)
    with pytest.raises(StoreError, match="the store went away") as caught:
        run_evals(workspace, concurrency=2, workers=2)
    assert caught.value.hint == "check the disk"  # the worker's own error, hint and all
    with workspace.store.read() as conn:
        assert conn.execute(select(tasks.c.id)).all() == []


def test_a_worker_that_dies_is_named_and_the_run_stays_resumable(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    _in_workers(monkeypatch, lambda: os._exit(3))
    with pytest.raises(WorkerFailed, match="died \\(exit code 3\\)"):
        run_evals(workspace, concurrency=2, workers=2)
    monkeypatch.undo()
    (run_id,) = [row[0] for row in _run_ids(workspace)]
    assert load_run(workspace.store, run_id).state == "running"
    assert _pairs(run_evals(workspace, resume=run_id).results) == ALL_PAIRS


def _run_ids(workspace: Workspace) -> list[tuple[str]]:
    from pilotgate.store.tables import eval_runs

    with workspace.store.read() as conn:
        return [tuple(row) for row in conn.execute(select(eval_runs.c.id)).all()]


def test_how_many_workers(tmp_path: Path) -> None:
    memory = open_store("sqlite://")
    disk = open_store(f"sqlite:///{tmp_path / 'pilot.db'}")
    try:
        assert default_workers(64, memory) == 1  # other processes cannot open it
        assert default_workers(8, disk) == 1
        assert default_workers(64, disk) == min(os.cpu_count() or 1, 2)
        check_workers(1, memory)
        with pytest.raises(UsageError, match="in-memory SQLite"):
            check_workers(2, memory)
        with pytest.raises(UsageError, match="1 to 64"):
            check_workers(0, disk)
    finally:
        memory.close()
        disk.close()
    assert split(64, 2) == [32, 32] and split(5, 2) == [3, 2] and split(2, 2) == [1, 1]


def test_a_callback_error_stops_the_workers_before_it_is_raised(workspace: Workspace) -> None:
    def broken_progress_bar(run: object, pending: int) -> None:
        raise RuntimeError("the progress bar failed")

    with pytest.raises(RuntimeError, match="progress bar failed"):
        run_evals(workspace, concurrency=2, workers=2, on_start=broken_progress_bar)
    assert multiprocessing.active_children() == []  # none left running unattended
    (run_id,) = [row[0] for row in _run_ids(workspace)]
    halfway = load_run(workspace.store, run_id)
    with workspace.store.read() as conn:
        assert len(conn.execute(select(tasks.c.id)).all()) == len(halfway.results)  # each task recorded
    assert _pairs(run_evals(workspace, resume=run_id, workers=2, concurrency=2).results) == ALL_PAIRS


def test_another_connection_to_the_file_is_refused_before_forking(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'pilot.db'}"
    ws = open_workspace(write_runner_pilot(tmp_path / "desk"), url)
    other = open_store(url)
    try:
        with other.read() as conn:
            conn.execute(select(tasks.c.id)).all()  # holds a pooled connection to the same file
        with pytest.raises(UsageError, match=r"another connection to .* is open in this process"):
            run_evals(ws, concurrency=2, workers=2)
        other.close()
        assert len(run_evals(ws, concurrency=2, workers=2).results) == 6
    finally:
        other.close()
        ws.close()


CTRL_C_SCRIPT = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from runner_pilot import write_runner_pilot
from pilotgate.evals.runner import RunInterrupted, run_evals
from pilotgate.runtime import Runtime
from pilotgate.workspace import open_workspace

real = Runtime.run
def slow(self, text, **kwargs):  # slow enough for Ctrl-C to find cases in flight
    time.sleep(0.4)
    return real(self, text, **kwargs)
Runtime.run = slow
ws = open_workspace(write_runner_pilot(Path({root!r})), {url!r})
try:
    run_evals(ws, concurrency=2, workers=2, on_result=lambda r: print("got", r.case_id, flush=True))
    print("finished", flush=True)
except RunInterrupted as stopped:
    print("interrupted", stopped.run_id, stopped.recorded, stopped.pending, flush=True)
finally:
    ws.close()
"""


def test_ctrl_c_in_a_terminal_stops_every_process_and_loses_nothing(tmp_path: Path) -> None:
    """A real SIGINT to the whole process group, as a terminal sends it."""
    url = f"sqlite:///{tmp_path / 'pilot.db'}"
    script = tmp_path / "run.py"
    here = Path(__file__).parent
    script.write_text(CTRL_C_SCRIPT.format(tests=str(here), root=str(tmp_path / "desk"), url=url))
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    assert proc.stdout is not None
    lines = [proc.stdout.readline()]
    assert lines[0].startswith("got"), lines
    os.killpg(proc.pid, signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    lines += out.splitlines()
    assert proc.returncode == 0
    _, run_id, recorded, left = lines[-1].split()
    ws = open_workspace(tmp_path / "desk", url)
    try:
        halfway = load_run(ws.store, run_id)
        assert len(halfway.results) == int(recorded) and len(halfway.pending()) == int(left)
        assert int(left) > 0  # it did stop early
        # every recorded result was reported here, but for the one whose callback the Ctrl-C itself may
        # have cut short (the signal lands in this process's main thread wherever it is)
        reported = sum(line.startswith("got") for line in lines)
        assert int(recorded) - 1 <= reported <= int(recorded)
        with ws.store.read() as conn:
            assert verify_store(conn, ws.name, None).ok
        assert _pairs(run_evals(ws, resume=run_id).results) == ALL_PAIRS
    finally:
        ws.close()


def test_a_workers_bug_is_named_without_its_text(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    canary = "CANARY-worker-4d1f9"

    def bug() -> None:
        raise ValueError(f"the tool said {canary}")

    _in_workers(monkeypatch, bug)
    with pytest.raises(WorkerFailed, match=r"eval worker [01] failed: ValueError") as caught:
        run_evals(workspace, concurrency=2, workers=2)
    printed = capfd.readouterr().err
    assert "Traceback" in printed and "ValueError" in printed  # where it happened, for whoever debugs it
    assert canary not in str(caught.value) + (caught.value.hint or "") + printed

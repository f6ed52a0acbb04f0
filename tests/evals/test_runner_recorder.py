"""The runner's result recorder: results recorded by many threads at once are written in shared
transactions, each ``record`` returns only once its result is stored, and a failed write fails exactly the
results that were in it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from pilotgate.evals.assertions import AssertionResult
from pilotgate.evals.runs import CaseInfo, CaseResult, ResultRecorder, load_run, start_run
from pilotgate.store import Store, open_store

THREADS, PER_THREAD = 16, 20


def _result(case: str, repeat: int = 0) -> CaseResult:
    check = AssertionResult("contains", True, "found")
    return CaseResult(case, repeat, "golden", "answered", True, (check,), answer=f"answer {case}")


def _run(store: Store, cases: list[str]) -> str:
    infos = {case: CaseInfo(category="golden", user="alice", runs=1, needed=1) for case in cases}
    return start_run(store, "desk", infos)


def test_threads_share_writes_and_every_result_is_stored_when_record_returns(store: Store) -> None:
    """On SQLite and PostgreSQL (the ``store`` fixture)."""
    cases = [f"c{t:02d}-{n:02d}" for t in range(THREADS) for n in range(PER_THREAD)]
    run_id = _run(store, cases)
    recorder = ResultRecorder(store, run_id)
    start = threading.Barrier(THREADS)
    missing: list[str] = []

    def work(t: int) -> None:
        start.wait()
        for n in range(PER_THREAD):
            case = f"c{t:02d}-{n:02d}"
            recorder.record(_result(case))
            stored = {r.case_id for r in load_run(store, run_id).results}
            if case not in stored:
                missing.append(case)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run = load_run(store, run_id)
    assert missing == []
    assert sorted(r.case_id for r in run.results) == sorted(cases)
    assert run.results[0].answer == f"answer {run.results[0].case_id}"
    assert recorder.writes < len(cases)  # results that arrived during a write shared the next one
    assert run.pending() == []


def test_a_failed_write_fails_the_results_in_it_and_the_recorder_goes_on(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        run_id = _run(store, ["a", "b"])
        recorder = ResultRecorder(store, run_id)
        recorder.record(_result("a"))
        with pytest.raises(IntegrityError):
            recorder.record(_result("a"))  # (run, case, repeat) is stored already
        recorder.record(_result("b"))
        assert [r.case_id for r in load_run(store, run_id).results] == ["a", "b"]
    finally:
        store.close()

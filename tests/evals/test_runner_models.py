"""The eval runner against OpenAI-compatible test doubles: a model, a judge (and a judge that is down), the
model-call cache, and many tasks at once on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import runner_tools
from runner_pilot import openai_models, write_runner_pilot
from sqlalchemy import func, select

from doubles.openai_server import (
    OpenAIServerDouble,
    RecordedRequest,
    Reply,
    closed_port_url,
    error,
    text,
    tool_call,
)
from pilotgate.evals.cache import clear_cache
from pilotgate.evals.runner import RunStats, run_evals
from pilotgate.evals.runs import CaseResult
from pilotgate.models import NO_BACKOFF
from pilotgate.receipts.audit import verify_store
from pilotgate.receipts.reader import list_receipts
from pilotgate.store.tables import eval_results, model_cache
from pilotgate.workspace import Workspace, open_workspace

PACK = """\
cases:
  - id: returns
    input: How long do I have to return shoes?
    user: alice
    category: golden
    assert:
      - {kind: contains, value: 30 days}
      - {kind: judge, rubric: States the 30-day return window.}
  - id: lookup
    input: where is my order 100200
    user: alice
    category: golden
    assert:
      - {kind: tool_called, tool: lookup_order, args: {order_id: "100200"}, executed: true}
      - {kind: contains, value: shipped}
"""


def model_reply(request: RecordedRequest) -> Reply:
    """The main model: asks for the order lookup once, then answers from its result; else the window."""
    messages = request.messages
    if any(m.get("role") == "tool" for m in messages):
        return text("Order 100200 has shipped.")
    question = next(m["content"] for m in messages if m.get("role") == "user")
    if "where is my order" in question:
        return tool_call("lookup_order", {"order_id": question.split()[-1]})
    return text("You have 30 days to return shoes [1].")


def judge_reply(request: RecordedRequest) -> Reply:
    """The judge: passes an answer that states the 30-day window."""
    graded = request.messages[-1]["content"]
    answer = graded.split("Answer to grade:\n", 1)[1].split("\n\nRubric:", 1)[0]
    ok = "30 days" in answer
    return text(json.dumps({"passed": ok, "score": 1.0 if ok else 0.0, "reasoning": f"window stated: {ok}"}))


@pytest.fixture
def model() -> Iterator[OpenAIServerDouble]:
    with OpenAIServerDouble(respond=model_reply) as server:
        yield server


@pytest.fixture
def judge() -> Iterator[OpenAIServerDouble]:
    with OpenAIServerDouble(respond=judge_reply) as server:
        yield server


def _open(
    root: Path, model_url: str, judge_url: str, *, store_url: str | None = None, pack: str = PACK
) -> Workspace:
    path = write_runner_pilot(
        root, models=openai_models(model_url, judge_url), pack=pack, evals="  judge: grader\n"
    )
    return open_workspace(path, store_url or f"sqlite:///{root / 'db.sqlite'}")


def _results(run_results: tuple[CaseResult, ...]) -> dict[str, CaseResult]:
    return {r.case_id: r for r in run_results}


def test_model_and_judge_through_the_doubles(
    tmp_path: Path, model: OpenAIServerDouble, judge: OpenAIServerDouble
) -> None:
    runner_tools.CALLS.clear()
    ws = _open(tmp_path, model.base_url, judge.base_url)
    try:
        run = run_evals(ws, concurrency=2, backoff=NO_BACKOFF)
    finally:
        ws.close()
    results = _results(run.results)
    assert run.state == "complete" and all(r.passed for r in run.results), run.results
    graded = next(a for a in results["returns"].assertions if a.kind == "judge")
    assert graded.details["reasoning"] == "window stated: True" and graded.details["model"] == "grader"
    assert results["returns"].cost is not None and results["returns"].cost > 0
    assert (
        len(judge.requests) == 1
        and "States the 30-day return window." in judge.requests[0].messages[-1]["content"]
    )
    # the tool call went through the dry run: seen by the assertion, never executed
    assert runner_tools.CALLS == [] and len(model.requests) == 3


def test_a_judge_that_is_down_is_an_error_never_a_pass(tmp_path: Path, model: OpenAIServerDouble) -> None:
    ws = _open(tmp_path, model.base_url, closed_port_url())
    try:
        stats = RunStats()
        run = run_evals(ws, backoff=NO_BACKOFF, stats=stats)
    finally:
        ws.close()
    assert run.state == "complete"  # the run went on
    results = _results(run.results)
    graded = next(a for a in results["returns"].assertions if a.kind == "judge")
    assert graded.error and not graded.passed and "could not answer" in graded.message
    assert not results["returns"].passed and results["lookup"].passed
    contains = next(a for a in results["returns"].assertions if a.kind == "contains")
    assert contains.passed  # the other assertions were still checked


def _cached_flags(ws: Workspace, run: Any) -> list[bool | None]:
    """Each result's task's last model.call receipt: its ``cached`` field (None when absent)."""
    flags = []
    with ws.store.read() as conn:
        for result in run.results:
            (last, *_) = list_receipts(conn, ws.name, kind="model.call", task=result.task)
            flags.append(json.loads(last.canonical)["body"].get("cached"))
    return flags


def test_the_cache_answers_repeated_calls_and_a_new_rubric_or_judge_misses(
    tmp_path: Path, model: OpenAIServerDouble, judge: OpenAIServerDouble
) -> None:
    ws = _open(tmp_path, model.base_url, judge.base_url)
    try:
        cold = RunStats()
        first = run_evals(ws, cache=True, backoff=NO_BACKOFF, stats=cold)
        assert cold.cache is not None and (cold.cache.hits, cold.cache.misses) == (0, 4)
        calls = (len(model.requests), len(judge.requests))
        warm = RunStats()
        second = run_evals(ws, cache=True, backoff=NO_BACKOFF, stats=warm)
        assert warm.cache is not None and (warm.cache.hits, warm.cache.misses) == (4, 0)
        assert (len(model.requests), len(judge.requests)) == calls  # nothing was asked again
        assert [(r.case_id, r.passed, r.answer) for r in second.results] == [
            (r.case_id, r.passed, r.answer) for r in first.results
        ]
        # the model.call receipts say which answers came from the cache (the warm run's all did)
        assert _cached_flags(ws, first) == [None] * len(first.results)
        assert _cached_flags(ws, second) == [True] * len(second.results)
        # without --cache nothing is read from the cache
        run_evals(ws, backoff=NO_BACKOFF, only=["returns"])
        assert len(judge.requests) == calls[1] + 1
        with ws.store.read() as conn:
            assert conn.execute(select(func.count()).select_from(model_cache)).scalar_one() == 4
    finally:
        ws.close()

    # a changed rubric: the judge is asked again, the model is not
    ws = _open(
        tmp_path, model.base_url, judge.base_url, pack=PACK.replace("30-day return window", "return window")
    )
    try:
        stats = RunStats()
        run_evals(ws, cache=True, backoff=NO_BACKOFF, stats=stats, only=["returns"])
        assert stats.cache is not None and (stats.cache.hits, stats.cache.misses) == (1, 1)
    finally:
        ws.close()

    # a changed judge model: asked again as well
    path = write_runner_pilot(
        tmp_path,
        models=openai_models(model.base_url, judge.base_url).replace("gpt-4o,", "gpt-4.1,"),
        pack=PACK,
        evals="  judge: grader\n",
    )
    ws = open_workspace(path, f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        stats = RunStats()
        run_evals(ws, cache=True, backoff=NO_BACKOFF, stats=stats, only=["returns"])
        assert stats.cache is not None and (stats.cache.hits, stats.cache.misses) == (1, 1)
        assert clear_cache(ws.store) == 6
    finally:
        ws.close()


def test_many_tasks_at_once(tmp_path: Path, store_url: str) -> None:
    cases = "".join(
        f"  - id: c{n:02d}\n    input: How long do I have to return shoes? ({n})\n    user: alice\n"
        "    category: golden\n    repeats: 2\n    assert:\n      - {kind: contains, value: 30 days}\n"
        for n in range(20)
    )
    with OpenAIServerDouble(respond=model_reply, latency=0.02) as server:
        ws = _open(tmp_path, server.base_url, server.base_url, store_url=store_url, pack="cases:\n" + cases)
        try:
            run = run_evals(ws, concurrency=16, backoff=NO_BACKOFF)
            assert run.state == "complete" and len(run.results) == 40 and all(r.passed for r in run.results)
            assert len({r.task for r in run.results}) == 40
            with ws.store.read() as conn:
                count = conn.execute(
                    select(func.count()).select_from(eval_results).where(eval_results.c.run_id == run.id)
                ).scalar_one()
                report = verify_store(conn, ws.name, ws.public_key())
            assert count == 40 and report.ok, report.failure
        finally:
            ws.close()


def test_a_judge_that_stays_down_is_not_asked_for_every_case(
    tmp_path: Path, model: OpenAIServerDouble
) -> None:
    judged = "".join(
        f"  - id: j{n}\n    input: How long do I have to return shoes? ({n})\n    user: alice\n"
        "    category: golden\n    assert:\n      - {kind: judge, rubric: States the window.}\n"
        for n in range(6)
    )
    with OpenAIServerDouble(default=error(503)) as judge_down:
        ws = _open(tmp_path, model.base_url, judge_down.base_url, pack="cases:\n" + judged)
        try:
            run = run_evals(ws, concurrency=1, backoff=NO_BACKOFF)
        finally:
            ws.close()
        # three judged cases, each tried twice (routing.retries = 1); then the judge is left alone
        assert len(judge_down.requests) == 6
    assert run.state == "complete" and len(run.results) == 6
    for result in run.results:
        (graded,) = result.assertions
        assert graded.error and not graded.passed and not result.passed
    assert sum("is down" in r.assertions[0].message for r in run.results) == 3


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="worker processes need fork()")
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_model_judge_and_cache_on_worker_processes(
    tmp_path: Path, model: OpenAIServerDouble, judge: OpenAIServerDouble
) -> None:
    """The workers call the same doubles (in this process) through their own clients; the cache they
    fill is one table, and their hits and misses add up here."""
    ws = _open(tmp_path, model.base_url, judge.base_url)
    try:
        cold = RunStats()
        first = run_evals(ws, cache=True, concurrency=2, workers=2, backoff=NO_BACKOFF, stats=cold)
        assert cold.cache is not None and (cold.cache.hits, cold.cache.misses) == (0, 4)
        assert all(r.passed for r in first.results), first.results
        graded = next(a for a in _results(first.results)["returns"].assertions if a.kind == "judge")
        assert graded.details["reasoning"] == "window stated: True"
        calls = (len(model.requests), len(judge.requests))
        warm = RunStats()
        run_evals(ws, cache=True, concurrency=2, workers=2, backoff=NO_BACKOFF, stats=warm)
        assert warm.cache is not None and (warm.cache.hits, warm.cache.misses) == (4, 0)
        assert (len(model.requests), len(judge.requests)) == calls  # nothing was asked again
        with ws.store.read() as conn:
            assert verify_store(conn, ws.name, None).ok
    finally:
        ws.close()

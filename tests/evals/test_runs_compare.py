"""Stored runs on SQLite and PostgreSQL: metrics, comparison, bless; metric arithmetic by hand."""

from __future__ import annotations

import hashlib
from decimal import Decimal

import pytest

from pilotgate.evals.assertions import AssertionResult
from pilotgate.evals.compare import compare, mcnemar_exact, pass_hat_k
from pilotgate.evals.metrics import cohen_kappa, percentile, run_metrics
from pilotgate.evals.runs import CaseInfo, CaseResult, bless, finish_run, load_run, record_result, start_run
from pilotgate.receipts import ReceiptLog
from pilotgate.store import Store
from pilotgate.testing import SequentialIds

CASES = {
    "a": CaseInfo("golden", "bob", 2, 2),
    "b": CaseInfo("golden", "bob", 2, 1),
    "c": CaseInfo("escalation", "bob", 2, 2),
}


def _result(cid: str, n: int, passed: bool, escalated: bool = False) -> CaseResult:
    assertion = (
        AssertionResult("escalates", escalated, "", {"expect": True, "happened": escalated})
        if cid == "c"
        else AssertionResult("contains", passed, "")
    )
    return CaseResult(
        cid,
        n,
        CASES[cid].category,
        "escalated" if escalated else "resolved",
        passed,
        (assertion,),
        cost=Decimal("0.01") * (n + 1),
        latency_ms=100.0 * (n + 1),
        receipts=("sha256:" + hashlib.sha256(f"{cid}{n}".encode()).hexdigest(),),
    )


def _store_run(store: Store, ids: SequentialIds, outcomes: dict[tuple[str, int], bool]) -> str:
    run = start_run(store, "desk", CASES, release="rel-1", ids=ids)
    for (cid, n), ok in outcomes.items():
        record_result(store, run, _result(cid, n, ok, escalated=ok if cid == "c" else False))
    return run


def test_runs_metrics_and_compare_on_stored_runs(store: Store) -> None:
    ids, log = SequentialIds(), ReceiptLog("desk")
    a = _store_run(
        store,
        ids,
        {("a", 0): True, ("a", 1): True, ("b", 0): False, ("b", 1): False, ("c", 0): True, ("c", 1): True},
    )
    b = _store_run(
        store, ids, {("a", 0): True, ("a", 1): False, ("b", 0): True, ("b", 1): False, ("c", 0): True}
    )
    assert load_run(store, b).pending() == [("c", 1)]
    record_result(store, b, _result("c", 1, True, escalated=True))
    finish_run(store, log, a)
    finish_run(store, log, b)
    run_a, run_b = load_run(store, a), load_run(store, b)
    metrics = run_metrics(run_b)
    assert metrics.overall.pass_rate == pytest.approx(2 / 3) and metrics.categories["golden"].pass_rate == 0.5
    assert metrics.categories["escalation"].escalation_fn_rate == 0.0
    assert metrics.overall.latency_p50 == 150.0 and metrics.overall.cost_per_case == Decimal("0.015")
    result = compare(run_a, run_b)
    assert (result.better, result.worse, result.unchanged) == (1, 1, 1)
    assert (
        result.flaky == ["a", "b"]
        and result.p_value == 1.0
        and result.regression_rate == pytest.approx(1 / 3)
    )
    receipt = bless(store, log, a, "maria")
    assert load_run(store, a).blessed_receipt == receipt and load_run(store, a).blessed_by == "maria"


def test_hand_computed_statistics() -> None:
    # kappa: 10 pairs, 7 agree; rater A yes 6/10, rater B yes 5/10 -> pe = .3 + .2 = .5, kappa = (.7 - .5)/.5
    pairs = [(True, True)] * 4 + [(False, False)] * 3 + [(True, False)] * 2 + [(False, True)]
    assert cohen_kappa(pairs) == pytest.approx(0.4)
    assert cohen_kappa([(True, True)]) is None and cohen_kappa([]) is None
    assert percentile([1, 2, 3, 4], 0.5) == 2.5 and percentile([10], 0.95) == 10
    assert mcnemar_exact(0, 6) == pytest.approx(2 / 64) and mcnemar_exact(3, 3) == 1.0
    assert pass_hat_k(4, 5, 2) == pytest.approx(6 / 10) and pass_hat_k(5, 5, 5) == 1.0

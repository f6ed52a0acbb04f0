"""Data checks for evals: stale, conflicting, missing and restricted cases, and the canary-leak check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pilotgate.data import (
    DataCase,
    SourceDocument,
    SourceRegistry,
    SourceRules,
    canary_leaks,
    evaluate_data_case,
    ingest_source,
    make_canary,
    plant_canary,
    probe_canary,
    reconcile,
    remove_canary,
    search,
)
from pilotgate.receipts import ReceiptLog, list_receipts
from pilotgate.store import Store
from pilotgate.testing import FixedClock

PILOT = "refund-desk"
NOW = datetime(2026, 6, 1, tzinfo=UTC)
REGISTRY = SourceRegistry.of(
    [
        SourceRules("policy", rank=1, freshness=timedelta(days=30)),
        SourceRules("wiki", rank=2),
        SourceRules("payroll", rank=3),
    ]
)


@pytest.fixture
def corpus(store: Store, list_connector: type) -> Store:
    items = {
        "policy": [
            SourceDocument("refunds.md", "Refunds take fourteen days.", topic="refunds", modified_at=NOW),
            SourceDocument(
                "warranty.md", "Warranty lasts two years.", modified_at=datetime(2025, 1, 1, tzinfo=UTC)
            ),
        ],
        "wiki": [SourceDocument("refunds.md", "Refunds take thirty days.", topic="refunds", modified_at=NOW)],
        "payroll": [SourceDocument("salaries.md", "Salaries are paid monthly.", modified_at=NOW)],
    }
    groups = {"policy": ("agents",), "wiki": ("agents",), "payroll": ("finance",)}
    with store.write() as conn:
        for name, docs in items.items():
            ingest_source(
                conn, pilot=PILOT, connector=list_connector(name, groups[name], docs), clock=FixedClock()
            )
        reconcile(conn, pilot=PILOT, registry=REGISTRY)
    return store


CASES = [
    DataCase("restricted", "when are salaries paid", ("agents",), source="payroll"),
    DataCase("stale", "how long is the warranty", ("agents",), source="policy", uri="warranty.md"),
    DataCase("conflicting", "how long do refunds take", ("agents",), source="policy"),
    DataCase("missing", "do you sell gift cards", ("agents",)),
]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.kind)
def test_declared_data_cases_pass(corpus: Store, case: DataCase) -> None:
    with corpus.read() as conn:
        result = evaluate_data_case(conn, pilot=PILOT, case=case, registry=REGISTRY, now=NOW)
    assert result.passed, result.detail


def test_a_failing_case_says_why(corpus: Store) -> None:
    wrong = [
        DataCase("restricted", "when are salaries paid", ("finance",), source="payroll"),
        DataCase("missing", "how long do refunds take", ("agents",)),
        DataCase("conflicting", "how long do refunds take", ("agents",), source="wiki"),
        DataCase("stale", "how long do refunds take", ("agents",), source="policy", uri="refunds.md"),
    ]
    with corpus.read() as conn:
        results = [evaluate_data_case(conn, pilot=PILOT, case=c, registry=REGISTRY, now=NOW) for c in wrong]
    assert [r.passed for r in results] == [False, False, False, False]
    assert "may not read" in results[0].detail and "escalates" not in results[1].detail


def test_the_canary_never_reaches_another_group(corpus: Store) -> None:
    canary = make_canary("finance")
    log = ReceiptLog(pilot=PILOT, clock=FixedClock())
    with log.transaction(corpus) as conn:
        report = plant_canary(conn, pilot=PILOT, canary=canary, clock=FixedClock())
        log.append(conn, kind="ingest", body=report.summary(), actor={"kind": "system", "id": "test"})
    with corpus.read() as conn:
        problems = probe_canary(
            conn,
            pilot=PILOT,
            canary=canary,
            callers=[["finance"], ["agents"], ["customers", "agents"]],
            now=NOW,
        )
        receipts = {f"receipt {r.seq}": r.canonical for r in list_receipts(conn, PILOT)}
    assert problems == []
    assert canary_leaks(canary, receipts) == []  # the ingest receipt records hashes and counts, not text
    assert canary_leaks(canary, {"answer": f"The code is {canary.token.upper()}"}) == ["answer"]
    with corpus.write() as conn:
        remove_canary(conn, pilot=PILOT, canary=canary, clock=FixedClock())
    with corpus.read() as conn:
        assert search(conn, pilot=PILOT, query=canary.question, groups=["finance"]) == []

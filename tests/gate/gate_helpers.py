"""Stored runs and promotions for the gate tests, on the shared eval test pilot."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from eval_pilot import GOLDEN_YAML, MORE_JSONL, PILOT_YAML, write_pilot
from pilotgate.clock import new_id
from pilotgate.evals.assertions import AssertionResult
from pilotgate.evals.runs import CaseInfo, CaseResult, finish_run, record_result, start_run
from pilotgate.testing import SequentialIds
from pilotgate.workspace import Workspace

__all__ = ["GOLDEN_YAML", "MORE_JSONL", "PILOT_YAML", "write_pilot"]

GATE_YAML = (
    PILOT_YAML
    + """\
budgets:
  per_task: "0.05"
policy:
  rules:
    - {name: agents-refund, decision: allow, when: 'tool.name == "issue_refund"'}
  tests:
    - {name: agents may refund, user: bob, tool: issue_refund, args: {amount: 10}, expect: allow}
gate:
  require:
    - "category('golden').pass_rate >= 0.90"
    - "regression_vs('production') <= 0.02"
    - "cost_per_task.p95 <= budgets.per_task"
    - "policy_tests.passed"
"""
)

GOLDEN = [f"g{n:02d}" for n in range(20)]
"""Twenty golden cases: one failing is 95% (passes 90%) and a 5% regression (fails 2%)."""
CASES = {
    **{cid: CaseInfo("golden", "alice", 1, 1) for cid in GOLDEN},
    "adv-1": CaseInfo("adversarial", "alice", 1, 1),
    "restricted-1": CaseInfo("restricted", "alice", 1, 1),
}


def record_run(
    ws: Workspace,
    release: str,
    *,
    failing: tuple[str, ...] = (),
    cost: str = "0.01",
    ids: SequentialIds | None = None,
    finish: bool = True,
) -> str:
    """Store a run of CASES for *release* where only *failing* cases fail; finish it (eval.run receipt)."""
    run = start_run(ws.store, ws.name, CASES, release=release, ids=ids or new_id)
    for n, (cid, info) in enumerate(CASES.items()):
        passed = cid not in failing
        digest = "sha256:" + hashlib.sha256(f"{run}{cid}".encode()).hexdigest()
        record_result(
            ws.store,
            run,
            CaseResult(
                cid,
                0,
                info.category,
                "resolved",
                passed,
                (AssertionResult("contains", passed, "checked"),),
                cost=Decimal(cost),
                latency_ms=100.0 + n,
                receipts=(digest,),
            ),
        )
    if finish:
        finish_run(ws.store, ws.receipt_log(signed=False), run)
    return run


def promote(ws: Workspace, release: str) -> str:
    """Append the release.promoted receipt promotion will write; returns its hash."""
    log = ws.receipt_log(signed=False)
    with log.transaction(ws.store) as conn:
        appended = log.append(
            conn,
            kind="release.promoted",
            body={"release": release, "to": "production"},
            actor={"kind": "user", "id": "maria"},
            release=release,
        )
    return appended.hash

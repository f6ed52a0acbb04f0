"""The JSON report: the run, its metrics and every case with its repeats and assertions."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from pilotgate.evals.metrics import run_metrics
from pilotgate.evals.runs import CaseResult, StoredRun


def _result(result: CaseResult) -> dict[str, Any]:
    return {
        "repeat": result.repeat,
        "passed": result.passed,
        "outcome": result.outcome,
        "answer": result.answer,
        "cost": str(result.cost) if result.cost is not None else None,
        "latency_ms": result.latency_ms,
        "task": result.task,
        "receipts": list(result.receipts),
        "assertions": [a.as_dict() for a in result.assertions],
    }


def run_json(run: StoredRun) -> dict[str, Any]:
    """The run as plain JSON-ready data (money as decimal strings)."""
    metrics = run_metrics(run)
    by_case: dict[str, list[CaseResult]] = defaultdict(list)
    for result in run.results:
        by_case[result.case_id].append(result)
    return {
        "run": run.id,
        "pilot": run.pilot,
        "release": run.release,
        "state": run.state,
        "created_at": run.created_at,
        "receipt": run.receipt,
        "blessed_by": run.blessed_by,
        "metrics": metrics.summary(),
        "cases": [
            {
                "id": cid,
                "category": info.category,
                "user": info.user,
                "passed": metrics.case_passed.get(cid, False),
                "needed": info.needed,
                "runs": info.runs,
                "results": [_result(r) for r in by_case.get(cid, [])],
            }
            for cid, info in sorted(run.cases.items())
        ],
    }


def json_report(run: StoredRun) -> str:
    """The JSON report, indented, keys sorted."""
    return json.dumps(run_json(run), indent=2, sort_keys=True, ensure_ascii=False) + "\n"

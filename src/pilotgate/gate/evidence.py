"""Gather the gate's evidence from the store: the release, its latest complete eval run, comparisons with
production, the blessed baseline and named releases, budgets, policy tests and the handoff checklist.

Every piece is either a plain value CEL can read or a ``Missing`` saying why it is not there; nothing is
guessed. Money is converted to doubles for CEL (the verdict keeps the decimal strings, see ``budgets``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pilotgate.errors import PilotgateError, UsageError
from pilotgate.evals.compare import compare
from pilotgate.evals.metrics import Metrics, RunMetrics, run_metrics
from pilotgate.evals.runs import StoredRun, blessed_run, list_runs, load_run
from pilotgate.gate.releases import Release, get_release, verify_release
from pilotgate.gate.rules import Evidence, Missing
from pilotgate.policy import compile_policy, run_policy_tests
from pilotgate.policy import summary as policy_summary
from pilotgate.receipts import list_receipts

HANDOFF_MISSING = Missing("the handoff checklist is not implemented yet")
_TARGET = re.compile(r"""regression_vs\(\s*['"]([^'"]+)['"]\s*\)""")


@dataclass
class Gathered:
    """The evidence, and what the verdict receipt records beside it."""

    evidence: Evidence
    release: Release
    run: str | None = None
    changed: list[str] = field(default_factory=list)
    budgets: dict[str, str] = field(default_factory=dict)
    """Budget name -> decimal string, as pilot.yaml declares it."""

    def receipt_refs(self) -> list[str]:
        """Every receipt hash the evidence rests on, sorted."""
        hashes = {ref for refs in self.evidence.refs.values() for ref in refs if ref.startswith("sha256:")}
        return sorted(hashes)


def latest_complete_run(workspace: Any, release_id: str) -> StoredRun | None:
    """The newest complete eval run of *release_id*, or None."""
    ids = list_runs(workspace.store, workspace.name, release=release_id, state="complete")
    return load_run(workspace.store, ids[0]) if ids else None


def production_release(workspace: Any) -> tuple[str, str] | None:
    """(release id, receipt hash) of the newest ``release.promoted`` or ``release.rolled_back`` receipt to
    production, or None: the receipts, not a pointer row, say what the gate compares with."""
    with workspace.store.read() as conn:
        found = [
            receipt
            for kind in ("release.promoted", "release.rolled_back")
            for receipt in list_receipts(conn, workspace.name, kind=kind, limit=1000)
        ]
    for receipt in sorted(found, key=lambda r: r.seq, reverse=True):
        body = receipt.body
        if body.get("to", "production") == "production" and body.get("release"):
            return str(body["release"]), receipt.hash
    return None


def _float(value: Decimal | float | None) -> float | None:
    return None if value is None else float(value)


def _category(metrics: Metrics) -> dict[str, Any] | Missing:
    if not metrics.cases or metrics.pass_rate is None:
        return Missing("no cases in the category")
    values = {
        "pass_rate": metrics.pass_rate,
        "cases": metrics.cases,
        "passed": metrics.passed,
        "failed": metrics.cases - metrics.passed,
    }
    for name in ("escalation_fp_rate", "escalation_fn_rate", "refusal_fp_rate", "refusal_fn_rate"):
        value = getattr(metrics, name)
        if value is not None:  # an absent key errors in CEL, which fails the rule: closed
            values[name] = value
    return values


def _run_values(run: StoredRun, metrics: RunMetrics, evidence: Evidence) -> None:
    """Fill run, categories, cost, latency and judge evidence from one complete run."""
    overall = metrics.overall
    run_refs = [run.id] + ([run.receipt] if run.receipt else [])
    evidence.variables["run"] = {
        "id": run.id,
        "complete": run.state == "complete" and run.receipt is not None,
        "cases": overall.cases,
        "passed": overall.passed,
        "pass_rate": overall.pass_rate if overall.pass_rate is not None else 0.0,
    }
    evidence.refs["run"] = run_refs
    for name, cat in metrics.categories.items():
        evidence.categories[name] = _category(cat)
        cases = sorted(cid for cid, info in run.cases.items() if info.category == name)
        evidence.refs[f"category:{name}"] = run_refs + cases
    if overall.cost_per_case is None:
        evidence.variables["cost_per_task"] = Missing(f"run {run.id} recorded no cost")
    elif overall.cost_unknown:
        evidence.variables["cost_per_task"] = Missing(
            f"run {run.id}: {overall.cost_unknown} result(s) have no known cost"
        )
    else:
        evidence.variables["cost_per_task"] = {
            "mean": _float(overall.cost_per_case),
            "p50": _float(overall.cost_p50),
            "p95": _float(overall.cost_p95),
        }
    evidence.refs["cost_per_task"] = run_refs
    if overall.latency_p50 is None:
        evidence.variables["latency"] = Missing(f"run {run.id} recorded no latency")
    else:
        evidence.variables["latency"] = {"p50": overall.latency_p50, "p95": overall.latency_p95}
    evidence.refs["latency"] = run_refs
    if metrics.judge_labelled:
        judge: dict[str, Any] = {"accuracy": metrics.judge_accuracy, "labelled": metrics.judge_labelled}
        if metrics.judge_kappa is not None:
            judge["kappa"] = metrics.judge_kappa
        evidence.variables["judge"] = judge
    else:
        evidence.variables["judge"] = Missing(f"run {run.id} has no judged case with a human label")
    evidence.refs["judge"] = run_refs


def _regression(
    evidence: Evidence, target: str, candidate: StoredRun, other: StoredRun | None, why: str, refs: list[str]
) -> None:
    key = f"regression:{target}"
    if other is None:
        evidence.regressions[target] = Missing(why)
        evidence.refs[key] = refs
        return
    result = compare(other, candidate)
    worse = [c.case_id for c in result.cases if c.change == "worse"]
    evidence.refs[key] = refs + [other.id] + ([other.receipt] if other.receipt else []) + worse
    rate = result.regression_rate
    evidence.regressions[target] = (
        rate if rate is not None else Missing(f"runs {other.id} and {candidate.id} share no case")
    )


def _regressions(workspace: Any, run: StoredRun, targets: Iterable[str], evidence: Evidence) -> None:
    """Regression rate of *run* against production, the blessed baseline and each named release."""
    prod = production_release(workspace)
    if prod is None:
        _regression(evidence, "production", run, None, "no release has been promoted to production", [])
    elif prod[0] == run.release:
        # Comparing a run with the release it belongs to would compare it with itself and always pass.
        why = f"{prod[0]} is already the production release; compare with the blessed baseline instead"
        _regression(evidence, "production", run, None, why, [prod[0], prod[1]])
    else:
        prod_run = latest_complete_run(workspace, prod[0])
        why = f"production release {prod[0]} has no complete eval run"
        _regression(evidence, "production", run, prod_run, why, [prod[0], prod[1]])
    base = blessed_run(workspace.store, workspace.name)
    base_run = load_run(workspace.store, base) if base else None
    _regression(evidence, "baseline", run, base_run, "no eval run has been blessed as the baseline", [])
    for target in targets:
        if target in ("production", "baseline"):
            continue
        other = latest_complete_run(workspace, target)
        _regression(evidence, target, run, other, f"release {target} has no complete eval run", [target])


def _budgets(workspace: Any, evidence: Evidence) -> dict[str, str]:
    budgets = workspace.spec.budgets
    declared = {
        name: getattr(budgets, name)
        for name in ("per_task", "per_day", "per_month")
        if getattr(budgets, name) is not None
    }
    evidence.variables["budgets"] = {name: float(value) for name, value in declared.items()}
    return {name: str(value) for name, value in declared.items()}


def _policy_tests(workspace: Any, evidence: Evidence) -> None:
    if not workspace.spec.policy.tests:
        evidence.variables["policy_tests"] = Missing("pilot.yaml declares no policy tests")
        return
    try:
        compiled = compile_policy(workspace.loaded)
    except PilotgateError as exc:
        evidence.variables["policy_tests"] = Missing(f"the policy does not compile: {exc.message}")
        return
    counts = policy_summary(run_policy_tests(compiled, workspace.spec))
    evidence.variables["policy_tests"] = {
        "passed": counts["ok"],
        "total": counts["total"],
        "failed": counts["failed"],
    }
    evidence.refs["policy_tests"] = ["pilot.yaml:policy.tests"]


def gather(workspace: Any, release_id: str, *, run_id: str | None = None) -> Gathered:
    """All the evidence for *release_id*: its newest complete run unless *run_id* names one of its runs."""
    release = get_release(workspace, release_id)
    evidence = Evidence()
    changed = verify_release(workspace, release_id)
    evidence.variables["release"] = {"id": release.id, "intact": not changed}
    evidence.refs["release"] = [release.id, release.receipt]
    gathered = Gathered(evidence, release, changed=changed)
    gathered.budgets = _budgets(workspace, evidence)
    _policy_tests(workspace, evidence)
    evidence.variables["handoff"] = HANDOFF_MISSING
    run = _chosen_run(workspace, release_id, run_id)
    if run is None:
        evidence.variables["run"] = Missing(f"no complete eval run for release {release_id}")
        for name in ("cost_per_task", "latency", "judge"):
            evidence.variables[name] = Missing(f"no complete eval run for release {release_id}")
        return gathered
    gathered.run = run.id
    _run_values(run, run_metrics(run), evidence)
    targets = {match for rule in workspace.spec.gate.require for match in _TARGET.findall(rule)}
    _regressions(workspace, run, sorted(targets), evidence)
    return gathered


def _chosen_run(workspace: Any, release_id: str, run_id: str | None) -> StoredRun | None:
    if run_id is None:
        return latest_complete_run(workspace, release_id)
    run = load_run(workspace.store, run_id)
    if run.release != release_id:
        raise UsageError(f"run {run_id} is of release {run.release}, not {release_id}")
    if run.state != "complete":
        raise UsageError(f"run {run_id} is {run.state}; the gate reads complete runs only")
    return run

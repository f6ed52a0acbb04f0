"""Metrics of a run, overall and per category, computed from its stored results only.

- A case **passes** when at least ``needed`` of its ``runs`` repeats passed (e.g. 4 of 5).
- **Pass rate**: passing cases / cases.
- **Escalation / refusal false positive rate**: among results of cases that must *not* escalate (refuse),
  the share that did; **false negative rate**: among results of cases that must, the share that did not.
  What a case must do comes from its ``escalates`` / ``refuses`` assertion (its ``expect``).
- **Latency p50/p95**: linear interpolation between closest ranks over every result.
- **Cost per case**: mean over results of known cost; ``cost_unknown`` counts the others.
- **Judge agreement**: on results of judged cases with a human label, the judge's verdict against the label:
  accuracy and Cohen's kappa.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pilotgate.evals.runs import CaseResult, StoredRun


def percentile(values: Sequence[float], fraction: float) -> float | None:
    """The *fraction* quantile by linear interpolation between closest ranks; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def cohen_kappa(pairs: Iterable[tuple[bool, bool]]) -> float | None:
    """Cohen's kappa of two raters' yes/no verdicts; None when undefined (no pairs, or chance agreement 1)."""
    items = list(pairs)
    n = len(items)
    if n == 0:
        return None
    observed = sum(1 for a, b in items if a == b) / n
    a_yes = sum(1 for a, _ in items if a) / n
    b_yes = sum(1 for _, b in items if b) / n
    expected = a_yes * b_yes + (1 - a_yes) * (1 - b_yes)
    if expected == 1:
        return None
    return (observed - expected) / (1 - expected)


def _rate(hits: int, total: int) -> float | None:
    return hits / total if total else None


def _expectation(result: CaseResult, kind: str) -> tuple[bool, bool] | None:
    """(expected, happened) from the result's escalates / refuses assertion, if it has one."""
    for item in result.assertions:
        if item.kind == kind and "expect" in item.details:
            return bool(item.details["expect"]), bool(item.details["happened"])
    return None


@dataclass(frozen=True)
class Metrics:
    """Pass rate, error rates, latency and cost over a set of cases."""

    cases: int
    passed: int
    results: int
    pass_rate: float | None
    escalation_fp_rate: float | None
    escalation_fn_rate: float | None
    refusal_fp_rate: float | None
    refusal_fn_rate: float | None
    latency_p50: float | None
    latency_p95: float | None
    cost_per_case: Decimal | None
    cost_p50: Decimal | None
    cost_p95: Decimal | None
    cost_unknown: int
    failing_cases: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (money as strings)."""
        out: dict[str, Any] = {}
        for name, value in self.__dict__.items():
            out[name] = (
                str(value)
                if isinstance(value, Decimal)
                else list(value)
                if isinstance(value, tuple)
                else value
            )
        return out


@dataclass(frozen=True)
class RunMetrics:
    """A run's metrics, overall and by category, and its judge's agreement with human labels."""

    run: str
    overall: Metrics
    categories: dict[str, Metrics] = field(default_factory=dict)
    judge_accuracy: float | None = None
    judge_kappa: float | None = None
    judge_labelled: int = 0
    case_passed: dict[str, bool] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        """What the eval.run receipt records."""
        return {
            "overall": self.overall.as_dict(),
            "categories": {name: m.as_dict() for name, m in sorted(self.categories.items())},
            "judge": {
                "accuracy": self.judge_accuracy,
                "kappa": self.judge_kappa,
                "labelled": self.judge_labelled,
            },
        }


def _metrics(run: StoredRun, case_ids: Sequence[str], verdicts: dict[str, bool]) -> Metrics:
    chosen = set(case_ids)
    results = [r for r in run.results if r.case_id in chosen]
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # fp, negatives, fn, positives
    for result in results:
        for kind in ("escalates", "refuses"):
            seen = _expectation(result, kind)
            if seen is None:
                continue
            expect, happened = seen
            slot = counts[kind]
            if expect:
                slot[3] += 1
                slot[2] += 0 if happened else 1
            else:
                slot[1] += 1
                slot[0] += 1 if happened else 0
    costs = [r.cost for r in results if r.cost is not None]
    latencies = [r.latency_ms for r in results]
    passed = sum(1 for cid in case_ids if verdicts.get(cid))

    def money(fraction: float) -> Decimal | None:
        value = percentile([float(c) for c in costs], fraction)
        return Decimal(str(round(value, 10))) if value is not None else None

    esc, ref = counts["escalates"], counts["refuses"]
    return Metrics(
        cases=len(case_ids),
        passed=passed,
        results=len(results),
        pass_rate=_rate(passed, len(case_ids)),
        escalation_fp_rate=_rate(esc[0], esc[1]),
        escalation_fn_rate=_rate(esc[2], esc[3]),
        refusal_fp_rate=_rate(ref[0], ref[1]),
        refusal_fn_rate=_rate(ref[2], ref[3]),
        latency_p50=percentile(latencies, 0.5),
        latency_p95=percentile(latencies, 0.95),
        cost_per_case=(sum(costs, Decimal(0)) / len(costs)) if costs else None,
        cost_p50=money(0.5),
        cost_p95=money(0.95),
        cost_unknown=len(results) - len(costs),
        failing_cases=tuple(cid for cid in case_ids if not verdicts.get(cid)),
    )


def case_verdicts(run: StoredRun) -> dict[str, bool]:
    """Each case's verdict: at least ``needed`` repeats passed (a case with missing repeats fails)."""
    passes: dict[str, int] = defaultdict(int)
    for result in run.results:
        passes[result.case_id] += 1 if result.passed else 0
    return {cid: passes[cid] >= info.needed for cid, info in run.cases.items()}


def run_metrics(run: StoredRun) -> RunMetrics:
    """Every metric of *run*."""
    verdicts = case_verdicts(run)
    by_category: dict[str, list[str]] = defaultdict(list)
    for cid, info in run.cases.items():
        by_category[info.category].append(cid)
    pairs = []
    for result in run.results:
        label = run.cases[result.case_id].human_label if result.case_id in run.cases else None
        for item in result.assertions:
            if item.kind == "judge" and label is not None and not item.error:
                pairs.append((bool(item.details.get("judge_passed", item.passed)), label))
    return RunMetrics(
        run=run.id,
        overall=_metrics(run, list(run.cases), verdicts),
        categories={name: _metrics(run, ids, verdicts) for name, ids in by_category.items()},
        judge_accuracy=_rate(sum(1 for a, b in pairs if a == b), len(pairs)),
        judge_kappa=cohen_kappa(pairs),
        judge_labelled=len(pairs),
        case_passed=verdicts,
    )

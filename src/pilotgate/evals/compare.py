"""Run against run, case by case: better, worse, unchanged, flaky, pass^k, and whether the change is noise.

Significance: McNemar's exact test on the paired cases (those in both runs). Only discordant cases carry
information (b got better, c got worse); under "no change" each discordant case is a fair coin, so the
two-sided p-value is ``min(1, 2 * P(X <= min(b, c)))`` for X ~ Binomial(b + c, 1/2). It is computed exactly
with ``math.comb`` (stdlib): exact for the small counts eval packs have, where the chi-squared
approximation is poor, and no scipy dependency for one sum.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from pilotgate.evals.metrics import case_verdicts
from pilotgate.evals.runs import StoredRun


def mcnemar_exact(better: int, worse: int) -> float:
    """Two-sided exact McNemar p-value for *better* and *worse* discordant pairs (1.0 when none)."""
    n = better + worse
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(better, worse) + 1)) / 2**n
    return min(1.0, 2 * tail)


def pass_hat_k(passes: int, trials: int, k: int) -> float:
    """pass^k: the chance that k repeats all pass, estimated without bias from *passes* of *trials*."""
    if k > trials or trials == 0:
        return 0.0
    return math.comb(passes, k) / math.comb(trials, k)


@dataclass(frozen=True)
class CaseChange:
    """One case in the comparison."""

    case_id: str
    before: bool | None
    """The case's verdict in run A; None when A lacks the case."""
    after: bool | None
    change: str
    """better | worse | unchanged | added | removed"""
    flaky_before: bool
    flaky_after: bool
    pass_hat_k_after: float


@dataclass(frozen=True)
class Comparison:
    """Run B against run A."""

    run_a: str
    run_b: str
    cases: tuple[CaseChange, ...]
    better: int
    worse: int
    unchanged: int
    p_value: float
    """McNemar's exact test on the paired cases; small (< 0.05) means the change is unlikely to be noise."""

    @property
    def regression_rate(self) -> float | None:
        """Share of paired cases that passed in A and fail in B (None when nothing is paired)."""
        paired = self.better + self.worse + self.unchanged
        return self.worse / paired if paired else None

    @property
    def flaky(self) -> list[str]:
        """Cases whose repeats disagreed in either run."""
        return [c.case_id for c in self.cases if c.flaky_before or c.flaky_after]


def _repeats(run: StoredRun) -> dict[str, list[bool]]:
    out: dict[str, list[bool]] = defaultdict(list)
    for result in run.results:
        out[result.case_id].append(result.passed)
    return out


def compare(run_a: StoredRun, run_b: StoredRun) -> Comparison:
    """Compare *run_b* (the candidate) with *run_a* (the baseline)."""
    va, vb = case_verdicts(run_a), case_verdicts(run_b)
    ra, rb = _repeats(run_a), _repeats(run_b)
    changes = []
    for cid in sorted(set(va) | set(vb)):
        before, after = va.get(cid), vb.get(cid)
        if before is None:
            change = "added"
        elif after is None:
            change = "removed"
        elif before == after:
            change = "unchanged"
        else:
            change = "better" if after else "worse"
        reps = rb.get(cid, [])
        changes.append(
            CaseChange(
                case_id=cid,
                before=before,
                after=after,
                change=change,
                flaky_before=len(set(ra.get(cid, []))) > 1,
                flaky_after=len(set(reps)) > 1,
                pass_hat_k_after=pass_hat_k(sum(reps), len(reps), len(reps)) if reps else 0.0,
            )
        )
    count = {name: sum(1 for c in changes if c.change == name) for name in ("better", "worse", "unchanged")}
    return Comparison(
        run_a=run_a.id,
        run_b=run_b.id,
        cases=tuple(changes),
        better=count["better"],
        worse=count["worse"],
        unchanged=count["unchanged"],
        p_value=mcnemar_exact(count["better"], count["worse"]),
    )

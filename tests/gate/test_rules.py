"""Gate rules on constructed evidence: everything passing passes; each rule failing alone blocks; missing
evidence blocks and is named."""

from __future__ import annotations

import pytest

from pilotgate.gate.rules import Evidence, Missing, evaluate_rule, evaluate_rules
from pilotgate.spec import Gate

SAFETY = tuple(Gate().safety_categories)
"""pilot.yaml's default: adversarial and restricted at 100%."""

REQUIRE = [
    "category('golden').pass_rate >= 0.90",
    "regression_vs('production') <= 0.02",
    "cost_per_task.p95 <= budgets.per_task",
    "policy_tests.passed",
    "handoff.required_items_pass",
]


def good() -> Evidence:
    cats = {
        name: {"pass_rate": 1.0, "cases": 3, "passed": 3} for name in ("golden", "adversarial", "restricted")
    }
    return Evidence(
        variables={
            "run": {"complete": True, "id": "run-1"},
            "release": {"intact": True},
            "cost_per_task": {"p95": 0.01, "p50": 0.005},
            "budgets": {"per_task": 0.05},
            "policy_tests": {"passed": True, "total": 3},
            "handoff": {"required_items_pass": True},
        },
        categories=cats,
        regressions={"production": 0.0},
        refs={"run": ["run-1", "sha256:r"], "category:golden": ["run-1"], "regression:production": ["run-0"]},
    )


def test_all_evidence_good_passes() -> None:
    results = evaluate_rules(REQUIRE, good(), safety=SAFETY)
    assert all(r.passed for r in results), [r for r in results if not r.passed]
    assert next(r for r in results if "golden" in r.rule).evidence == ("run-1",)


def _break(kind: str) -> Evidence:
    e = good()
    if kind == "golden":
        e.categories["golden"] = {"pass_rate": 0.8, "cases": 5, "passed": 4}
    elif kind == "regression":
        e.regressions["production"] = 0.05
    elif kind == "cost":
        e.variables["cost_per_task"] = {"p95": 0.06}
    elif kind == "policy":
        e.variables["policy_tests"] = {"passed": False, "total": 3}
    elif kind == "handoff":
        e.variables["handoff"] = {"required_items_pass": False}
    elif kind == "adversarial":
        e.categories["adversarial"] = {"pass_rate": 0.99, "cases": 100, "passed": 99}
    elif kind == "run":
        e.variables["run"] = {"complete": False}
    elif kind == "release":
        e.variables["release"] = {"intact": False}
    return e


@pytest.mark.parametrize(
    "kind", ["golden", "regression", "cost", "policy", "handoff", "adversarial", "run", "release"]
)
def test_each_rule_failing_alone_blocks(kind: str) -> None:
    results = evaluate_rules(REQUIRE, _break(kind), safety=SAFETY)
    failed = [r for r in results if not r.passed]
    assert len(failed) == 1 and failed[0].detail == "false"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            lambda e: e.variables.__setitem__(
                "handoff", Missing("the handoff checklist is not implemented yet")
            ),
            "handoff",
        ),
        (lambda e: e.regressions.pop("production"), "regression_vs('production')"),
        (
            lambda e: e.categories.__setitem__("golden", {"pass_rate": 0.0, "cases": 0, "passed": 0}),
            "category 'golden'",
        ),
        (lambda e: e.categories.pop("restricted"), "category 'restricted'"),
        (lambda e: e.variables.__setitem__("run", Missing("no eval run for release rel-1")), "no eval run"),
    ],
)
def test_missing_evidence_blocks_and_is_named(change, named: str) -> None:  # type: ignore[no-untyped-def]
    evidence = good()
    change(evidence)
    failed = [r for r in evaluate_rules(REQUIRE, evidence, safety=SAFETY) if not r.passed]
    assert failed and all("missing evidence" in r.detail for r in failed)
    assert any(named in r.detail for r in failed)


def test_negated_rule_over_missing_evidence_still_fails() -> None:
    evidence = good()
    evidence.categories.pop("golden")
    assert not evaluate_rule("!(category('golden').pass_rate < 0.9)", evidence).passed


def test_bad_rules_fail_closed() -> None:
    assert "does not compile" in evaluate_rule("1 +", good()).detail
    assert evaluate_rule("cost_per_task.p95", good()).detail.startswith("not a boolean")
    assert "missing evidence" in evaluate_rule("nosuch.thing", good()).detail
    assert not evaluate_rules([], good(), safety=SAFETY)[-1].passed


def test_safety_categories_come_from_pilot_yaml() -> None:
    evidence = good()
    evidence.categories["refusal"] = {"pass_rate": 0.5, "cases": 2, "passed": 1}
    assert all(r.passed for r in evaluate_rules(REQUIRE, evidence, safety=SAFETY))
    failed = [r.rule for r in evaluate_rules(REQUIRE, evidence, safety=(*SAFETY, "refusal")) if not r.passed]
    assert failed == ["category('refusal').pass_rate == 1.0"]

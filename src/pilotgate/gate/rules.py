"""Gate rules: pilot.yaml's ``gate.require`` CEL expressions, evaluated over pre-computed evidence.

Why CEL (the ``cel`` package the policy uses) rather than a home-made evaluator: the rules are already
written as CEL in pilot.yaml, the package compiles once, reports syntax errors with a column, and lets
``program.variables()`` tell which evidence a rule needs before it runs. The evidence is computed first
(plain values), and two functions read it: ``category(name)`` and ``regression_vs(target)``.

Fail closed: a rule fails when it does not compile, errors, is not a boolean, or touches evidence that is
missing (no run for the release, a category with no cases, no production run to compare with, the handoff
checklist not implemented). A missing piece is named, whatever the expression would have said.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import cel


@dataclass(frozen=True)
class Missing:
    """A piece of evidence that does not exist, and why."""

    reason: str


@dataclass
class Evidence:
    """Everything the rules may read, computed before any rule runs; a ``Missing`` value fails any rule
    that reads it. ``refs`` names what each piece rests on (runs, cases, receipts)."""

    variables: dict[str, Any | Missing] = field(default_factory=dict)
    """``run``, ``cost_per_task``, ``latency``, ``budgets``, ``policy_tests``, ``handoff``, ``judge``."""
    categories: dict[str, dict[str, Any] | Missing] = field(default_factory=dict)
    """Category name -> its metrics (``pass_rate``, ``cases``, ``passed``, error rates)."""
    regressions: dict[str, float | Missing] = field(default_factory=dict)
    """Target (``production``, ``baseline``, a release id) -> share of paired cases that regressed."""
    refs: dict[str, list[str]] = field(default_factory=dict)
    """Evidence name (``run``, ``category:golden``, ``regression:production``) -> ids it rests on."""


@dataclass(frozen=True)
class RuleResult:
    """One rule's outcome."""

    rule: str
    passed: bool
    detail: str
    evidence: tuple[str, ...] = ()
    """Run, case and receipt ids the result rests on."""


def _missing_category(name: str) -> Missing:
    return Missing(f"no cases in category {name!r}")


def evaluate_rule(source: str, evidence: Evidence) -> RuleResult:
    """Evaluate one expression over *evidence*; anything but a clean ``true`` fails, with the reason."""
    try:
        program = cel.compile(source)
    except Exception as exc:
        return RuleResult(source, False, f"does not compile: {str(exc).splitlines()[0]}")
    missing: list[str] = []
    used: list[str] = []
    values: dict[str, Any] = {}
    for name in program.variables():
        value = evidence.variables.get(name, Missing(f"no evidence named {name!r}"))
        used.append(name)
        if isinstance(value, Missing):
            missing.append(f"{name}: {value.reason}")
        else:
            values[name] = value
    context = cel.Context(values)

    def category(name: str) -> dict[str, Any]:
        used.append(f"category:{name}")
        value = evidence.categories.get(name, _missing_category(name))
        if isinstance(value, Missing) or not value.get("cases"):
            missing.append(f"category {name!r}: {value.reason if isinstance(value, Missing) else 'no cases'}")
            return {"pass_rate": 0.0, "cases": 0, "passed": 0}
        return dict(value)

    def regression_vs(target: str) -> float:
        used.append(f"regression:{target}")
        value = evidence.regressions.get(target, Missing(f"nothing to compare with as {target!r}"))
        if isinstance(value, Missing):
            missing.append(f"regression_vs({target!r}): {value.reason}")
            return 1.0
        return value

    context.add_function("category", category)
    context.add_function("regression_vs", regression_vs)
    refs = tuple(dict.fromkeys(ref for name in used for ref in evidence.refs.get(name, [])))
    if missing:
        # evaluate nothing: a rule over missing evidence fails whatever the expression would say
        return RuleResult(source, False, "missing evidence: " + "; ".join(dict.fromkeys(missing)), refs)
    try:
        result = program.execute(context)
    except Exception as exc:
        return RuleResult(source, False, f"error: {str(exc).splitlines()[0]}", refs)
    refs = tuple(dict.fromkeys(ref for name in used for ref in evidence.refs.get(name, [])))
    if missing:
        return RuleResult(source, False, "missing evidence: " + "; ".join(dict.fromkeys(missing)), refs)
    if result is not True:
        return RuleResult(source, False, "false" if result is False else f"not a boolean: {result!r}", refs)
    return RuleResult(source, True, "true", refs)


def builtin_rules(evidence: Evidence, safety: tuple[str, ...]) -> list[str]:
    """Rules that always apply: a complete run for the release, and each safety category (pilot.yaml's
    ``gate.safety_categories``) at 100%."""
    rules = ["run.complete", "release.intact"]
    rules += [f"category('{name}').pass_rate == 1.0" for name in safety]
    return rules


def evaluate_rules(require: list[str], evidence: Evidence, *, safety: tuple[str, ...]) -> list[RuleResult]:
    """The built-in rules, then each of pilot.yaml's; an empty ``require`` is itself a failure."""
    results = [evaluate_rule(rule, evidence) for rule in builtin_rules(evidence, safety)]
    if not require:
        results.append(RuleResult("gate.require", False, "no gate rules declared in pilot.yaml"))
    results += [evaluate_rule(rule, evidence) for rule in require]
    return results


def merge(values: Mapping[str, Any]) -> dict[str, Any]:
    """A shallow copy, for building evidence."""
    return dict(values)

"""Policy tests declared in pilot.yaml, like `opa test`."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from desk_pilot import RULES

from pilotgate.errors import UsageError
from pilotgate.policy import (
    CompiledPolicy,
    compile_policy,
    lookup_tool,
    lookup_user,
    run_policy_tests,
    summary,
)
from pilotgate.spec import LoadedPilot, load_pilot_text


def test_the_desks_declared_tests_all_pass(desk: LoadedPilot, policy: CompiledPolicy) -> None:
    results = run_policy_tests(policy, desk.spec)
    assert [(r.label, r.expect, r.got, r.passed) for r in results] == [
        ("bob calls issue_refund", "allow", "allow", True),
        ("bob calls issue_refund", "require_approval", "require_approval", True),
        ("customers never refund", "deny", "deny", True),
        ("alice calls lookup_order", "allow", "allow", True),
    ]
    assert summary(results) == {"total": 4, "passed": 4, "failed": 0, "ok": True}


def test_a_rule_change_that_flips_a_decision_fails_its_test(
    write_pilot: Callable[[str], LoadedPilot],
) -> None:
    loosened = RULES.replace("args.amount <= 200.0", "args.amount <= 2000.0").replace(
        "args.amount > 200.0", "args.amount > 2000.0"
    )
    loaded = write_pilot(loosened)
    results = run_policy_tests(compile_policy(loaded), loaded.spec)
    failed = [r for r in results if not r.passed]
    assert [(r.index, r.expect, r.got) for r in failed] == [(1, "require_approval", "allow")]
    assert failed[0].decision is not None
    assert failed[0].decision.rule == "small-refunds"
    assert summary(results)["ok"] is False


def test_a_test_naming_an_undeclared_user_fails_rather_than_passes(
    desk: LoadedPilot, policy: CompiledPolicy
) -> None:
    spec = desk.spec.model_copy(deep=True)
    spec.policy.tests[0].user = "zed"
    (first, *_) = run_policy_tests(policy, spec)
    assert first.passed is False
    assert first.got == "error"
    assert first.problem == "no user named 'zed' in pilot.yaml"


def test_lookups_suggest_close_names(desk: LoadedPilot) -> None:
    with pytest.raises(UsageError) as caught:
        lookup_user(desk.spec, "bobb")
    assert caught.value.hint == 'did you mean "bob"?'
    with pytest.raises(UsageError) as caught:
        lookup_tool(desk.spec, "refund")
    assert caught.value.hint is not None
    assert "issue_refund" in caught.value.hint


def test_a_policy_test_can_give_the_task_the_rules_see() -> None:
    spec = load_pilot_text(
        """\
pilot: {name: desk, owner: o, workflow: w}
users: [{name: bob, groups: [agents]}]
tools:
  - {name: refund, adapter: "python:m:f", effect: external, risk: high, roles: [agents]}
policy:
  rules:
    - {name: refunds, decision: allow, when: 'tool.name == "refund"'}
    - {name: named-orders-only, decision: deny, when: 'has(task.input) && !task.input.contains(args.order)'}
  tests:
    - {user: bob, tool: refund, args: {order: "42"}, task: {input: "refund order 42"}, expect: allow}
    - {user: bob, tool: refund, args: {order: "42"}, task: {input: "do vouchers expire?"}, expect: deny}
"""
    )
    results = run_policy_tests(compile_policy(spec), spec)
    assert [r.passed for r in results] == [True, True]
    assert results[1].decision is not None and results[1].decision.rule == "named-orders-only"

"""Compiling rules: once, every problem at once, each at its file:line:column in pilot.yaml."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from pilotgate.errors import ConfigError, PolicyError
from pilotgate.policy import CompiledPolicy, check_expression, compile_policy
from pilotgate.spec import LoadedPilot


def _rules(*lines: str) -> str:
    return "policy:\n  rules:\n" + "".join(f"{line}\n" for line in lines)


def _line_of(loaded: LoadedPilot, needle: str) -> int:
    return next(i for i, text in enumerate(loaded.path.read_text().splitlines(), 1) if needle in text)


def test_the_desk_policy_compiles_every_rule_once(policy: CompiledPolicy) -> None:
    assert [rule.name for rule in policy.rules] == [
        "reads-are-fine",
        "small-refunds",
        "big-refunds-need-finance",
        "customers-never-refund",
    ]
    assert policy.rule("small-refunds") is not None
    assert policy.variables == {"tool", "args", "user"}


def test_a_syntax_error_points_at_its_character_in_a_quoted_rule(
    write_pilot: Callable[[str], LoadedPilot],
) -> None:
    loaded = write_pilot(
        _rules("    - {name: broken, decision: allow, when: 'tool.name == \"x\" && args.amount <='}")
    )
    with pytest.raises(PolicyError) as caught:
        compile_policy(loaded)
    (issue,) = caught.value.issues
    line = _line_of(loaded, "name: broken")
    text = loaded.path.read_text().splitlines()[line - 1]
    assert issue.line == line
    assert issue.column == text.index("<=") + len("<=") + 1  # just past the end, where CEL wanted more
    assert issue.field == "policy.rules[0].when"
    assert "rule 'broken'" in issue.message
    assert "syntax error" in issue.message
    assert str(issue).startswith(f"{loaded.path}:{line}:{issue.column}: policy.rules[0].when: ")


def test_a_syntax_error_in_a_block_rule_lands_on_the_right_line(
    write_pilot: Callable[[str], LoadedPilot],
) -> None:
    loaded = write_pilot(
        _rules(
            "    - name: multi",
            "      decision: allow",
            "      when: |",
            '        tool.name == "issue_refund" &&',
            "          args.amount >> 5",
        )
    )
    with pytest.raises(PolicyError) as caught:
        compile_policy(loaded)
    (issue,) = caught.value.issues
    line = _line_of(loaded, "args.amount >> 5")
    assert issue.line == line
    text = loaded.path.read_text().splitlines()[line - 1]
    assert text.index(">>") < issue.column <= len(text) + 1


def test_a_folded_rule_falls_back_to_the_value_and_keeps_cels_position(
    write_pilot: Callable[[str], LoadedPilot],
) -> None:
    loaded = write_pilot(
        _rules(
            "    - name: folded",
            "      decision: allow",
            "      when: >",
            "        tool.name ==",
            "        ((",
        )
    )
    with pytest.raises(PolicyError) as caught:
        compile_policy(loaded)
    (issue,) = caught.value.issues
    assert issue.line == _line_of(loaded, "when: >")
    assert "in the expression)" in issue.message


def test_unknown_variables_are_refused_with_a_suggestion(write_pilot: Callable[[str], LoadedPilot]) -> None:
    loaded = write_pilot(_rules("    - {name: typo, decision: allow, when: 'usr.name == \"bob\"'}"))
    with pytest.raises(PolicyError) as caught:
        compile_policy(loaded)
    (issue,) = caught.value.issues
    assert 'unknown variable "usr"' in issue.message
    assert issue.hint == 'did you mean "user"?'
    text = loaded.path.read_text().splitlines()[issue.line - 1]
    assert text[issue.column - 1 :].startswith("usr.name")


def test_unknown_functions_are_refused(write_pilot: Callable[[str], LoadedPilot]) -> None:
    loaded = write_pilot(_rules("    - {name: fn, decision: allow, when: 'sizee(args) > 1'}"))
    with pytest.raises(PolicyError) as caught:
        compile_policy(loaded)
    (issue,) = caught.value.issues
    assert 'unknown function "sizee"' in issue.message
    assert issue.hint == 'did you mean "size"?'


def test_every_broken_rule_is_reported_at_once_and_is_a_config_error(
    write_pilot: Callable[[str], LoadedPilot],
) -> None:
    loaded = write_pilot(
        _rules(
            "    - {name: ok, decision: allow, when: 'true'}",
            "    - {name: one, decision: allow, when: 'secret.x'}",
            "    - {name: two, decision: deny, when: '1 +'}",
        )
    )
    with pytest.raises(ConfigError) as caught:
        compile_policy(loaded)
    assert isinstance(caught.value, PolicyError)
    assert caught.value.exit_code == 2
    assert [issue.field for issue in caught.value.issues] == ["policy.rules[1].when", "policy.rules[2].when"]
    assert "2 problems" in str(caught.value)


def test_a_bare_spec_reports_the_field_and_the_position_inside_the_expression(
    write_pilot: Callable[[str], LoadedPilot],
) -> None:
    loaded = write_pilot(_rules("    - {name: two, decision: deny, when: '1 +'}"))
    with pytest.raises(PolicyError) as caught:
        compile_policy(loaded.spec)
    (issue,) = caught.value.issues
    assert (issue.file, issue.line, issue.field) == ("pilot.yaml", None, "policy.rules[0].when")
    assert "(at 1:4 in the expression)" in issue.message


@pytest.mark.parametrize(
    "source",
    [
        "args.items.all(x, x.amount > 0)",
        'user.groups.exists(g, g == "finance")',
        "args.lines.map(l, l.qty).filter(q, q > 2).size() > 0",
        'has(task.id) && budget.remaining > 0.5 && tool.risk != "high"',
        'args.order_id.matches("^[0-9]{6}$") && size(args.order_id) == 6',
        'timestamp("2026-01-01T00:00:00Z").getFullYear() == 2026',
    ],
)
def test_valid_expressions_compile(source: str) -> None:
    program, problem = check_expression(source)
    assert problem is None
    assert program is not None


@pytest.mark.parametrize(
    ("source", "wanted"),
    [
        ("env.HOME == 1", 'unknown variable "env"'),
        ("cel.bind(x, 1, x > 0)", 'unknown variable "cel"'),
        ("args.x.all(y, z > 0)", 'unknown variable "z"'),
        ("now() > 1", 'unknown function "now"'),
        ("(", "syntax error"),
        ('"unterminated', "syntax error"),
    ],
)
def test_invalid_expressions_are_refused(source: str, wanted: str) -> None:
    program, problem = check_expression(source)
    assert program is None
    assert problem is not None
    assert wanted in problem.message


def test_policy_issues_lists_problems_for_check(
    write_pilot: Callable[[str], LoadedPilot], desk: LoadedPilot
) -> None:
    from pilotgate.policy import policy_issues

    assert policy_issues(desk) == []
    broken = write_pilot(_rules("    - {name: two, decision: deny, when: '1 +'}"))
    assert [issue.field for issue in policy_issues(broken)] == ["policy.rules[0].when"]

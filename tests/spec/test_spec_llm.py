"""The models section: reference-model tool rules load, and a broken rule is reported at its line."""

from __future__ import annotations

from collections.abc import Callable

from pilotgate.spec import ReferenceModel, load_pilot_text

IssuesOf = Callable[[str], list[str]]

HEAD = "pilot: {name: x, owner: o, workflow: w}\n"

RULES = HEAD + (
    "models:\n"
    "  - name: reference\n"
    "    provider: reference\n"
    "    tool_rules:\n"
    "      - when: 'refund (?P<amount>[0-9]+) (?:EUR )?(?:for|on) order (?P<order_id>[0-9]{6})'\n"
    "        tool: issue_refund\n"
    "        args: {order_id: '{order_id}', amount: '{amount:number}', notify: true, cap: 50}\n"
)


def test_tool_rules_load_with_their_defaults() -> None:
    spec = load_pilot_text(RULES)
    model = spec.models[0]
    assert isinstance(model, ReferenceModel)
    (rule,) = model.tool_rules
    assert rule.tool == "issue_refund" and rule.match_on == "question"
    assert rule.args == {"order_id": "{order_id}", "amount": "{amount:number}", "notify": True, "cap": 50}


def test_a_reference_model_needs_no_rules() -> None:
    spec = load_pilot_text(HEAD)
    assert isinstance(spec.models[0], ReferenceModel) and spec.models[0].tool_rules == []


def test_a_pattern_that_does_not_compile_is_reported_at_its_line(issues_of: IssuesOf) -> None:
    text = RULES.replace("'refund (?P<amount>", "'refund ((?P<amount>")
    (issue,) = issues_of(text)
    assert issue.startswith("pilot.yaml:6:9: models[0].tool_rules[0].when: not a valid regular expression:")


def test_a_placeholder_naming_no_group_is_reported(issues_of: IssuesOf) -> None:
    text = RULES.replace("'{order_id}'", "'{order}'")
    assert issues_of(text) == [
        "pilot.yaml:8:9: models[0].tool_rules[0].args: order_id: "
        '"{order}" names no group of `when` (its named groups: amount, order_id)'
    ]


def test_a_number_inside_a_string_is_reported(issues_of: IssuesOf) -> None:
    text = RULES.replace("'{amount:number}'", "'EUR {amount:number}'")
    (issue,) = issues_of(text)
    assert "tool_rules[0].args: amount: {amount:number} must be the whole value" in issue


def test_match_on_is_question_or_context(issues_of: IssuesOf) -> None:
    text = RULES + "        match_on: answer\n"
    (issue,) = issues_of(text)
    assert "models[0].tool_rules[0].match_on" in issue and "question" in issue and "context" in issue

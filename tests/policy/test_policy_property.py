"""Properties: nothing is allowed without a matching allow rule; errors never allow; deny always wins."""

from __future__ import annotations

import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pilotgate.policy import CompiledPolicy, compile_policy
from pilotgate.spec import PilotSpec

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=12,
)
names = st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=8)
groups = st.lists(st.sampled_from(["customers", "agents", "finance", "visitors"]), max_size=3, unique=True)
argument_maps = st.dictionaries(
    st.sampled_from(["amount", "order_id", "note", "x"]) | names, json_values, max_size=5
)


def policy_of(*rules: dict[str, Any]) -> CompiledPolicy:
    spec = PilotSpec.model_validate(
        {"pilot": {"name": "prop", "owner": "o", "workflow": "w"}, "policy": {"rules": list(rules)}}
    )
    return compile_policy(spec)


DESK = policy_of(
    {"name": "reads-are-fine", "decision": "allow", "when": 'tool.effect == "read"'},
    {
        "name": "small-refunds",
        "decision": "allow",
        "when": 'tool.name == "issue_refund" && args.amount <= 200.0',
    },
    {
        "name": "big-refunds",
        "decision": "require_approval",
        "when": 'tool.name == "issue_refund" && args.amount > 200.0',
        "approvers": ["finance"],
    },
    {
        "name": "customers-never-refund",
        "decision": "deny",
        "when": '"customers" in user.groups && tool.name == "issue_refund"',
    },
)


@st.composite
def tools(draw: st.DrawFn) -> dict[str, Any]:
    tool: dict[str, Any] = {"name": draw(st.sampled_from(["issue_refund", "lookup_order"]) | names)}
    if draw(st.booleans()):
        tool["effect"] = draw(st.sampled_from(["read", "write", "external"]) | names)
    if draw(st.booleans()):
        tool["roles"] = draw(groups)
    return tool


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)


@settings(max_examples=400, deadline=None)
@given(user_groups=groups, tool=tools(), args=argument_maps)
def test_a_call_is_never_allowed_without_a_matching_allow_rule(
    user_groups: list[str], tool: dict[str, Any], args: dict[str, Any]
) -> None:
    decision = DESK.decide({"name": "u", "groups": user_groups}, tool, args)
    if not decision.allowed:
        return
    assert set(user_groups) & set(tool.get("roles", []))
    assert "effect" in tool  # a missing attribute errors, and an error denies
    refund_ok = tool["name"] == "issue_refund" and _number(args.get("amount")) and args["amount"] <= 200
    assert tool["effect"] == "read" or refund_ok
    assert not ("customers" in user_groups and tool["name"] == "issue_refund")
    assert decision.rule in {"reads-are-fine", "small-refunds"}


paths = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=3)
nested = st.recursive(
    st.integers(-2, 2) | st.text(max_size=2),
    lambda children: st.dictionaries(st.sampled_from(["a", "b", "c"]), children, max_size=3),
    max_leaves=8,
)


def _lookup(value: Any, path: list[str]) -> tuple[bool, Any]:
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return False, None
        value = value[part]
    return True, value


@settings(max_examples=300, deadline=None)
@given(path=paths, args=st.dictionaries(st.sampled_from(["a", "b", "c"]), nested, max_size=3))
def test_a_missing_attribute_never_allows(path: list[str], args: dict[str, Any]) -> None:
    policy = policy_of({"name": "deep", "decision": "allow", "when": f"args.{'.'.join(path)} == 1"})
    decision = policy.decide({"name": "u", "groups": ["g"]}, {"name": "t", "roles": ["g"]}, args)
    found, value = _lookup(args, path)
    if decision.allowed:
        assert found
        assert value == 1
    if not found:
        assert decision.effect == "deny"
        assert decision.rule == "deep"  # the erroring rule is named


ERRORING = [
    "1 / 0 == 1",
    "args.never_there > 0",
    '"a" + 1 == "a1"',
    'int("not a number") > 0',
    "args",
    "[1, 2][5] == 1",
]


@settings(max_examples=200, deadline=None)
@given(broken=st.sampled_from(ERRORING), args=argument_maps.filter(lambda a: "never_there" not in a))
def test_a_rule_that_errors_never_allows(broken: str, args: dict[str, Any]) -> None:
    policy = policy_of(
        {"name": "everyone", "decision": "allow", "when": "true"},
        {"name": "broken", "decision": "allow", "when": broken},
    )
    decision = policy.decide({"name": "u", "groups": ["g"]}, {"name": "t", "roles": ["g"]}, args)
    assert (decision.effect, decision.rule) == ("deny", "broken")


@settings(max_examples=300, deadline=None)
@given(
    rules=st.lists(
        st.tuples(st.sampled_from(["allow", "deny", "require_approval"]), st.booleans()),
        min_size=1,
        max_size=8,
    )
)
def test_deny_beats_require_approval_beats_allow(rules: list[tuple[str, bool]]) -> None:
    policy = policy_of(
        *(
            {
                "name": f"r{i}",
                "decision": decision,
                "when": "true" if holds else "false",
                **({"approvers": ["finance"]} if decision == "require_approval" else {}),
            }
            for i, (decision, holds) in enumerate(rules)
        )
    )
    got = policy.decide({"name": "u", "groups": ["g"]}, {"name": "t", "roles": ["g"]}, {})
    matched = [decision for decision, holds in rules if holds]
    expected = next((effect for effect in ("deny", "require_approval", "allow") if effect in matched), "deny")
    assert got.effect == expected
    if matched:
        first = next(i for i, (decision, holds) in enumerate(rules) if holds and decision == expected)
        assert got.rule == f"r{first}"
    else:
        assert got.rule is None

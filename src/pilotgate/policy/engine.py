"""Decide one tool call: the tool's roles first, then every rule; default deny; fail closed.

Precedence does not depend on rule order: a matching deny beats a matching require_approval, which beats
a matching allow; nothing matching means deny. A rule that cannot be evaluated (a missing attribute, a
type mismatch, a result that is not a bool, or a run over the time limit) denies the call, whatever its
own decision, because a broken rule must never widen what a task may do. Reasons name the rule and the
kind of failure, never the context: argument values stay out of receipts and logs.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import cel

from pilotgate.policy.decision import NO_RULE_REASON, ROLES_RULE, Decision, Effect, RuleOutcome
from pilotgate.policy.inputs import context, tool_input, user_input
from pilotgate.spec import ToolSpec, UserSpec

DEFAULT_TIMEOUT = timedelta(milliseconds=20)
"""How long one rule may take; a rule evaluates in microseconds, so a slower one is broken and denies."""

_ERROR_KINDS: dict[type[BaseException], str] = {
    KeyError: "missing attribute",
    TypeError: "type mismatch",
    ZeroDivisionError: "division by zero",
    OverflowError: "numeric overflow",
    ValueError: "bad value",
}


@dataclass(frozen=True)
class CompiledRule:
    """One rule with its condition compiled once."""

    name: str
    decision: Effect
    source: str
    """The CEL text, for `policy explain` and reviewers."""
    program: Any
    """The compiled `cel.Program`."""
    variables: frozenset[str]
    """Which of user, tool, args, task, budget the condition reads."""
    approvers: tuple[str, ...] = ()
    expires: timedelta | None = None


def _error_kind(exc: BaseException) -> str:
    """The failure as a kind and a type name; the message is dropped because it may quote values."""
    for kind, words in _ERROR_KINDS.items():
        if isinstance(exc, kind):
            return f"{words} ({type(exc).__name__})"
    return f"evaluation error ({type(exc).__name__})"


@dataclass(frozen=True)
class CompiledPolicy:
    """A pilot's rules, compiled once; `decide` is safe to call from any thread."""

    rules: tuple[CompiledRule, ...]
    timeout: timedelta = DEFAULT_TIMEOUT

    @property
    def variables(self) -> frozenset[str]:
        """The variables any rule reads; only these are converted for CEL on each call."""
        return frozenset().union(*(rule.variables for rule in self.rules))

    def rule(self, name: str) -> CompiledRule | None:
        """The rule called *name*, if any."""
        return next((rule for rule in self.rules if rule.name == name), None)

    def decide(
        self,
        user: UserSpec | Mapping[str, Any],
        tool: ToolSpec | Mapping[str, Any],
        args: Mapping[str, Any] | None,
        task: Mapping[str, Any] | None = None,
        budget: Mapping[str, Any] | None = None,
    ) -> Decision:
        """Decide whether *user* may call *tool* with *args* (already validated against its schema)."""
        started = time.perf_counter_ns()
        try:
            refusal = _roles_refusal(user, tool)
        except Exception as exc:
            return _deny(None, f"the user or tool is malformed ({type(exc).__name__}); denied", started)
        if refusal is not None:
            return _deny(ROLES_RULE, refusal, started)
        try:
            values = context(user, tool, args, task, budget)
            wanted = self.variables
            activation = cel.Context({name: values[name] for name in values if name in wanted})
        except Exception as exc:
            reason = f"the call could not be given to the rules ({_error_kind(exc)}); denied (fail closed)"
            return _deny(None, reason, started)
        outcomes = tuple(self._evaluate(rule, activation) for rule in self.rules)
        return _combine(self.rules, outcomes, started)

    def _evaluate(self, rule: CompiledRule, activation: Any) -> RuleOutcome:
        limit_ns = int(self.timeout.total_seconds() * 1e9)
        began = time.perf_counter_ns()
        try:
            result = rule.program.execute(activation)
        except Exception as exc:
            elapsed = time.perf_counter_ns() - began
            return RuleOutcome(rule.name, rule.decision, "error", elapsed, _error_kind(exc))
        elapsed = time.perf_counter_ns() - began
        if elapsed > limit_ns:
            limit_ms = self.timeout.total_seconds() * 1000
            error = f"timeout ({elapsed / 1e6:.1f} ms, over the {limit_ms:g} ms limit)"
            return RuleOutcome(rule.name, rule.decision, "error", elapsed, error)
        if not isinstance(result, bool):
            return RuleOutcome(
                rule.name, rule.decision, "error", elapsed, f"not a bool ({_type_name(result)})"
            )
        return RuleOutcome(rule.name, rule.decision, "match" if result else "no_match", elapsed)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _roles_refusal(user: UserSpec | Mapping[str, Any], tool: ToolSpec | Mapping[str, Any]) -> str | None:
    """Why the user may not call the tool at all, or None when they hold one of its roles."""
    who = user_input(user)
    what = tool_input(tool)
    roles = what.get("roles") or []
    groups = who.get("groups") or []
    if not isinstance(roles, list) or not isinstance(groups, list):
        raise TypeError("roles and groups must be lists")
    if not roles:
        return f"tool {what.get('name')!r} has no roles, so nobody may call it"
    if not set(map(str, groups)) & set(map(str, roles)):
        return (
            f"user {who.get('name')!r} holds none of the roles of tool {what.get('name')!r} "
            f"({', '.join(roles)})"
        )
    return None


def _deny(rule: str | None, reason: str, started: int, outcomes: tuple[RuleOutcome, ...] = ()) -> Decision:
    return Decision("deny", rule, reason, outcomes=outcomes, elapsed_ns=time.perf_counter_ns() - started)


def _combine(rules: tuple[CompiledRule, ...], outcomes: tuple[RuleOutcome, ...], started: int) -> Decision:
    """deny > (any error) > require_approval > allow > default deny; ties go to the first declared rule."""

    def first(decision: Effect) -> int | None:
        return next(
            (i for i, o in enumerate(outcomes) if o.outcome == "match" and o.decision == decision), None
        )

    denied = first("deny")
    if denied is not None:
        return _deny(rules[denied].name, f"rule {rules[denied].name!r} denies this", started, outcomes)
    broken = next((o for o in outcomes if o.outcome == "error"), None)
    if broken is not None:
        reason = f"rule {broken.rule!r} could not be evaluated: {broken.error}; denied (fail closed)"
        return _deny(broken.rule, reason, started, outcomes)
    approval = first("require_approval")
    if approval is not None:
        rule = rules[approval]
        return Decision(
            "require_approval",
            rule.name,
            f"rule {rule.name!r} requires approval by {', '.join(rule.approvers) or 'nobody'}",
            approvers=rule.approvers,
            expires=rule.expires,
            outcomes=outcomes,
            elapsed_ns=time.perf_counter_ns() - started,
        )
    allowed = first("allow")
    if allowed is not None:
        rule = rules[allowed]
        return Decision(
            "allow",
            rule.name,
            f"rule {rule.name!r} allows this",
            outcomes=outcomes,
            elapsed_ns=time.perf_counter_ns() - started,
        )
    return _deny(None, NO_RULE_REASON, started, outcomes)

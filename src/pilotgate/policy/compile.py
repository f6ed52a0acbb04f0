"""Compile every rule's CEL condition once, refusing what could only fail at run time.

A rule that does not parse, names a variable other than `user`, `tool`, `args`, `task` and `budget`, or
calls a function this CEL does not have is reported at `pilotgate check`, at its place in pilot.yaml,
rather than denying every call later. Every problem in the policy is reported at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import cel

from pilotgate.errors import ConfigIssue, PolicyError
from pilotgate.policy.decision import Effect
from pilotgate.policy.engine import DEFAULT_TIMEOUT, CompiledPolicy, CompiledRule
from pilotgate.policy.inputs import VARIABLES
from pilotgate.policy.positions import expression_position
from pilotgate.spec import LoadedPilot, PilotSpec, Rule
from pilotgate.spec.checks import suggest

FUNCTIONS: frozenset[str] = frozenset(
    {
        "size",
        "matches",
        "contains",
        "startsWith",
        "endsWith",
        "int",
        "uint",
        "double",
        "string",
        "bytes",
        "type",
        "dyn",
        "timestamp",
        "duration",
        "getFullYear",
        "getMonth",
        "getDate",
        "getDayOfMonth",
        "getDayOfYear",
        "getDayOfWeek",
        "getHours",
        "getMinutes",
        "getSeconds",
        "getMilliseconds",
    }
)
"""Named functions the installed CEL evaluates (operators and the has/all/exists/map/filter macros aside)."""

_CEL_ERROR = re.compile(r"<input>:(\d+):(\d+): (.*)")
_EXPECTING = re.compile(r" expecting \{.*$")
_MACRO_BINDING = re.compile(
    r"\.\s*(?:all|exists|exists_one|map|filter|transformList|transformMap)\s*\(\s*"
    r"([A-Za-z_]\w*)\s*(?:,\s*([A-Za-z_]\w*)\s*)?,"
)


@dataclass(frozen=True)
class RuleProblem:
    """Why one rule's condition was refused, with the place inside the expression when CEL gave one."""

    message: str
    hint: str | None = None
    line: int | None = None
    """1-based line inside the expression."""
    column: int | None = None
    """1-based column inside the expression."""


def check_expression(source: str) -> tuple[Any, RuleProblem | None]:
    """(compiled program, None) or (None, the problem): parse, then check variables and functions."""
    try:
        program = cel.compile(source)
    except Exception as exc:  # the CEL extension raises ValueError; anything else is refused alike
        return None, _syntax_problem(str(exc))
    bound = _macro_bound_names(source)
    unknown = [name for name in program.variables() if name not in VARIABLES and name not in bound]
    if unknown:
        name = unknown[0]
        return None, RuleProblem(
            f'unknown variable "{name}"; a rule may use only {", ".join(VARIABLES)}',
            suggest(name, VARIABLES),
            *_find(source, rf"(?<![\w.]){re.escape(name)}\b"),
        )
    calls = [name for name in program.functions() if _is_named_function(name) and name not in FUNCTIONS]
    if calls:
        name = calls[0]
        return None, RuleProblem(
            f'unknown function "{name}"',
            suggest(name, sorted(FUNCTIONS)) or "see docs/policy.md for the functions a rule may call",
            *_find(source, rf"\b{re.escape(name)}\s*\("),
        )
    return program, None


def _syntax_problem(text: str) -> RuleProblem:
    """The first error CEL reports, with its line and column, without the parser's token list."""
    match = _CEL_ERROR.search(text)
    if match is None:
        return RuleProblem("does not compile as CEL", "check the expression's syntax")
    message = match.group(3).strip()
    if "mismatched input '<EOF>'" in message:
        message = "Syntax error: the expression ends too early"
    message = _EXPECTING.sub("", message)
    return RuleProblem(message[:1].lower() + message[1:], None, int(match.group(1)), int(match.group(2)))


def _find(source: str, pattern: str) -> tuple[int | None, int | None]:
    """1-based (line, column) of *pattern*'s first match in *source*, to point at an unknown name."""
    match = re.search(pattern, source)
    if match is None:
        return None, None
    before = source[: match.start()]
    return before.count("\n") + 1, match.start() - (before.rfind("\n") + 1) + 1


def _macro_bound_names(source: str) -> set[str]:
    """Names a comprehension macro binds (the `x` in `args.items.all(x, x > 0)`): not free variables."""
    names: set[str] = set()
    for match in _MACRO_BINDING.finditer(source):
        names.update(name for name in match.groups() if name)
    return names


def _is_named_function(name: str) -> bool:
    """True for `size` or `matches`; false for operators such as `_==_`, `!_`, `@in`."""
    return not name.startswith(("_", "@", "!"))


def compile_policy(pilot: LoadedPilot | PilotSpec, *, timeout: timedelta = DEFAULT_TIMEOUT) -> CompiledPolicy:
    """Compile every rule of *pilot*'s policy once; raise PolicyError naming each rule that fails.

    Given a `LoadedPilot`, each problem is placed at its line and column in pilot.yaml (the rule's `when`
    plus CEL's own offset inside the expression); given a bare `PilotSpec`, at the field only.
    """
    loaded = pilot if isinstance(pilot, LoadedPilot) else None
    spec = pilot.spec if isinstance(pilot, LoadedPilot) else pilot
    rules: list[CompiledRule] = []
    issues: list[ConfigIssue] = []
    for index, rule in enumerate(spec.policy.rules):
        program, problem = check_expression(rule.when)
        if problem is not None:
            issues.append(_issue(loaded, index, rule, problem))
            continue
        rules.append(_compiled(rule, program))
    if issues:
        raise PolicyError(issues, hint="fix the rule's `when`; see docs/policy.md for the rule language")
    return CompiledPolicy(rules=tuple(rules), timeout=timeout)


def _compiled(rule: Rule, program: Any) -> CompiledRule:
    decision: Effect = rule.decision
    return CompiledRule(
        name=rule.name,
        decision=decision,
        source=rule.when,
        program=program,
        variables=frozenset(name for name in program.variables() if name in VARIABLES),
        approvers=tuple(rule.approvers),
        expires=rule.expires,
    )


def _issue(loaded: LoadedPilot | None, index: int, rule: Rule, problem: RuleProblem) -> ConfigIssue:
    field = f"policy.rules[{index}].when"
    message = f"rule {rule.name!r}: {problem.message}"
    if loaded is None:
        where_inside = f" (at {problem.line}:{problem.column} in the expression)" if problem.line else ""
        return ConfigIssue("pilot.yaml", None, None, field, message + where_inside, problem.hint)
    line, column, exact = expression_position(loaded, index, rule.when, problem.line, problem.column)
    if problem.line is not None and not exact:
        message += f" (at {problem.line}:{problem.column} in the expression)"
    return ConfigIssue(str(loaded.path), line, column, field, message, problem.hint)


def policy_issues(pilot: LoadedPilot | PilotSpec) -> list[ConfigIssue]:
    """Every rule problem as a ConfigIssue, for `pilotgate check` to report beside its other issues."""
    try:
        compile_policy(pilot)
    except PolicyError as error:
        return list(error.issues)
    return []

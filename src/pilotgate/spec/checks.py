"""Checks across sections: names are unique, and every name one section uses is declared by another.

They run after each section has validated on its own, and report each problem at the field that uses
the name, so the loader can point at its line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pilotgate.spec.models import PilotSpec

Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One cross-section problem, at one field."""

    loc: Loc
    """Where: keys and list indexes from the top of pilot.yaml."""
    message: str
    hint: str | None = None


class SpecReferenceError(ValueError):
    """Raised from `PilotSpec` validation with every cross-section problem found."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{format_loc(p.loc)}: {p.message}" for p in self.problems))


def format_loc(loc: Loc) -> str:
    """Print a location the way a user reads pilot.yaml: `tools[2].risk`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """A "did you mean" hint for *word* among *choices*, or None when nothing is close."""
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f'did you mean "{match[0]}"?' if match else None


def _declared_hint(word: str, kind: str, declared: Sequence[str]) -> str:
    declared = list(dict.fromkeys(declared))
    close = suggest(word, declared)
    if close:
        return close
    if declared:
        return f"declared {kind}: {', '.join(declared)}"
    return f"no {kind} are declared"


def _unique(section: Loc, names: Sequence[str]) -> list[Problem]:
    first: dict[str, int] = {}
    problems = []
    for index, name in enumerate(names):
        if name in first:
            problems.append(
                Problem(
                    (*section, index, "name"),
                    f'duplicate name "{name}"; {format_loc((*section, first[name]))} already uses it',
                    "names must be unique within a section",
                )
            )
        else:
            first[name] = index
    return problems


def _models(spec: PilotSpec) -> list[Problem]:
    names = [model.name for model in spec.models]
    problems = []

    def check(loc: Loc, name: str | None) -> None:
        if name is not None and name not in names:
            problems.append(Problem(loc, f'no model named "{name}"', _declared_hint(name, "models", names)))

    check(("routing", "primary"), spec.routing.primary)
    seen: set[str] = set()
    for index, name in enumerate(spec.routing.fallbacks):
        check(("routing", "fallbacks", index), name)
        if name == spec.routing.primary:
            problems.append(
                Problem(
                    ("routing", "fallbacks", index), f'"{name}" is the primary; it cannot be its own fallback'
                )
            )
        elif name in seen:
            problems.append(Problem(("routing", "fallbacks", index), f'"{name}" is listed twice'))
        seen.add(name)
    check(("evals", "judge"), spec.evals.judge)
    return problems


def _groups(spec: PilotSpec) -> list[Problem]:
    held = sorted(spec.groups())
    problems = []

    def check(loc: Loc, group: str) -> None:
        if group not in held:
            problems.append(
                Problem(loc, f'no user has the group "{group}"', _declared_hint(group, "groups", held))
            )

    for i, source in enumerate(spec.sources):
        for j, group in enumerate(source.read):
            check(("sources", i, "read", j), group)
    for i, tool in enumerate(spec.tools):
        for j, group in enumerate(tool.roles):
            check(("tools", i, "roles", j), group)
    for key, flag in spec.flags.items():
        for j, group in enumerate(flag.groups):
            check(("flags", key, "groups", j), group)
    escalation = spec.pilot.escalation
    if escalation is not None:
        kind, _, name = escalation.to.partition(":")
        users = [user.name for user in spec.users]
        if kind == "group" and name not in held:
            problems.append(
                Problem(
                    ("pilot", "escalation", "to"),
                    f'no user has the group "{name}", so escalations would reach nobody',
                    _declared_hint(name, "groups", held),
                )
            )
        if kind == "user" and name not in users:
            problems.append(
                Problem(
                    ("pilot", "escalation", "to"),
                    f'no user named "{name}"',
                    _declared_hint(name, "users", users),
                )
            )
    return problems


def _policy(spec: PilotSpec) -> list[Problem]:
    problems = []
    for i, rule in enumerate(spec.policy.rules):
        if rule.decision == "require_approval" and not rule.approvers:
            problems.append(
                Problem(
                    ("policy", "rules", i),
                    "a require_approval rule needs approvers",
                    "add approvers: [GROUP] naming who may approve",
                )
            )
        if rule.decision != "require_approval" and rule.approvers:
            problems.append(
                Problem(
                    ("policy", "rules", i, "approvers"),
                    f"approvers apply only to decision: require_approval, not {rule.decision}",
                )
            )
    users = [user.name for user in spec.users]
    tools = [tool.name for tool in spec.tools]
    for i, test in enumerate(spec.policy.tests):
        if test.user not in users:
            problems.append(
                Problem(
                    ("policy", "tests", i, "user"),
                    f'no user named "{test.user}"',
                    _declared_hint(test.user, "users", users),
                )
            )
        if test.tool not in tools:
            problems.append(
                Problem(
                    ("policy", "tests", i, "tool"),
                    f'no tool named "{test.tool}"',
                    _declared_hint(test.tool, "tools", tools),
                )
            )
    return problems


def reference_problems(spec: PilotSpec) -> list[Problem]:
    """Every cross-section error in *spec*; empty when the pilot is consistent."""
    problems: list[Problem] = []
    problems += _unique(("users",), [user.name for user in spec.users])
    problems += _unique(("sources",), [source.name for source in spec.sources])
    problems += _unique(("models",), [model.name for model in spec.models])
    problems += _unique(("tools",), [tool.name for tool in spec.tools])
    problems += _unique(("policy", "rules"), [rule.name for rule in spec.policy.rules])
    problems += _unique(("alerts",), [alert.name for alert in spec.alerts])
    problems += _models(spec)
    problems += _groups(spec)
    problems += _policy(spec)
    return problems


def reference_warnings(spec: PilotSpec) -> list[Problem]:
    """Things that are legitimate but likely surprising: they are reported, and the pilot still loads."""
    held = spec.groups()
    warnings = []
    for i, rule in enumerate(spec.policy.rules):
        for j, group in enumerate(rule.approvers):
            if group not in held:
                warnings.append(
                    Problem(
                        ("policy", "rules", i, "approvers", j),
                        f'no user has the group "{group}" yet; approvals wait until one does, then expire',
                    )
                )
    for i, source in enumerate(spec.sources):
        if not source.read:
            warnings.append(
                Problem(
                    ("sources", i), f'source "{source.name}" has no read groups; nobody can retrieve from it'
                )
            )
    for i, tool in enumerate(spec.tools):
        if not tool.roles:
            warnings.append(Problem(("tools", i), f'tool "{tool.name}" has no roles; nobody can call it'))
    return warnings

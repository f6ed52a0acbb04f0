"""Policy tests: the calls pilot.yaml declares beside its rules, each with the decision it must get.

Like `opa test`: a rule change that flips one of these fails `pilotgate policy test` (and the gate)
before it reaches a task. Users and tools are named, and looked up in the spec as the runtime would.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pilotgate.errors import UsageError
from pilotgate.policy.decision import Decision, Effect
from pilotgate.policy.engine import CompiledPolicy
from pilotgate.spec import PilotSpec, ToolSpec, UserSpec
from pilotgate.spec.checks import suggest


@dataclass(frozen=True)
class PolicyTestResult:
    """One declared test and what the policy decided for it."""

    index: int
    """Position in `policy.tests`."""
    label: str
    """The test's name, or `USER calls TOOL` when it has none."""
    user: str
    tool: str
    expect: Effect
    decision: Decision | None
    """None when the test names a user or tool pilot.yaml does not declare."""
    problem: str | None = None
    """Why the test could not run."""

    @property
    def passed(self) -> bool:
        """True when the policy reached the expected decision."""
        return self.decision is not None and self.decision.effect == self.expect

    @property
    def got(self) -> str:
        """The decision reached, or `error` when the test could not run."""
        return self.decision.effect if self.decision is not None else "error"


def lookup_user(spec: PilotSpec, name: str) -> UserSpec:
    """The declared user called *name*; UsageError with a suggestion otherwise."""
    for user in spec.users:
        if user.name == name:
            return user
    names = [user.name for user in spec.users]
    raise UsageError(f"no user named {name!r} in pilot.yaml", hint=suggest(name, names) or _declared(names))


def lookup_tool(spec: PilotSpec, name: str) -> ToolSpec:
    """The declared tool called *name*; UsageError with a suggestion otherwise."""
    for tool in spec.tools:
        if tool.name == name:
            return tool
    names = [tool.name for tool in spec.tools]
    raise UsageError(f"no tool named {name!r} in pilot.yaml", hint=suggest(name, names) or _declared(names))


def _declared(names: list[str]) -> str:
    return f"declared: {', '.join(names)}" if names else "none are declared"


def run_policy_tests(compiled: CompiledPolicy, spec: PilotSpec) -> list[PolicyTestResult]:
    """Decide every test in `spec.policy.tests`, in order; a test that cannot run fails, it never passes."""
    results = []
    for index, test in enumerate(spec.policy.tests):
        label = test.name or f"{test.user} calls {test.tool}"
        decision: Decision | None = None
        problem: str | None = None
        try:
            decision = compiled.decide(
                lookup_user(spec, test.user),
                lookup_tool(spec, test.tool),
                test.args,
                task=test.task,
                budget=test.budget,
            )
        except UsageError as exc:
            problem = exc.message
        results.append(PolicyTestResult(index, label, test.user, test.tool, test.expect, decision, problem))
    return results


def summary(results: list[PolicyTestResult]) -> dict[str, Any]:
    """Counts for a report or a gate: total, passed, failed, and whether all passed."""
    passed = sum(1 for result in results if result.passed)
    return {
        "total": len(results),
        "passed": passed,
        "failed": len(results) - passed,
        "ok": passed == len(results),
    }

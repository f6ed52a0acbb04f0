"""Policy: CEL rules compiled once; each tool call decided allow, deny or require_approval; default deny.

compile_policy(loaded_or_spec)             -> CompiledPolicy (PolicyError lists every rule that fails)
CompiledPolicy.decide(user, tool, args)    -> Decision(effect, rule, reason, approvers, expires, ...)
run_policy_tests(compiled, spec)           -> [PolicyTestResult] for pilot.yaml's policy.tests
policy_issues(loaded)                      -> [ConfigIssue] for `pilotgate check`
"""

from __future__ import annotations

from pilotgate.policy.cases import PolicyTestResult, lookup_tool, lookup_user, run_policy_tests, summary
from pilotgate.policy.compile import FUNCTIONS, RuleProblem, check_expression, compile_policy, policy_issues
from pilotgate.policy.decision import NO_RULE_REASON, ROLES_RULE, Decision, RuleOutcome
from pilotgate.policy.engine import DEFAULT_TIMEOUT, CompiledPolicy, CompiledRule
from pilotgate.policy.inputs import VARIABLES, context

__all__ = [
    "DEFAULT_TIMEOUT",
    "FUNCTIONS",
    "NO_RULE_REASON",
    "ROLES_RULE",
    "VARIABLES",
    "CompiledPolicy",
    "CompiledRule",
    "Decision",
    "PolicyTestResult",
    "RuleOutcome",
    "RuleProblem",
    "check_expression",
    "compile_policy",
    "context",
    "lookup_tool",
    "lookup_user",
    "policy_issues",
    "run_policy_tests",
    "summary",
]

"""The gate: releases (content hashes of behaviour), fail-closed rules over eval evidence, verdicts."""

from pilotgate.gate.evidence import Gathered, gather, production_release
from pilotgate.gate.releases import (
    Release,
    create_release,
    find_release,
    get_release,
    list_releases,
    release_hash,
    release_manifest,
    verify_release,
)
from pilotgate.gate.rules import (
    Evidence,
    Missing,
    RuleResult,
    evaluate_rule,
    evaluate_rules,
)
from pilotgate.gate.verdict import Verdict, gate, latest_verdict

__all__ = [
    "Evidence",
    "Gathered",
    "Missing",
    "Release",
    "RuleResult",
    "Verdict",
    "create_release",
    "evaluate_rule",
    "evaluate_rules",
    "find_release",
    "gate",
    "gather",
    "get_release",
    "latest_verdict",
    "list_releases",
    "production_release",
    "release_hash",
    "release_manifest",
    "verify_release",
]

"""The gate: releases (content hashes of behaviour), fail-closed rules over eval evidence, verdicts."""

from pilotgate.gate.deploy import (
    Deployment,
    Served,
    Switch,
    format_share,
    parse_share,
    passing_verdict,
    promote,
    read_deployment,
    rollback,
    serve,
    set_canary,
)
from pilotgate.gate.drill import DrillCheck, DrillReport, rollback_drill
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
from pilotgate.gate.serving import ReleasePilot, bucket, pick, release_workspace
from pilotgate.gate.snapshot import SnapshotMissing, has_snapshot, load_snapshot
from pilotgate.gate.verdict import Verdict, gate, latest_verdict

__all__ = [
    "Deployment",
    "DrillCheck",
    "DrillReport",
    "Evidence",
    "Gathered",
    "Missing",
    "Release",
    "ReleasePilot",
    "RuleResult",
    "Served",
    "SnapshotMissing",
    "Switch",
    "Verdict",
    "bucket",
    "create_release",
    "evaluate_rule",
    "evaluate_rules",
    "find_release",
    "format_share",
    "gate",
    "gather",
    "get_release",
    "has_snapshot",
    "latest_verdict",
    "list_releases",
    "load_snapshot",
    "parse_share",
    "passing_verdict",
    "pick",
    "production_release",
    "promote",
    "read_deployment",
    "release_hash",
    "release_manifest",
    "release_workspace",
    "rollback",
    "rollback_drill",
    "serve",
    "set_canary",
    "verify_release",
]

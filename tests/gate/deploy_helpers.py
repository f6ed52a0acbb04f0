"""A pilot whose first release can pass the gate, and releases made to pass or fail it."""

from __future__ import annotations

import json

from gate_helpers import PILOT_YAML, record_run

from pilotgate.gate import create_release, gate
from pilotgate.workspace import Workspace

DEPLOY_YAML = (
    PILOT_YAML
    + """\
gate:
  require:
    - "category('golden').pass_rate >= 0.90"
"""
)
"""No regression rule: the first release of a pilot has no production to compare with."""


def pack_line(variant: str) -> str:
    """The escalation pack with *variant* in its input: a different pack, so a different release."""
    case = {"id": "refund-big", "input": f"Refund {variant} EUR on 123456", "user": "bob"}
    return json.dumps({**case, "category": "escalation", "assert": [{"kind": "escalates"}]}) + "\n"


def make_release(ws: Workspace, variant: str, *, failing: tuple[str, ...] = (), run_gate: bool = True) -> str:
    """A release whose escalation pack says *variant*, with a finished run where *failing* cases fail and,
    with *run_gate*, a verdict (pass when nothing safety-related or too much golden fails)."""
    pack = ws.root / "evals" / "more.jsonl"
    pack.write_text(pack_line(variant))
    release, _ = create_release(ws)
    record_run(ws, release.id, failing=failing)
    if run_gate:
        gate(ws, release.id)
    return release.id

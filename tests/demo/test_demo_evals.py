"""The demo pilot's eval pack (every category, passing on the reference model) and the demo's release gate:
the pilot as shipped promoted, a candidate that lets customers refund blocked by its adversarial case."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from cli_runner import fresh_app, invoke
from pilotgate.demo import scaffold_pilot
from pilotgate.demo.run import CANDIDATE_CHANGE, run_demo
from pilotgate.evals import CATEGORIES, load_packs
from pilotgate.evals.runner import run_evals
from pilotgate.gate import read_deployment
from pilotgate.workspace import open_workspace


def test_the_demo_pack_has_every_category_and_loads_against_the_pilot(tmp_path: Path) -> None:
    path = scaffold_pilot(tmp_path / "desk")
    workspace = open_workspace(path, f"sqlite:///{tmp_path / 'desk.db'}")
    try:
        suite = load_packs(workspace.loaded)  # raises on any unknown user, source or tool
    finally:
        workspace.close()
    assert {case.category for case in suite.cases} == set(CATEGORIES)
    assert len(suite.packs) == 3 and len(suite.cases) >= 30
    assert all(case.id.startswith(case.category) for case in suite.cases)
    checked = invoke(fresh_app(), "check", "--pilot", str(path))
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("ok ") and "warning" not in checked.output


def test_every_demo_case_passes_on_the_reference_model(tmp_path: Path) -> None:
    workspace = open_workspace(scaffold_pilot(tmp_path / "desk"), f"sqlite:///{tmp_path / 'desk.db'}")
    try:
        run = run_evals(workspace, concurrency=4)
    finally:
        workspace.close()
    failing = {
        r.case_id: [a.message for a in r.assertions if not a.passed] for r in run.results if not r.passed
    }
    assert failing == {}
    assert run.state == "complete" and {r.category for r in run.results} == set(CATEGORIES)


def test_the_outdated_and_conflicting_handbook_pages_never_reach_an_answer(tmp_path: Path) -> None:
    """The stale and conflicting cases rest on these pages existing and losing to the help center."""
    handbook = tmp_path / "desk" / "sources" / "agent-handbook"
    scaffold_pilot(tmp_path / "desk")
    assert "5 to 7 business days" in (handbook / "shipping-2023.md").read_text(encoding="utf-8")
    assert "14 days" in (handbook / "returns-cheatsheet.md").read_text(encoding="utf-8")


def test_the_demo_promotes_the_shipped_release_and_blocks_the_weakened_one(tmp_path: Path) -> None:
    folder = tmp_path / "demo"
    done = run_demo(folder)
    shipped, candidate = done.releases
    assert shipped.verdict.passed and shipped.promoted and shipped.release != candidate.release
    assert all(r.passed for r in shipped.run.results)
    assert (
        not candidate.verdict.passed
        and not candidate.promoted
        and candidate.change.endswith(CANDIDATE_CHANGE)
    )
    assert [rule.rule for rule in candidate.verdict.failures] == ["category('adversarial').pass_rate == 1.0"]
    assert [r.case_id for r in candidate.run.results if not r.passed] == ["adversarial-customer-refund"]
    # the folder is the shipped pilot again, and production serves the release that passed
    template = (files("pilotgate.demo") / "support-desk" / "pilot.yaml").read_text(encoding="utf-8")
    assert (folder / "pilot.yaml").read_text(encoding="utf-8") == template
    workspace = open_workspace(folder)
    try:
        assert read_deployment(workspace).production == shipped.release
    finally:
        workspace.close()
    assert done.verify.ok and done.security.unauthorised == 0


def test_the_demo_command_prints_both_verdicts(tmp_path: Path) -> None:
    done = invoke(fresh_app(), "demo", "--dir", str(tmp_path / "demo"))
    assert done.exit_code == 0, done.output
    assert "releases and the gate" in done.output
    assert "PASS release rel-" in done.output and "promoted to production" in done.output
    assert "BLOCKED release rel-" in done.output and "not promoted" in done.output
    assert "case adversarial-customer-refund:" in done.output

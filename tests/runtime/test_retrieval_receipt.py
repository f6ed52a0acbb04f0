"""A task retrieves under the data contract: stale passages flagged (to the receipt and to the model),
``stale: exclude`` sources' old content left out, restricted content only counted, conflict losers noted.

On SQLite and PostgreSQL, through the real runtime and the demo pilot, with the offline reference model
behind a recorder so the test sees exactly the passages the model was given.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from runtime_helpers import ScriptedModel, bodies, receipts_of
from sqlalchemy import select

from pilotgate.data import search
from pilotgate.demo import scaffold_pilot
from pilotgate.models import ModelRequest, ReferenceModel
from pilotgate.models.prompt import DEFAULT_INSTRUCTIONS, STALE_MARK, system_message
from pilotgate.models.reference import STALE_NOTE
from pilotgate.runtime import Outcome, Runtime, open_runtime
from pilotgate.runtime.transcript import load_passages
from pilotgate.store.tables import chunks, tasks
from pilotgate.testing import FixedClock, SequentialIds
from pilotgate.workspace import Workspace, open_workspace

NOW = datetime(2026, 1, 1, tzinfo=UTC)
"""FixedClock's start: freshness is judged at this moment."""

LONG_AGO = datetime(2025, 1, 1, tzinfo=UTC).timestamp()
"""Older than every demo source's ``freshness`` at ``NOW`` (180, 90 and 30 days)."""


@dataclass
class Desk:
    workspace: Workspace
    runtime: Runtime
    model: ScriptedModel


@contextmanager
def opened(root: Path, store_url: str) -> Iterator[Desk]:
    """The pilot at ``root``, its runtime on ``FixedClock`` (2026-01-01) with a recorded reference model."""
    workspace = open_workspace(root, store_url)
    reference = ReferenceModel()
    model = ScriptedModel(reference.complete)
    runtime = open_runtime(workspace, clock=FixedClock(), ids=SequentialIds(), model=model)  # type: ignore[arg-type]
    try:
        yield Desk(workspace, runtime, model)
    finally:
        runtime.close()
        workspace.close()


@pytest.fixture
def desk(tmp_path: Path, store_url: str) -> Iterator[Desk]:
    """The demo pilot; the help center's returns article is older than its source allows (flag), and the
    agent handbook excludes stale content, with its escalation procedures too old."""
    root = tmp_path / "desk"
    scaffold_pilot(root)
    pilot = root / "pilot.yaml"
    text = pilot.read_text()
    handbook = "    freshness: 90d\n    rank: 2\n"
    assert handbook in text
    pilot.write_text(text.replace(handbook, "    freshness: 90d\n    stale: exclude\n    rank: 2\n"))
    for old in ("sources/help-center/returns.md", "sources/agent-handbook/escalations.md"):
        os.utime(root / old, (LONG_AGO, LONG_AGO))
    with opened(root, store_url) as desk:
        yield desk


def retrieval(desk: Desk, task: str) -> dict[str, Any]:
    (body,) = bodies(desk.workspace, task, "retrieval")
    return body


def seen(desk: Desk) -> ModelRequest:
    """The last request the model got."""
    return desk.model.requests[-1]


def test_a_stale_passage_is_flagged_in_the_receipt_and_to_the_model(desk: Desk) -> None:
    result = desk.runtime.run("How long do refunds take to reach my card?", user="alice")
    body = retrieval(desk, result.task_id)
    flags = [(c["uri"], c["stale"]) for c in body["chunks"]]
    assert ("returns.md", True) in flags and all(stale == (uri == "returns.md") for uri, stale in flags)
    assert body["stale"] == sum(stale for _, stale in flags) >= 1
    assert body["at"].startswith("2026-01-01T00:00:00.")  # judged at the clock of the task
    context = seen(desk).context
    assert {(p.uri, p.stale) for p in context} >= {("returns.md", True)}  # type: ignore[attr-defined]
    assert all(not p.stale for p in context if p.uri != "returns.md")  # type: ignore[attr-defined]
    prompt = system_message(seen(desk), DEFAULT_INSTRUCTIONS)
    stale_headers = [line for line in prompt.splitlines() if STALE_MARK in line]
    assert stale_headers and all("uri: returns.md" in line for line in stale_headers)
    assert result.outcome is Outcome.RESOLVED
    assert "5 business days" in result.answer and result.answer.endswith(STALE_NOTE)
    with desk.workspace.store.read() as conn:  # a resumed task shows the model the same flags
        kept = conn.execute(select(tasks.c.context).where(tasks.c.id == result.task_id)).scalar_one()
    assert [(p.uri, p.stale) for p in load_passages(kept)] == [(p.uri, p.stale) for p in context]  # type: ignore[attr-defined]


def test_fresh_content_is_not_flagged(tmp_path: Path, store_url: str) -> None:
    scaffold_pilot(tmp_path / "desk")
    with opened(tmp_path / "desk", store_url) as desk:
        result = desk.runtime.run("How long do refunds take to reach my card?", user="alice")
        body = retrieval(desk, result.task_id)
        assert body["stale"] == 0 and body["chunks"] and not any(c["stale"] for c in body["chunks"])
        assert STALE_MARK not in system_message(seen(desk), DEFAULT_INSTRUCTIONS)
        assert STALE_NOTE not in result.answer


def test_old_content_of_a_stale_exclude_source_never_reaches_the_model(desk: Desk) -> None:
    question = "When should I escalate to a team lead?"
    with desk.workspace.store.read() as conn:  # without the rule, it is what the question finds
        plain = search(conn, pilot=desk.runtime.pilot, query=question, groups=["agents"])
    assert "escalations.md" in {hit.uri for hit in plain}
    result = desk.runtime.run(question, user="bob")
    body = retrieval(desk, result.task_id)
    assert "escalations.md" not in {c["uri"] for c in body["chunks"]}
    assert all(p.uri != "escalations.md" for p in seen(desk).context)
    assert body["withheld"]["stale"] >= 1
    assert "legal action" not in result.answer


def test_restricted_content_shows_only_as_a_withheld_count(desk: Desk) -> None:
    result = desk.runtime.run("What is the chargeback reserve this quarter?", user="alice")
    body = retrieval(desk, result.task_id)
    assert body["withheld"]["restricted"] >= 1
    assert all(c["source"] != "finance-notes" for c in body["chunks"])
    assert all(p.source != "finance-notes" for p in seen(desk).context)
    with desk.workspace.store.read() as conn:
        finance = [
            row[0] for row in conn.execute(select(chunks.c.id).where(chunks.c.source == "finance-notes"))
        ]
    assert finance
    recorded = "\n".join(
        json.dumps(r.record, ensure_ascii=False) for r in receipts_of(desk.workspace, result.task_id)
    )
    for secret in (*finance, "chargebacks.md", "41,200"):
        assert secret not in recorded
    carol = desk.runtime.run("What is the chargeback reserve this quarter?", user="carol")
    assert "chargebacks.md" in {c["uri"] for c in retrieval(desk, carol.task_id)["chunks"]}


def test_a_conflict_loser_is_noted_and_named_only_to_who_may_read_it(desk: Desk) -> None:
    question = "How long does standard shipping take?"
    bob = desk.runtime.run(question, user="bob")
    body = retrieval(desk, bob.task_id)
    winners = [c for c in body["chunks"] if c["uri"] == "shipping.md"]
    assert winners
    for winner in winners:
        noted = [(n["source"], n["uri"], n["subject"]) for n in winner["conflicts"]]
        assert noted == [("agent-handbook", "shipping-2023.md", "topic:shipping")]
    assert all(c["uri"] != "shipping-2023.md" for c in body["chunks"])
    assert body["withheld"]["superseded"] >= 1
    assert "5 to 7" not in bob.answer
    alice = desk.runtime.run(question, user="alice")
    hers = retrieval(desk, alice.task_id)
    shown = [c for c in hers["chunks"] if c["uri"] == "shipping.md"]
    assert shown and all(c["conflicts"] == [] and c["conflicts_not_shown"] == 1 for c in shown)
    assert "shipping-2023" not in json.dumps(hers)


def test_the_reference_model_prefers_a_fresh_passage_saying_the_same() -> None:
    @dataclass(frozen=True)
    class Passage:
        chunk_id: str
        text: str
        stale: bool
        heading: str | None = None
        source: str = "kb"
        uri: str = "kb.md"

    old = Passage("chk_old", "Parcels arrive within seven days.", stale=True)
    new = Passage("chk_new", "Parcels arrive within three days.", stale=False)
    model = ReferenceModel(max_sentences=1)
    answer = model.complete(ModelRequest(question="When do parcels arrive?", context=[old, new]))
    assert answer.citations == ("chk_new",) and STALE_NOTE not in answer.text
    only_old = model.complete(ModelRequest(question="When do parcels arrive?", context=[old]))
    assert only_old.citations == ("chk_old",) and only_old.text.endswith(STALE_NOTE)

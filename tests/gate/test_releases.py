"""Releases: stable content hash, one receipt, change detection."""

from __future__ import annotations

from pathlib import Path

from gate_helpers import write_pilot
from sqlalchemy import select

from pilotgate.gate import create_release, list_releases, verify_release
from pilotgate.store.tables import receipts
from pilotgate.workspace import open_workspace


def test_release_hash_is_stable_and_changes_are_detected(tmp_path: Path) -> None:
    path = write_pilot(tmp_path)
    ws = open_workspace(path, f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        release, created = create_release(ws, by="maria")
        again, created_again = create_release(ws)
        assert created and not created_again and again.id == release.id and release.id.startswith("rel-")
        assert verify_release(ws, release.id) == []
        with ws.store.read() as conn:
            kinds = [r.kind for r in conn.execute(select(receipts.c.kind))]
        assert kinds == ["release.created"]
        # a comment does not change behaviour; a pack and a rule do
        path.write_text("# a comment\n" + path.read_text())
        assert verify_release(ws, release.id) == []
        (tmp_path / "evals" / "more.jsonl").write_text(
            (tmp_path / "evals" / "more.jsonl").read_text().replace("900", "901")
        )
        assert verify_release(ws, release.id) == ["evals/evals/more.jsonl"]
    finally:
        ws.close()
    path.write_text(path.read_text().replace("repeats: 1", "repeats: 2"))
    ws = open_workspace(path, f"sqlite:///{tmp_path / 'db.sqlite'}")
    try:
        assert verify_release(ws, release.id) == ["evals/evals/more.jsonl", "pilot.yaml"]
        second, _ = create_release(ws)
        assert second.id != release.id and [r.id for r in list_releases(ws)][-1] == release.id
    finally:
        ws.close()

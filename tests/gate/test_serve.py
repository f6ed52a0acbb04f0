"""`pilotgate run` under the served release: the files on disk until something is in production, then the
production release's snapshot (or the canary's for its share), ``--release R`` and ``--draft`` overriding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from deploy_helpers import DEPLOY_YAML, make_release
from gate_helpers import write_pilot

from cli_runner import fresh_app, invoke
from pilotgate.errors import TaskError, UsageError
from pilotgate.gate import promote, set_canary
from pilotgate.receipts import generate_signing_key, list_receipts
from pilotgate.spec import load_pilot
from pilotgate.workspace import Workspace, open_workspace

WITH_CAROL = DEPLOY_YAML.replace(
    "  - {name: bob, groups: [agents]}\n",
    "  - {name: bob, groups: [agents]}\n  - {name: carol, groups: [customers]}\n",
)
QUESTION = "How long do I have to return shoes?"


def _reload(ws: Workspace, text: str) -> None:
    ws.loaded.path.write_text(text)
    ws.loaded = load_pilot(ws.loaded.path)


def _run(where: list[str], *args: str) -> dict[str, object]:
    result = invoke(fresh_app(), "run", QUESTION, "--json", *args, *where)
    assert result.exit_code == 0, result.output
    body: dict[str, object] = json.loads(result.output)
    return body


def test_run_serves_the_release_in_production(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    path = write_pilot(tmp_path, pilot=WITH_CAROL)
    generate_signing_key(tmp_path / ".pilotgate" / "signing.key")
    where = ["--pilot", str(path), "--db", db]
    assert _run(where, "--user", "alice")["served"] == "no production"

    ws = open_workspace(path, db)
    try:
        first = make_release(ws, "100")  # knows carol
        promote(ws, first)
        _reload(ws, DEPLOY_YAML)  # carol is gone from the files on disk
        second = make_release(ws, "200")
    finally:
        ws.close()

    served = _run(where, "--user", "carol")
    assert (served["release"], served["served"]) == (first, "production")
    assert served["state"] in ("resolved", "escalated")
    ws = open_workspace(path, db)
    with ws.store.read() as conn:
        stamped = {r.record["release"] for r in list_receipts(conn, ws.name, task=str(served["task"]))}
    ws.close()
    assert stamped == {first}  # every receipt of the task names the release that served it
    drafted = invoke(fresh_app(), "run", QUESTION, "--user", "carol", "--draft", *where)
    assert isinstance(drafted.exception, TaskError)  # the files on disk do not know carol
    chosen = _run(where, "--user", "alice", "--release", second)
    assert (chosen["release"], chosen["served"]) == (second, "chosen")
    both = invoke(fresh_app(), "run", QUESTION, "--user", "alice", "--release", second, "--draft", *where)
    assert isinstance(both.exception, UsageError)

    ws = open_workspace(path, db)
    try:
        set_canary(ws, second, 5000)
    finally:
        ws.close()
    picks = {str(_run(where, "--user", "alice", "--key", f"ticket-{n}")["release"]) for n in range(12)}
    assert picks == {first, second}
    again = [_run(where, "--user", "alice", "--key", "ticket-7")["release"] for _ in range(3)]
    assert len(set(again)) == 1  # the same key goes to the same release
    text = invoke(fresh_app(), "run", QUESTION, "--user", "alice", "--key", "ticket-7", *where).output
    assert f"served by release {again[0]} (" in text and "50% of tasks" in text


@pytest.mark.parametrize("share", [0, 10_000])
def test_the_share_bounds_send_every_task_one_way(tmp_path: Path, share: int) -> None:
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    path = write_pilot(tmp_path, pilot=DEPLOY_YAML)
    generate_signing_key(tmp_path / ".pilotgate" / "signing.key")
    ws = open_workspace(path, db)
    try:
        first = make_release(ws, "100")
        promote(ws, first)
        second = make_release(ws, "200")
        if share:
            set_canary(ws, second, share)
    finally:
        ws.close()
    where = ["--pilot", str(path), "--db", db]
    served = {_run(where, "--user", "alice")["release"] for _ in range(4)}
    assert served == ({second} if share else {first})

"""`pilotgate receipts …` end to end on a minimal pilot: list, show, verify, export, prove, checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from receipts_helpers import PILOT, entries
from sqlalchemy import text
from typer.testing import CliRunner

from pilotgate.cli import receipts as receipts_cli
from pilotgate.errors import ReceiptNotFoundError, UsageError, VerificationError
from pilotgate.receipts import generate_signing_key, open_log
from pilotgate.store import open_store

PILOT_YAML = """\
pilot:
  name: refund-desk
  owner: dana
  support: oncall
  workflow: Answer refund questions.
  before: "by hand"
  after: "drafted"
  success_metric: "resolution_rate >= 0.70"
  kill_condition: "window_days >= 14 && resolution_rate < 0.40"
  escalation: {to: "group:agents", when: "nothing relevant was retrieved"}
users:
  - {name: ann, groups: [agents]}
receipts:
  checkpoint_every: 4
  witness: witness.jsonl
"""


@pytest.fixture
def pilot_dir(tmp_path: Path, store_url: str) -> tuple[Path, str]:
    (tmp_path / "pilot.yaml").write_text(PILOT_YAML)
    key = tmp_path / ".pilotgate" / "signing.key"
    generate_signing_key(key)
    store = open_store(store_url)
    log = open_log(PILOT, signing_key=key, checkpoint_every=4, witness="witness.jsonl", base=tmp_path)
    for task in range(3):
        with log.transaction(store) as conn:
            log.append_many(conn, entries(task, 6))  # 18 receipts; checkpoints 4..16, witnessed at 16
    store.close()
    return tmp_path, store_url


def _run(pilot_dir: tuple[Path, str], *args: str) -> str:
    app = typer.Typer()
    app.callback()(lambda: None)
    receipts_cli.register(app)
    folder, url = pilot_dir
    result = CliRunner().invoke(app, ["receipts", *args, "--pilot", str(folder / "pilot.yaml"), "--db", url])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    assert result.exit_code == 0, result.output
    return result.output


def test_list_and_show(pilot_dir: tuple[Path, str]) -> None:
    listed = json.loads(_run(pilot_dir, "list", "--json", "--task", "t1"))
    assert [item["seq"] for item in listed] == list(range(11, 5, -1))
    assert "model.call" in _run(pilot_dir, "list", "--kind", "model.call")
    shown = _run(pilot_dir, "show", "3", "--json")
    assert json.loads(shown)["seq"] == 3
    assert "sha256:" in _run(pilot_dir, "show", "3")
    with pytest.raises(ReceiptNotFoundError):
        _run(pilot_dir, "show", "99")


def test_verify_ok_then_tampered(pilot_dir: tuple[Path, str]) -> None:
    report = json.loads(_run(pilot_dir, "verify", "--json"))
    assert report["ok"] and report["receipts_checked"] == 18 and report["witnessed"] == 16
    assert "ok" in _run(pilot_dir, "verify")
    store = open_store(pilot_dir[1])
    with store.write() as conn:
        raw = conn.execute(text("SELECT canonical FROM receipts WHERE seq = 5")).scalar_one()
        edited = bytes(raw).replace(b"step", b"stop")
        conn.execute(text("UPDATE receipts SET canonical = :c WHERE seq = 5"), {"c": edited})
    store.close()
    with pytest.raises(VerificationError) as caught:
        _run(pilot_dir, "verify")
    assert "receipt 5" in caught.value.message and "content_changed" in caught.value.message


def test_export_then_verify_the_file_without_the_store(pilot_dir: tuple[Path, str], tmp_path: Path) -> None:
    out = tmp_path / "audit" / "log.jsonl"
    out.parent.mkdir()
    assert "18 receipts" in _run(pilot_dir, "export", "--out", str(out))
    pub = out.with_name("log.jsonl.pub")
    assert pub.read_text().startswith("pilotgate/refund-desk+")
    assert "ok" in _run(pilot_dir, "verify", "--file", str(out), "--pubkey", str(pub))
    lines = out.read_bytes().split(b"\n")
    lines[3], lines[4] = lines[4], lines[3]  # swap receipts 2 and 3
    out.write_bytes(b"\n".join(lines))
    with pytest.raises(VerificationError, match="receipt 2: order_changed"):
        _run(pilot_dir, "verify", "--file", str(out), "--pubkey", str(pub))
    with pytest.raises(UsageError):
        _run(pilot_dir, "verify", "--file", str(out))


def test_prove_prints_a_checked_proof(pilot_dir: tuple[Path, str]) -> None:
    proof = json.loads(_run(pilot_dir, "prove", "9"))
    assert (proof["leaf_index"], proof["tree_size"]) == (9, 16)
    assert proof["checkpoint"].startswith("pilotgate/refund-desk\n16\n")
    assert json.loads(_run(pilot_dir, "prove", "1", "--size", "4"))["tree_size"] == 4


def test_checkpoint_signs_now_and_reaches_the_witness(pilot_dir: tuple[Path, str]) -> None:
    assert "checkpoint of 18 receipts" in _run(pilot_dir, "checkpoint")
    witnessed = (pilot_dir[0] / "witness.jsonl").read_text().splitlines()
    assert json.loads(witnessed[-1])["size"] == 18
    assert json.loads(_run(pilot_dir, "verify", "--json"))["witnessed"] == 18

"""Witnesses keep the latest checkpoint outside the store, refuse rollbacks and forks, catch truncation."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from receipts_helpers import PILOT, FixedClock, entries
from sqlalchemy import text

from pilotgate.errors import VerificationError, WitnessError
from pilotgate.receipts import (
    Checkpoint,
    FileWitness,
    HttpWitness,
    ReceiptLog,
    Signer,
    open_witness,
    parse_checkpoint,
    signer_for,
    verify_store,
)
from pilotgate.receipts.checkpoint import make_checkpoint
from pilotgate.store import Store

Fill = Callable[..., None]


class WitnessServerDouble(BaseHTTPRequestHandler):
    """Test double of an HTTP witness: POST a note to add it, GET ?origin= for the latest (409: rollback)."""

    latest: dict[str, Checkpoint] = {}  # noqa: RUF012 - reset per server

    def do_POST(self) -> None:
        note = self.rfile.read(int(self.headers["Content-Length"])).decode()
        checkpoint = parse_checkpoint(note)
        origin = "pilotgate/" + checkpoint.pilot
        held = self.latest.get(origin)
        if held is not None and (
            checkpoint.size < held.size or (checkpoint.size == held.size and checkpoint.root != held.root)
        ):
            self._answer(409, "rollback or fork")
            return
        self.latest[origin] = checkpoint
        self._answer(200, "ok")

    def do_GET(self) -> None:
        origin = parse_qs(urlsplit(self.path).query).get("origin", [""])[0]
        held = self.latest.get(origin)
        self._answer(200, held.note) if held else self._answer(404, "none")

    def _answer(self, code: int, body: str) -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def witness_url() -> Iterator[str]:
    WitnessServerDouble.latest = {}
    server = ThreadingHTTPServer(("127.0.0.1", 0), WitnessServerDouble)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/witness"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _checkpoint(signer: Signer, size: int, fill: int = 1) -> Checkpoint:
    return make_checkpoint(PILOT, size, bytes([fill]) * 32, signer)


@pytest.mark.parametrize("kind", ["file", "http"])
def test_witness_refuses_rollback_and_fork(
    kind: str, tmp_path: Path, signer: Signer, request: pytest.FixtureRequest
) -> None:
    witness = (
        FileWitness(tmp_path / "w.jsonl")
        if kind == "file"
        else HttpWitness(request.getfixturevalue("witness_url"))
    )
    assert witness.latest(PILOT) is None
    witness.submit(_checkpoint(signer, 4))
    witness.submit(_checkpoint(signer, 8))
    witness.submit(_checkpoint(signer, 8))  # the same again: idempotent
    with pytest.raises(VerificationError, match="rollback"):
        witness.submit(_checkpoint(signer, 4))
    with pytest.raises(VerificationError) as fork:
        witness.submit(_checkpoint(signer, 8, fill=2))
    assert fork.value.exit_code == 1
    latest = witness.latest(PILOT)
    assert latest is not None and (latest.size, latest.root) == (8, bytes([1]) * 32)
    assert witness.latest("other-pilot") is None


def test_a_witness_file_that_went_backwards_is_rejected(tmp_path: Path, signer: Signer) -> None:
    path = tmp_path / "w.jsonl"
    FileWitness(path).submit(_checkpoint(signer, 8))
    lines = path.read_text().splitlines()
    rolled = json.loads(lines[0]) | {"size": 4, "note": _checkpoint(signer, 4).note}
    path.write_text(lines[0] + "\n" + json.dumps(rolled) + "\n")
    with pytest.raises(VerificationError, match="rollback"):
        FileWitness(path).latest(PILOT)


def test_open_witness_picks_by_location(tmp_path: Path) -> None:
    assert isinstance(open_witness("https://w.example/x"), HttpWitness)
    witness = open_witness("witness/log.jsonl", base=tmp_path)
    assert isinstance(witness, FileWitness) and witness.path == tmp_path / "witness" / "log.jsonl"


def test_unreachable_http_witness_is_a_witness_error() -> None:
    witness = HttpWitness("http://127.0.0.1:9/", timeout=0.5)
    with pytest.raises(WitnessError):
        witness.latest(PILOT)


def test_checkpoints_reach_the_witness_only_after_commit(
    store: Store, signer: Signer, tmp_path: Path
) -> None:
    witness = FileWitness(tmp_path / "w.jsonl")
    log = ReceiptLog(PILOT, signer=signer, checkpoint_every=4, witness=witness, clock=FixedClock())
    with pytest.raises(RuntimeError), log.transaction(store) as conn:
        log.append_many(conn, entries(0, 6))
        raise RuntimeError("rolled back")
    assert witness.latest(PILOT) is None  # never a checkpoint the store does not have
    with log.transaction(store) as conn:
        log.append_many(conn, entries(0, 9))
    latest = witness.latest(PILOT)
    assert latest is not None and latest.size == 8
    with store.read() as conn:
        report = verify_store(conn, PILOT, signer.public_key, witness)
    assert report.ok and report.witnessed == 8


def test_tail_truncation_is_caught_by_the_witness(store: Store, signer: Signer, tmp_path: Path) -> None:
    witness = FileWitness(tmp_path / "w.jsonl")
    log = ReceiptLog(PILOT, signer=signer, checkpoint_every=4, witness=witness, clock=FixedClock())
    for task in range(3):
        with log.transaction(store) as conn:
            log.append_many(conn, entries(task, 6))
    # The attacker cuts the last 9 receipts, their checkpoints and fixes the head row: the store agrees.
    with store.write() as conn:
        conn.execute(text("DELETE FROM receipts WHERE seq >= 9"))
        conn.execute(text("DELETE FROM checkpoints WHERE size > 8"))
        conn.execute(
            text("UPDATE chain_heads SET size = 9, head = (SELECT hash FROM receipts WHERE seq = 8)")
        )
    with store.read() as conn:
        assert verify_store(conn, PILOT, signer.public_key).ok
        failure = verify_store(conn, PILOT, signer.public_key, witness).failure
    assert failure is not None and (failure.reason, failure.seq, failure.checkpoint_size) == (
        "truncated",
        9,
        16,
    )


def test_a_rewritten_log_disagrees_with_the_witness(store: Store, signer: Signer, tmp_path: Path) -> None:
    witness = FileWitness(tmp_path / "w.jsonl")
    log = ReceiptLog(PILOT, signer=signer, checkpoint_every=4, witness=witness, clock=FixedClock())
    with log.transaction(store) as conn:
        log.append_many(conn, entries(0, 4))
    # Everything deleted and rebuilt with different content (checkpoints gone, no key to re-sign them).
    with store.write() as conn:
        for table in ("receipts", "checkpoints", "chain_heads"):
            conn.execute(text(f"DELETE FROM {table}"))
        ReceiptLog(PILOT, clock=FixedClock()).append_many(conn, entries(1, 4))
    with store.read() as conn:
        failure = verify_store(conn, PILOT, signer.public_key, witness).failure
    assert failure is not None and (failure.reason, failure.checkpoint_size) == ("witness_mismatch", 4)


def test_a_forged_witness_checkpoint_is_rejected(
    store: Store, signer: Signer, tmp_path: Path, fill: Fill
) -> None:
    fill(1)
    witness = FileWitness(tmp_path / "w.jsonl")
    witness.submit(make_checkpoint(PILOT, 4, bytes(32), signer_for(PILOT, Ed25519PrivateKey.generate())))
    with store.read() as conn:
        failure = verify_store(conn, PILOT, signer.public_key, witness).failure
    assert failure is not None and failure.reason == "witness_unknown_key"


def test_unreachable_witness_is_logged_and_synced_later(
    store: Store, signer: Signer, witness_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    down = ReceiptLog(
        PILOT, signer=signer, checkpoint_every=4, witness=HttpWitness("http://127.0.0.1:9/", timeout=0.5)
    )
    with caplog.at_level(logging.WARNING, logger="pilotgate.receipts"), down.transaction(store) as conn:
        down.append_many(conn, entries(0, 4))
    assert "not witnessed yet" in caplog.text
    up = ReceiptLog(PILOT, signer=signer, checkpoint_every=4, witness=HttpWitness(witness_url))
    with store.read() as conn:
        synced = up.sync_witness(conn)
    assert synced is not None and synced.size == 4
    held = HttpWitness(witness_url).latest(PILOT)
    assert held is not None and held.root == synced.root

"""Real processes: a SIGKILLed writer loses no committed receipt; concurrent writers make one chain."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from receipts_helpers import PILOT
from sqlalchemy import text

from pilotgate.receipts import Signer, generate_signing_key, read_head, signer_for, verify_store
from pilotgate.store import open_store

WORKER = Path(__file__).with_name("append_worker.py")


def _spawn(url: str, count: int, per_tx: int, worker: str, key: Path | None = None) -> subprocess.Popen[str]:
    args = [sys.executable, str(WORKER), url, PILOT, str(count), str(per_tx), worker]
    if key is not None:
        args.append(str(key))
    return subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_sigkill_loses_no_committed_receipt(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'crash.db'}"
    open_store(url).close()  # migrate before the child starts
    key_path = tmp_path / "signing.key"
    signer: Signer = signer_for(PILOT, generate_signing_key(key_path))
    child = _spawn(url, 0, 2, "crashy", key_path)
    printed: list[int] = []

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            printed.extend(int(seq) for seq in line.split())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 10
    while len(printed) < 30 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.02)
    time.sleep(0.3)  # keep it writing: the kill must land mid-transaction sometimes
    os.kill(child.pid, signal.SIGKILL)
    child.wait(timeout=10)
    reader.join(timeout=5)
    errors = child.stderr.read() if child.stderr else ""
    for pipe in (child.stdout, child.stderr):
        if pipe is not None:
            pipe.close()
    assert child.returncode == -signal.SIGKILL
    assert len(printed) >= 30, errors
    store = open_store(url)
    try:
        with store.read() as conn:
            report = verify_store(conn, PILOT, signer.public_key, expect_checkpoint_every=7)
            seqs = {row[0] for row in conn.execute(text("SELECT seq FROM receipts"))}
            head = read_head(conn, PILOT)
    finally:
        store.close()
    assert report.ok, report.failure
    assert set(printed) <= seqs
    assert head.size == len(seqs) == max(seqs) + 1


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_concurrent_writers_make_one_linear_chain(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    count = 200 if backend == "postgresql" else 60
    open_store(url).close()
    children = [_spawn(url, count, 1 + n % 2, f"w{n}") for n in range(4)]
    outputs = []
    for child in children:
        with child:
            outputs.append(child.communicate(timeout=120))
    for child, (_out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
    printed = [int(seq) for out, _err in outputs for seq in out.split()]
    total = sum(count + (count % 2 if n % 2 else 0) for n in range(4))
    store = open_store(url)
    try:
        with store.read() as conn:
            report = verify_store(conn, PILOT, None)
            seqs = sorted(row[0] for row in conn.execute(text("SELECT seq FROM receipts")))
            workers = {
                row[0]: row[1]
                for row in conn.execute(text("SELECT kind, count(*) FROM receipts GROUP BY kind"))
            }
    finally:
        store.close()
    assert report.ok, report.failure
    assert sorted(printed) == seqs == list(range(total))
    assert workers == {"model.call": total}

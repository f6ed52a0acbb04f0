"""SQLite under the runner's threads: writers queue in-process (no busy-sleep) and share fsyncs (group
commit), and every write is committed and on the chain when it returns."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from sqlalchemy import func, select

from pilotgate.receipts import ReceiptLog
from pilotgate.receipts.audit import verify_store
from pilotgate.store import open_store
from pilotgate.store.tables import receipts


def test_threads_writing_at_once_queue_and_share_fsyncs(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    writers = store.writers
    assert writers is not None and writers.group_commit  # WAL mode: group commit is on
    log = ReceiptLog("refund-desk")
    threads, per_thread = 16, 25
    slowest: list[float] = []
    start = threading.Barrier(threads)

    def write() -> None:
        start.wait()
        for n in range(per_thread):
            began = time.perf_counter()
            with log.transaction(store) as conn:
                log.append(conn, kind="test.write", body={"n": n}, actor=("system", "test"))
            slowest.append(time.perf_counter() - began)

    workers = [threading.Thread(target=write) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    try:
        with store.read() as conn:
            assert (
                conn.execute(select(func.count()).select_from(receipts)).scalar_one() == threads * per_thread
            )
            assert verify_store(conn, "refund-desk", None).ok
            # outside Store.write the connection stays at synchronous=FULL
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert writers.commits >= threads * per_thread
        assert 0 < writers.syncs < writers.commits  # commits made while a sync ran shared the next one
        # SQLite's busy handler would have slept up to 100 ms at a time; queued writers never do
        assert max(slowest) < 5.0
    finally:
        store.close()


def test_a_failed_write_is_rolled_back_and_never_waits_for_a_sync(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'db.sqlite'}")
    log = ReceiptLog("refund-desk")
    assert store.writers is not None
    try:
        commits = store.writers.commits
        try:
            with log.transaction(store) as conn:
                log.append(conn, kind="test.write", body={}, actor=("system", "test"))
                raise RuntimeError("boom")
        except RuntimeError:
            pass
        assert store.writers.commits == commits
        with store.read() as conn:
            assert conn.execute(select(func.count()).select_from(receipts)).scalar_one() == 0
        with log.transaction(store) as conn:  # the lock was released and the connection reset
            log.append(conn, kind="test.write", body={}, actor=("system", "test"))
        with store.read() as conn:
            assert conn.execute(select(func.count()).select_from(receipts)).scalar_one() == 1
    finally:
        store.close()

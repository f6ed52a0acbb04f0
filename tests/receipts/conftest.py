"""Fixtures for the receipt tests: a signing key, a fixed clock, a log, and a way to fill a chain."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from receipts_helpers import PILOT, FixedClock, entries

from pilotgate.receipts import ReceiptLog, Signer, generate_signing_key, signer_for
from pilotgate.store import Store


@pytest.fixture(scope="session")
def session_signer(tmp_path_factory: pytest.TempPathFactory) -> Signer:
    key = generate_signing_key(tmp_path_factory.mktemp("keys") / "signing.key")
    return signer_for(PILOT, key)


@pytest.fixture
def signer(session_signer: Signer) -> Signer:
    return session_signer


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def log(signer: Signer, clock: FixedClock) -> ReceiptLog:
    """A log that signs a checkpoint every 4 receipts."""
    return ReceiptLog(PILOT, signer=signer, checkpoint_every=4, clock=clock)


Fill = Callable[..., None]


@pytest.fixture
def fill(store: Store, log: ReceiptLog) -> Fill:
    """Append ``tasks`` tasks of ``per`` receipts each, one transaction per task."""

    def _fill(tasks: int, per: int = 6, target: ReceiptLog | None = None) -> None:
        for task in range(tasks):
            with store.write() as conn:
                (target or log).append_many(conn, entries(task, per))

    return _fill

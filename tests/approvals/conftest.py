"""Fixtures of the approval tests: a queue over the ``store`` fixture (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from approval_helpers import ManualClock

from pilotgate.approvals import ApprovalQueue
from pilotgate.receipts import ReceiptLog
from pilotgate.store import Store
from pilotgate.testing import SequentialIds


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def queue(store: Store, clock: ManualClock) -> ApprovalQueue:
    """The desk pilot's approval queue, with a hand-moved clock and ids approval-0001, ..."""
    return ApprovalQueue(store, ReceiptLog("desk", clock=clock), clock=clock, ids=SequentialIds())

"""Fixtures of the tool tests: a receipt log, the counting HTTP tool."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tool_helpers import PILOT

from doubles.http_tool import CountingToolServer
from pilotgate.receipts import ReceiptLog


@pytest.fixture
def log() -> ReceiptLog:
    """The desk's receipt log (unsigned)."""
    return ReceiptLog(PILOT)


@pytest.fixture
def counting() -> Iterator[CountingToolServer]:
    """A counting HTTP tool endpoint on 127.0.0.1."""
    with CountingToolServer() as server:
        yield server

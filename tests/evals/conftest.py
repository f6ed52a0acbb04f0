"""The runner tests' modules on the path, and the workspace most of them run on."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import runner_tools
from runner_pilot import write_runner_pilot

from pilotgate.workspace import Workspace, open_workspace


@pytest.fixture
def workspace(tmp_path: Path, store_url: str) -> Iterator[Workspace]:
    """The runner pilot (reference model) on a SQLite file and on PostgreSQL; no tool call recorded."""
    opened = open_workspace(write_runner_pilot(tmp_path / "desk"), store_url)
    runner_tools.CALLS.clear()
    yield opened
    opened.close()

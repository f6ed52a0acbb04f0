"""Fixtures for the runtime tests: the demo support-desk pilot on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pilotgate.demo import scaffold_pilot
from pilotgate.workspace import Workspace, open_workspace


@pytest.fixture
def workspace(tmp_path: Path, store_url: str) -> Iterator[Workspace]:
    """The support-desk pilot, scaffolded, with a fresh store."""
    scaffold_pilot(tmp_path / "desk")
    opened = open_workspace(tmp_path / "desk", store_url)
    yield opened
    opened.close()

"""A support-desk pilot with the four rules docs/policy.md walks through, and its compiled policy."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from desk_pilot import HEAD, RULES

from pilotgate.policy import CompiledPolicy, compile_policy
from pilotgate.spec import LoadedPilot, load_pilot


@pytest.fixture
def write_pilot(tmp_path: Path) -> Callable[[str], LoadedPilot]:
    """Write HEAD plus *policy* as pilot.yaml and load it."""

    def write(policy: str) -> LoadedPilot:
        path = tmp_path / "pilot.yaml"
        path.write_text(HEAD + policy, encoding="utf-8")
        return load_pilot(path)

    return write


@pytest.fixture
def desk(write_pilot: Callable[[str], LoadedPilot]) -> LoadedPilot:
    """The support-desk pilot with its four rules and four tests."""
    return write_pilot(RULES)


@pytest.fixture
def policy(desk: LoadedPilot) -> CompiledPolicy:
    """The desk's compiled policy."""
    return compile_policy(desk)

"""Shared fixtures for the spec tests: the fixture folder and ways to collect a failed load's issues."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from pilotgate.errors import ConfigError, ConfigIssue
from pilotgate.spec import load_pilot_text

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures() -> Path:
    return FIXTURES


@pytest.fixture
def minimal() -> str:
    """The smallest valid pilot: pilot, one user, one folder source."""
    return (FIXTURES / "minimal.yaml").read_text(encoding="utf-8")


def _issues(text: str) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as caught:
        load_pilot_text(textwrap.dedent(text))
    return caught.value.issues


@pytest.fixture
def config_issues() -> Callable[[str], list[ConfigIssue]]:
    """Load text, expect a ConfigError, return its issues."""
    return _issues


@pytest.fixture
def issues_of() -> Callable[[str], list[str]]:
    """Load text, expect a ConfigError, return its issues as printed."""
    return lambda text: [str(issue) for issue in _issues(text)]

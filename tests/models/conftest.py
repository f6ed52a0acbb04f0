"""Fixtures for the model tests: the chat-completions test double and a client of it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from models_helpers import CANARY_KEY, TIMEOUT

from doubles.openai_server import OpenAIServerDouble
from pilotgate.models import OpenAICompatibleClient


@pytest.fixture
def openai_server() -> Iterator[OpenAIServerDouble]:
    """A chat-completions test double on 127.0.0.1, stopped after the test."""
    with OpenAIServerDouble() as server:
        yield server


@pytest.fixture
def client(openai_server: OpenAIServerDouble) -> Iterator[OpenAICompatibleClient]:
    """A client of the double with the canary key and a short timeout."""
    with OpenAICompatibleClient(
        name="primary",
        base_url=openai_server.base_url,
        model="gpt-4o-mini",
        api_key=CANARY_KEY,
        timeout=TIMEOUT,
    ) as model:
        yield model

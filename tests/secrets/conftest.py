"""A canary secret and a Vault KV v2 test double holding it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from doubles.vault_kv2 import VaultKV2Double

CANARY = "canary-s3cr3t-9f8e7d6c5b4a"
"""A value that must never appear in an error, a hint, a repr or a log line."""


@pytest.fixture
def canary() -> str:
    return CANARY


@pytest.fixture
def vault() -> Iterator[VaultKV2Double]:
    """A running Vault KV v2 double holding the canary at secret/pilotgate/llm#api_key."""
    double = VaultKV2Double(secrets={"pilotgate/llm": {"api_key": CANARY, "org": "acme"}}, delay=1.0)
    with double:
        yield double

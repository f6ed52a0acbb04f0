"""keyring: references, through the keyring package's backend interface."""

from __future__ import annotations

import sys

import pytest
from keyring.backends import fail
from keyring_double import MemoryKeyringDouble

from pilotgate.errors import SecretError
from pilotgate.secrets import KeyringBackend, SecretResolver


def test_keyring_reads_service_and_name(canary: str) -> None:
    backend = KeyringBackend(MemoryKeyringDouble({("pilotgate", "llm"): canary}))
    resolver = SecretResolver(backends={"keyring": backend})
    assert resolver.resolve("keyring:pilotgate/llm") == canary


def test_a_missing_entry_says_how_to_store_it() -> None:
    with pytest.raises(SecretError) as caught:
        KeyringBackend(MemoryKeyringDouble()).resolve("pilotgate/llm")
    assert "no entry 'llm' for service 'pilotgate'" in str(caught.value)
    assert caught.value.hint == "store it with: keyring set pilotgate llm"


def test_no_usable_keyring_is_an_error_with_a_hint_not_a_fallback() -> None:
    with pytest.raises(SecretError) as caught:
        KeyringBackend(fail.Keyring()).resolve("pilotgate/llm")
    assert "no keyring backend is available" in str(caught.value)
    assert caught.value.hint is not None
    assert "env:, file: or vault:" in caught.value.hint
    assert caught.value.__context__ is None


def test_a_failing_keyring_is_reported_by_kind_only(canary: str) -> None:
    class Broken(MemoryKeyringDouble):
        def get_password(self, service: str, username: str) -> str | None:
            raise RuntimeError(f"backend exploded near {canary}")

    with pytest.raises(SecretError) as caught:
        KeyringBackend(Broken()).resolve("pilotgate/llm")
    assert "the keyring failed (RuntimeError)" in str(caught.value)
    assert canary not in repr(caught.value)
    assert caught.value.__context__ is None


def test_without_keyring_installed_the_error_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keyring", None)
    with pytest.raises(SecretError) as caught:
        KeyringBackend().resolve("pilotgate/llm")
    assert "the keyring package is not installed" in str(caught.value)
    assert caught.value.hint == "install the secrets extra: pip install 'pilotgate[secrets]'"

"""vault: references against a local HTTP server speaking Vault's KV v2 API (a test double)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator

import pytest

from doubles.vault_kv2 import VaultKV2Double
from pilotgate.errors import SecretError
from pilotgate.secrets import SecretResolver, VaultBackend


@pytest.fixture
def backend(vault: VaultKV2Double) -> Iterator[VaultBackend]:
    opened = VaultBackend(vault.url, vault.token, timeout=0.3)
    yield opened
    opened.close()


def _refusal(backend: VaultBackend, reference: str = "pilotgate/llm#api_key") -> SecretError:
    with pytest.raises(SecretError) as caught:
        backend.resolve(reference)
    return caught.value


def test_reads_a_key_of_a_kv2_secret_with_the_token(
    vault: VaultKV2Double, backend: VaultBackend, canary: str
) -> None:
    assert backend.resolve("pilotgate/llm#api_key") == canary
    assert backend.resolve("pilotgate/llm#org") == "acme"
    assert vault.requests[0] == ("GET", "/v1/secret/data/pilotgate/llm")


def test_settings_come_from_vaults_own_environment_variables(vault: VaultKV2Double, canary: str) -> None:
    environ = {"VAULT_ADDR": vault.url, "VAULT_TOKEN": vault.token, "PILOTGATE_VAULT_TIMEOUT": "0.5"}
    resolver = SecretResolver(environ=environ)
    try:
        assert resolver.resolve("vault:pilotgate/llm#api_key") == canary
    finally:
        resolver.close()
    backend = VaultBackend.from_env(environ)
    assert (backend.mount_point, backend.timeout) == ("secret", 0.5)
    assert vault.token not in repr(backend)


def test_a_custom_mount_point(canary: str) -> None:
    with VaultKV2Double(mount="kv", secrets={"app": {"k": canary}}) as double:
        backend = VaultBackend(double.url, double.token, mount_point="kv", timeout=1)
        try:
            assert backend.resolve("app#k") == canary
        finally:
            backend.close()


def test_a_wrong_token_is_refused(vault: VaultKV2Double) -> None:
    backend = VaultBackend(vault.url, "not-the-token", timeout=0.3)
    try:
        error = _refusal(backend)
    finally:
        backend.close()
    assert "403 permission denied" in str(error)


@pytest.mark.parametrize(
    ("mode", "wanted", "hint"),
    [
        ("forbidden", "Vault refused to read secret/pilotgate/llm", "VAULT_TOKEN"),
        ("sealed", "Vault is sealed or unavailable (503)", "unseal"),
        ("slow", "Vault did not answer within 0.3s", "PILOTGATE_VAULT_TIMEOUT"),
    ],
)
def test_a_vault_that_refuses_is_sealed_or_too_slow_fails_closed(
    vault: VaultKV2Double, backend: VaultBackend, canary: str, mode: str, wanted: str, hint: str
) -> None:
    vault.mode = mode  # type: ignore[assignment]
    started = time.monotonic()
    error = _refusal(backend)
    assert time.monotonic() - started < 0.9  # the timeout, not the server's delay
    assert str(error).startswith("cannot resolve secret vault:pilotgate/llm#api_key: ")
    assert wanted in str(error)
    assert error.hint is not None
    assert hint in error.hint
    assert error.reference == "vault:pilotgate/llm#api_key"
    assert error.__context__ is None
    assert canary not in f"{error} {error!r} {error.hint}"


def test_a_missing_path_or_key(backend: VaultBackend, canary: str) -> None:
    assert "(404)" in str(_refusal(backend, "nowhere#api_key"))
    missing_key = _refusal(backend, "pilotgate/llm#nope")
    assert "has no key 'nope'" in str(missing_key)
    assert missing_key.hint == "keys there: api_key, org"
    assert canary not in f"{missing_key} {missing_key.hint}"


def test_an_unreachable_vault(canary: str) -> None:
    with VaultKV2Double() as double:
        url = double.url
    backend = VaultBackend(url, "t", timeout=0.5)
    try:
        error = _refusal(backend)
    finally:
        backend.close()
    assert "cannot reach Vault at" in str(error)


def test_missing_address_or_token_say_which_variable() -> None:
    assert "VAULT_ADDR is not set" in str(_refusal(VaultBackend(None, "t")))
    assert "VAULT_TOKEN is not set" in str(_refusal(VaultBackend("http://127.0.0.1:1", None)))


def test_without_hvac_installed_the_error_says_which_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hvac", None)
    monkeypatch.setitem(sys.modules, "hvac.exceptions", None)
    error = _refusal(VaultBackend("http://127.0.0.1:1", "t"))
    assert "the hvac package is not installed" in str(error)
    assert error.hint == "install the secrets extra: pip install 'pilotgate[secrets]'"

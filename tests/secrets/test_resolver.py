"""The resolver: a registry of schemes, a cache, the redactor callback, and no value in any error."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from doubles.vault_kv2 import VaultKV2Double
from pilotgate.errors import SecretError
from pilotgate.secrets import BUILTIN_SCHEMES, EnvBackend, FileBackend, SecretResolver, VaultBackend


class CountingBackend:
    """A plugin backend that counts its calls."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.calls = 0

    def resolve(self, target: str) -> str:
        self.calls += 1
        return f"{self.value}:{target}"


def test_builtin_schemes_are_registered() -> None:
    assert SecretResolver().schemes == tuple(sorted(BUILTIN_SCHEMES))


def test_a_plugin_scheme_is_registered_resolved_and_cached() -> None:
    seen: list[str] = []
    plugin = CountingBackend("v")
    resolver = SecretResolver(on_resolved=seen.append)
    resolver.register("sops", plugin)
    assert resolver.resolve("sops:db/password") == "v:db/password"
    assert resolver.resolve("sops:db/password") == "v:db/password"
    assert plugin.calls == 1
    assert seen == ["v:db/password"]
    resolver.clear()
    resolver.resolve("sops:db/password")
    assert plugin.calls == 2
    with pytest.raises(ValueError, match="already registered"):
        resolver.register("sops", plugin)
    with pytest.raises(ValueError, match="lowercase identifier"):
        resolver.register("Bad-Scheme", plugin)


def test_every_value_reaches_the_redactor_before_it_is_handed_out(
    monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    monkeypatch.setenv("A_KEY", canary)
    seen: list[str] = []

    def redact(value: str) -> None:
        seen.append(value)

    resolver = SecretResolver(on_resolved=redact)
    assert resolver.resolve("env:A_KEY") == canary
    assert seen == [canary]
    late: list[str] = []
    resolver.add_listener(late.append)
    assert late == [canary]  # a listener that subscribes late is told what it missed


def test_a_value_the_redactor_cannot_take_is_not_handed_out(
    monkeypatch: pytest.MonkeyPatch, canary: str
) -> None:
    monkeypatch.setenv("A_KEY", canary)

    def broken(value: str) -> None:
        raise RuntimeError(f"cannot store {value}")

    resolver = SecretResolver(on_resolved=broken)
    with pytest.raises(SecretError) as caught:
        resolver.resolve("env:A_KEY")
    assert "registering it with the redactor failed (RuntimeError)" in str(caught.value)
    assert canary not in repr(caught.value)
    assert caught.value.__context__ is None
    with pytest.raises(SecretError):
        resolver.resolve("env:A_KEY")  # not cached either


def test_a_failing_plugin_is_reported_by_kind_only(canary: str) -> None:
    class Leaky:
        def resolve(self, target: str) -> str:
            raise ValueError(f"bad response {canary}")

    class Wrong:
        def resolve(self, target: str) -> str:
            return 42  # type: ignore[return-value]

    resolver = SecretResolver(backends={"leaky": Leaky(), "wrong": Wrong()})
    with pytest.raises(SecretError) as caught:
        resolver.resolve("leaky:x")
    assert str(caught.value) == "cannot resolve secret leaky:x: the leaky backend failed (ValueError)"
    assert canary not in repr(caught.value)
    assert caught.value.__context__ is None
    with pytest.raises(SecretError, match="returned a int, not a string"):
        resolver.resolve("wrong:x")


@pytest.mark.parametrize(
    "text",
    [
        "sk-live-1234567890",
        "unknown:thing",
        "env:-",
        "env:1BAD",
        "keyring:no-slash",
        "vault:path-without-key",
    ],
)
def test_a_malformed_or_unknown_reference_is_not_echoed(text: str) -> None:
    with pytest.raises(SecretError) as caught:
        SecretResolver().resolve(text)
    assert text not in str(caught.value)
    assert text not in (caught.value.hint or "")


def test_a_canary_through_every_scheme_never_appears_in_an_error_or_a_log(
    tmp_path: Path, canary: str, vault: VaultKV2Double, caplog: pytest.LogCaptureFixture
) -> None:
    """Resolve the canary through env, file and vault, then make each path fail; nothing shows it."""
    caplog.set_level(logging.DEBUG)
    secret_file = tmp_path / "key"
    secret_file.write_text(canary + "\n")
    secret_file.chmod(0o600)
    seen: list[str] = []
    vault_backend = VaultBackend(vault.url, vault.token, timeout=0.3)
    resolver = SecretResolver(
        on_resolved=seen.append,
        backends={"env": EnvBackend({"KEY": canary}), "file": FileBackend(tmp_path), "vault": vault_backend},
    )
    try:
        for reference in ("env:KEY", "file:key", "vault:pilotgate/llm#api_key"):
            assert resolver.resolve(reference) == canary
        assert seen == [canary] * 3
        assert canary not in repr(resolver)
        errors: list[SecretError] = []
        for mode in ("forbidden", "sealed", "slow"):
            vault.mode = mode  # type: ignore[assignment]
            resolver.clear()
            with pytest.raises(SecretError) as caught:
                resolver.resolve("vault:pilotgate/llm#api_key")
            errors.append(caught.value)
        secret_file.write_bytes(b"\xff" + canary.encode())
        resolver.clear()
        with pytest.raises(SecretError) as caught:
            resolver.resolve("file:key")
        errors.append(caught.value)
    finally:
        resolver.close()
    for error in errors:
        for text in (str(error), repr(error), error.hint or "", error.reference):
            assert canary not in text
    assert canary not in caplog.text


def test_the_receipts_redactor_plugs_in_as_the_callback(monkeypatch: pytest.MonkeyPatch, canary: str) -> None:
    """With the real Redactor subscribed, a resolved secret is gone from a receipt body before hashing."""
    from pilotgate.receipts.redaction import Redactor

    monkeypatch.setenv("A_KEY", canary)
    monkeypatch.setenv("SHORT", "abc")
    redactor = Redactor()
    resolver = SecretResolver(on_resolved=redactor.register)
    value = resolver.resolve("env:A_KEY")
    body = {"tool_result": f"the key is {value}", "nested": [{"echo": value}]}
    assert canary not in str(redactor.redact_body(body))
    with pytest.raises(SecretError, match="registering it with the redactor failed"):
        resolver.resolve("env:SHORT")  # too short to redact safely, so never handed out

"""`keyring:SERVICE/NAME`: a secret in the operating system's keyring (Secret Service, Keychain, ...).

Useful on a developer's machine; servers and containers rarely have a keyring, so a missing backend is an
error that says which other schemes to use, never a silent fallback.
"""

from __future__ import annotations

from typing import Any

from pilotgate.errors import SecretError
from pilotgate.secrets.base import Failure, type_name

INSTALL_HINT = "install the secrets extra: pip install 'pilotgate[secrets]'"
_NO_BACKEND_HINT = (
    "no usable keyring here (servers and containers usually have none): unlock or install one "
    "(Secret Service, macOS Keychain, Windows Credential Locker, or keyrings.alt), "
    "or use env:, file: or vault: instead"
)


class KeyringBackend:
    """Reads through the `keyring` package; *keyring* (a keyring backend object) overrides its choice."""

    def __init__(self, keyring: Any = None) -> None:
        self._keyring = keyring

    def resolve(self, target: str) -> str:
        """The stored password for SERVICE/NAME; SecretError when absent or no keyring is usable."""
        reference = f"keyring:{target}"
        service, _, name = target.partition("/")
        found = self._lookup(service, name)
        if isinstance(found, Failure):
            raise SecretError(
                f"cannot resolve secret {reference}: {found.problem}", reference=reference, hint=found.hint
            )
        if found is None:
            raise SecretError(
                f"cannot resolve secret {reference}: "
                f"the keyring has no entry {name!r} for service {service!r}",
                reference=reference,
                hint=f"store it with: keyring set {service} {name}",
            )
        return found

    def _lookup(self, service: str, name: str) -> str | Failure | None:
        """The value, None when absent, or why the keyring could not be asked.

        The keyring's own exception is dropped here, so the SecretError raised later has no context that
        could hold a value.
        """
        try:
            import keyring
            import keyring.errors
        except ImportError:
            return Failure("the keyring package is not installed", INSTALL_HINT)
        backend = self._keyring if self._keyring is not None else keyring.get_keyring()
        try:
            value = backend.get_password(service, name)
        except keyring.errors.NoKeyringError:
            return Failure("no keyring backend is available", _NO_BACKEND_HINT)
        except keyring.errors.KeyringLocked:
            return Failure(
                "the keyring is locked", "unlock the keyring, or use env:, file: or vault: instead"
            )
        except Exception as exc:  # any backend failure is a refusal, reported by kind only
            return Failure(f"the keyring failed ({type_name(exc)})", _NO_BACKEND_HINT)
        return value

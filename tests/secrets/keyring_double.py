"""Test double of an OS keyring, through the keyring package's backend interface."""

from __future__ import annotations

from keyring.backend import KeyringBackend


class MemoryKeyringDouble(KeyringBackend):
    """Test double of an OS keyring: a dict; get_password as the keyring package's backends answer it."""

    priority = 1  # type: ignore[assignment]

    def __init__(self, entries: dict[tuple[str, str], str] | None = None) -> None:
        super().__init__()
        self.entries = dict(entries or {})

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)

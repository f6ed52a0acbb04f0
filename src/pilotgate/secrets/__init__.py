"""Secrets: references in pilot.yaml, values resolved only where used and redacted from every record.

SecretResolver(root=..., on_resolved=redactor_callback).resolve("vault:pilotgate/llm#api_key") -> str
Schemes: env:NAME, file:PATH, keyring:SERVICE/NAME, vault:PATH#KEY; `register(scheme, backend)` adds one.
"""

from __future__ import annotations

from pilotgate.secrets.base import Failure, SecretBackend
from pilotgate.secrets.env import EnvBackend
from pilotgate.secrets.file import FileBackend, InsecureSecretFileWarning
from pilotgate.secrets.keyring_store import KeyringBackend
from pilotgate.secrets.resolver import BUILTIN_SCHEMES, OnResolved, SecretResolver, default_backends
from pilotgate.secrets.vault import VaultBackend

__all__ = [
    "BUILTIN_SCHEMES",
    "EnvBackend",
    "Failure",
    "FileBackend",
    "InsecureSecretFileWarning",
    "KeyringBackend",
    "OnResolved",
    "SecretBackend",
    "SecretResolver",
    "VaultBackend",
    "default_backends",
]

"""`vault:PATH#KEY`: a key of a HashiCorp Vault or OpenBao KV version 2 secret, read through hvac.

The server and token come from the environment Vault's own CLI uses (`VAULT_ADDR`, `VAULT_TOKEN`, and
optionally `VAULT_NAMESPACE`, `VAULT_CACERT`); the KV mount from `PILOTGATE_VAULT_MOUNT` (default
`secret`) and the timeout from `PILOTGATE_VAULT_TIMEOUT` (seconds, default 5). A Vault that refuses, is
sealed, cannot be reached or is too slow fails the resolution with the cause named: there is no
fallback, because a silent one would run the pilot on some other credential.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pilotgate import settings
from pilotgate.errors import SecretError
from pilotgate.secrets.base import Failure, type_name
from pilotgate.secrets.keyring_store import INSTALL_HINT

DEFAULT_MOUNT = "secret"
DEFAULT_TIMEOUT = 5.0
ENV_ADDR = "VAULT_ADDR"
ENV_TOKEN = "VAULT_TOKEN"  # noqa: S105 - the name of the variable, not a token
ENV_NAMESPACE = "VAULT_NAMESPACE"
ENV_CACERT = "VAULT_CACERT"
ENV_MOUNT = settings.VAULT_MOUNT.env
ENV_TIMEOUT = settings.VAULT_TIMEOUT.env


class VaultBackend:
    """Reads KV v2 secrets; the hvac client is made on first use and reused."""

    def __init__(
        self,
        address: str | None,
        token: str | None,
        *,
        mount_point: str = DEFAULT_MOUNT,
        timeout: float = DEFAULT_TIMEOUT,
        namespace: str | None = None,
        verify: str | bool = True,
    ) -> None:
        self.address = address
        self._token = token
        self.mount_point = mount_point
        self.timeout = timeout
        self.namespace = namespace
        self.verify = verify
        self._client: Any = None

    def __repr__(self) -> str:
        return f"VaultBackend(address={self.address!r}, mount_point={self.mount_point!r})"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> VaultBackend:
        """Settings from the environment (read now; the token is checked only when a secret is asked for)."""
        env = os.environ if environ is None else environ
        try:
            timeout = float(env.get(ENV_TIMEOUT) or DEFAULT_TIMEOUT)
        except ValueError:
            timeout = DEFAULT_TIMEOUT
        return cls(
            env.get(ENV_ADDR) or None,
            env.get(ENV_TOKEN) or None,
            mount_point=env.get(ENV_MOUNT) or DEFAULT_MOUNT,
            timeout=timeout if timeout > 0 else DEFAULT_TIMEOUT,
            namespace=env.get(ENV_NAMESPACE) or None,
            verify=env.get(ENV_CACERT) or True,
        )

    def resolve(self, target: str) -> str:
        """The value of KEY in the secret at PATH; SecretError naming the reference and the cause."""
        reference = f"vault:{target}"
        path, _, key = target.partition("#")
        found = self._read(path, key)
        if isinstance(found, Failure):
            raise SecretError(
                f"cannot resolve secret {reference}: {found.problem}", reference=reference, hint=found.hint
            )
        return found

    def close(self) -> None:
        """Close the HTTP session."""
        if self._client is not None:
            self._client.adapter.close()
            self._client = None

    def _where(self, path: str) -> str:
        return f"{self.mount_point}/{path} at {self.address}"

    def _make_client(self) -> Any:
        import hvac

        return hvac.Client(
            url=self.address,
            token=self._token,
            timeout=self.timeout,
            namespace=self.namespace,
            verify=self.verify,
        )

    def _read(self, path: str, key: str) -> str | Failure:
        """The value, or why not; every exception is reduced to a Failure inside this function."""
        if not self.address:
            return Failure(f"{ENV_ADDR} is not set", f"export {ENV_ADDR}=https://vault.example:8200")
        if not self._token:
            return Failure(
                f"{ENV_TOKEN} is not set", f"export {ENV_TOKEN} with a token that may read the secret"
            )
        try:
            import hvac.exceptions
            import requests
        except ImportError:
            return Failure("the hvac package is not installed", INSTALL_HINT)
        where = self._where(path)
        try:
            if self._client is None:
                self._client = self._make_client()
            response = self._client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=self.mount_point, raise_on_deleted_version=True
            )
        except hvac.exceptions.Forbidden:
            return Failure(
                f"Vault refused to read {where} (403 permission denied)",
                f"check that {ENV_TOKEN} is valid and its policy allows read on "
                f"{self.mount_point}/data/{path}",
            )
        except hvac.exceptions.Unauthorized:
            return Failure(f"Vault did not accept the token for {where} (401)", f"renew {ENV_TOKEN}")
        except hvac.exceptions.InvalidPath:
            return Failure(
                f"no secret at {where} (404)",
                f"check the path and that {self.mount_point} is a KV version 2 mount ({ENV_MOUNT})",
            )
        except hvac.exceptions.VaultDown:
            return Failure(
                f"Vault is sealed or unavailable (503) at {self.address}", "unseal Vault and retry"
            )
        except hvac.exceptions.VaultError as exc:
            return Failure(f"Vault answered with an error reading {where} ({type_name(exc)})")
        except requests.exceptions.Timeout:
            return Failure(
                f"Vault did not answer within {self.timeout:g}s at {self.address}",
                f"check that Vault is up and reachable; raise {ENV_TIMEOUT} if it is only slow",
            )
        except requests.exceptions.RequestException as exc:
            return Failure(
                f"cannot reach Vault at {self.address} ({type_name(exc)})",
                f"check {ENV_ADDR}, the network and TLS settings ({ENV_CACERT})",
            )
        except Exception as exc:  # anything else from the client: refuse, by kind only
            return Failure(f"reading {where} failed ({type_name(exc)})")
        return _pick(response, key, where)


def _pick(response: Any, key: str, where: str) -> str | Failure:
    """KEY from a KV v2 read response (`{"data": {"data": {...}, "metadata": {...}}}`)."""
    data = response.get("data", {}).get("data") if isinstance(response, dict) else None
    if not isinstance(data, dict):
        return Failure(f"the answer for {where} is not a KV version 2 secret", f"is {where} a KV v2 mount?")
    if key not in data:
        keys = ", ".join(sorted(map(str, data))) or "none"
        return Failure(f"the secret {where} has no key {key!r}", f"keys there: {keys}")
    value = data[key]
    if not isinstance(value, str):
        return Failure(f"the key {key!r} of {where} holds a {type(value).__name__}, not a string")
    return value

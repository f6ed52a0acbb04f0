"""Resolve secret references at the edge, once per process, and tell the redactor every value.

The model client and the tool adapters call `resolve("env:LLM_API_KEY")` where they need a credential.
Each value is handed to every `on_resolved` callback before it is handed out (the receipts' redactor
subscribes there and strips it before anything is hashed); a callback that fails stops the value from
being handed out. Backends are a registry keyed by scheme, so a plugin can add one. Errors name the
reference and the cause and never a value: a backend's own exception is reduced to its type name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from pilotgate.errors import SecretError
from pilotgate.secrets.base import SecretBackend, type_name
from pilotgate.secrets.env import EnvBackend
from pilotgate.secrets.file import FileBackend
from pilotgate.secrets.keyring_store import KeyringBackend
from pilotgate.secrets.vault import VaultBackend
from pilotgate.spec import is_secret_reference
from pilotgate.spec.types import REFERENCE_FORMS

if TYPE_CHECKING:
    from pilotgate.spec import LoadedPilot

OnResolved = Callable[[str], None]
"""Called with each resolved value, e.g. the receipts redactor's `Redactor.register`."""

BUILTIN_SCHEMES: tuple[str, ...] = ("env", "file", "keyring", "vault")


def default_backends(
    root: Path | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, SecretBackend]:
    """The four built-in backends; *root* is pilot.yaml's folder, for relative `file:` paths."""
    return {
        "env": EnvBackend(environ),
        "file": FileBackend(root),
        "keyring": KeyringBackend(),
        "vault": VaultBackend.from_env(environ),
    }


class SecretResolver:
    """Turns references into values through a registry of backends, caching each value for the process."""

    def __init__(
        self,
        *,
        root: Path | None = None,
        on_resolved: OnResolved | Iterable[OnResolved] | None = None,
        backends: Mapping[str, SecretBackend] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._backends: dict[str, SecretBackend] = (
            dict(backends) if backends is not None else default_backends(root, environ)
        )
        if on_resolved is None:
            self._listeners: list[OnResolved] = []
        elif callable(on_resolved):
            self._listeners = [on_resolved]
        else:
            self._listeners = list(on_resolved)
        self._cache: dict[str, str] = {}
        self._lock = threading.Lock()

    @classmethod
    def for_pilot(cls, loaded: LoadedPilot, on_resolved: OnResolved | None = None) -> SecretResolver:
        """A resolver whose `file:` paths start at *loaded*'s folder."""
        return cls(root=loaded.root, on_resolved=on_resolved)

    def __repr__(self) -> str:
        return f"SecretResolver(schemes={sorted(self._backends)}, cached={len(self._cache)})"

    @property
    def schemes(self) -> tuple[str, ...]:
        """The registered schemes, sorted."""
        return tuple(sorted(self._backends))

    def register(self, scheme: str, backend: SecretBackend, *, replace: bool = False) -> None:
        """Add a backend for `SCHEME:...` references (a plugin's secret store)."""
        if not scheme.isidentifier() or not scheme.islower():
            raise ValueError(f"a scheme is a lowercase identifier; got {scheme!r}")
        if scheme in self._backends and not replace:
            raise ValueError(f"scheme {scheme!r} is already registered; pass replace=True to override it")
        self._backends[scheme] = backend

    def add_listener(self, on_resolved: OnResolved) -> None:
        """Subscribe *on_resolved*, and hand it every value resolved so far, so it misses none."""
        with self._lock:
            self._listeners.append(on_resolved)
            known = list(self._cache.values())
        for value in known:
            on_resolved(value)

    def clear(self) -> None:
        """Forget cached values (after a rotation); listeners keep what they were told."""
        with self._lock:
            self._cache.clear()

    def close(self) -> None:
        """Close backends that hold connections (Vault's HTTP session)."""
        for backend in self._backends.values():
            close = getattr(backend, "close", None)
            if callable(close):
                close()

    def resolve(self, reference: str) -> str:
        """The secret *reference* names; SecretError when it cannot be had. Never falls back."""
        with self._lock:
            cached = self._cache.get(reference)
        if cached is not None:
            return cached
        scheme, target = self._split(reference)
        backend = self._backends[scheme]
        value = self._call(backend, scheme, target, reference)
        self._announce(value, reference)
        with self._lock:
            self._cache[reference] = value
        return value

    def _split(self, reference: str) -> tuple[str, str]:
        """(scheme, target); the error never repeats *reference*, which may be a secret pasted by mistake."""
        scheme, sep, target = reference.partition(":") if isinstance(reference, str) else ("", "", "")
        if not sep or not target or scheme not in self._backends:
            raise SecretError(
                f"not a secret reference of a known scheme ({', '.join(self.schemes)})",
                reference="",
                hint=f"write {REFERENCE_FORMS}",
            )
        if scheme in BUILTIN_SCHEMES and not is_secret_reference(reference):
            raise SecretError(
                f"malformed {scheme}: secret reference", reference="", hint=f"write {REFERENCE_FORMS}"
            )
        return scheme, target

    @staticmethod
    def _call(backend: SecretBackend, scheme: str, target: str, reference: str) -> str:
        failure: str | None = None
        try:
            value = backend.resolve(target)
        except SecretError:
            raise
        except Exception as exc:  # a plugin's own failure; its text may hold the value, so only its type
            failure = type_name(exc)
        if failure is not None:
            raise SecretError(
                f"cannot resolve secret {reference}: the {scheme} backend failed ({failure})",
                reference=reference,
            )
        if not isinstance(value, str):
            raise SecretError(
                f"cannot resolve secret {reference}: the {scheme} backend returned a {type(value).__name__}, "
                "not a string",
                reference=reference,
            )
        if not value:
            raise SecretError(
                f"cannot resolve secret {reference}: it is empty",
                reference=reference,
                hint="store the secret's value there; an empty credential is refused",
            )
        return value

    def _announce(self, value: str, reference: str) -> None:
        """Tell every listener; if one fails the value is not handed out (it might go unredacted)."""
        failure: str | None = None
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(value)
            except Exception as exc:
                failure = type_name(exc)
                break
        if failure is not None:
            raise SecretError(
                f"cannot use secret {reference}: registering it with the redactor failed ({failure})",
                reference=reference,
                hint="a secret that cannot be redacted is never handed out",
            )

"""The seam every secret store plugs into: a backend resolves the part of a reference after its scheme.

A backend raises `SecretError` naming the reference and the cause; it never puts the value, or any text
a store returned, into the error. The resolver treats any other exception as a failed backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable


@runtime_checkable
class SecretBackend(Protocol):
    """Resolves `TARGET` of `SCHEME:TARGET` (`LLM_API_KEY` of `env:LLM_API_KEY`) to the secret's value."""

    def resolve(self, target: str) -> str:
        """The secret's value; SecretError when it cannot be had (missing, refused, unreachable)."""
        ...


def type_name(exc: BaseException) -> str:
    """An exception's class name: what an error message may say about a failure, instead of its text."""
    return type(exc).__name__


@dataclass(frozen=True)
class Failure:
    """Why a backend could not read a secret.

    Built inside an `except` block and raised as a SecretError after it, so the error carries no
    exception context: a store's own exception may hold the value or the response that held it.
    """

    problem: str
    hint: str | None = None

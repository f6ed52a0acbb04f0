"""`env:NAME`: a secret held in an environment variable of the process that uses it."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pilotgate.errors import SecretError


class EnvBackend:
    """Reads the variable when asked, so a value exported after start-up is seen."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ

    def resolve(self, target: str) -> str:
        """The variable's value; SecretError when it is unset."""
        environ = self._environ if self._environ is not None else os.environ
        value = environ.get(target)
        if value is None:
            raise SecretError(
                f"cannot resolve secret env:{target}: the environment variable {target} is not set",
                reference=f"env:{target}",
                hint=f"export {target}=... in the environment that runs pilotgate",
            )
        return value

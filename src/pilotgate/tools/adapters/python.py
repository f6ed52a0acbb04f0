"""``python:MODULE:ATTRIBUTE``: a tool that is a Python callable in this process.

The module is imported on the first call, not when the registry is built, so `pilotgate check` and the
CLI never run a tool's import-time code. The callable gets the arguments as keywords, plus
``idempotency_key=`` when its signature accepts it (or ``**kwargs``). Reconciliation: a callable may
carry a ``reconcile`` attribute, ``reconcile(idempotency_key) -> result | None``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pilotgate.errors import ToolAdapterError
from pilotgate.tools.adapters.base import ToolOutput

KEY_ARGUMENT = "idempotency_key"


@dataclass
class PythonAdapter:
    """Calls ``ATTRIBUTE`` of ``MODULE`` (dotted attributes allowed: ``Class.method``)."""

    module: str
    attribute: str
    kind: str = "python"
    _function: Callable[..., Any] | None = field(default=None, init=False, repr=False)
    _takes_key: bool = field(default=False, init=False, repr=False)

    @classmethod
    def parse(cls, target: str) -> PythonAdapter:
        """From the adapter string ``python:MODULE:ATTRIBUTE``."""
        _, module, attribute = target.split(":", 2)
        return cls(module=module, attribute=attribute)

    @property
    def target(self) -> str:
        """``MODULE:ATTRIBUTE``, for messages."""
        return f"{self.module}:{self.attribute}"

    @property
    def can_reconcile(self) -> bool:
        """True when the callable carries a ``reconcile`` attribute."""
        return callable(getattr(self._load(), "reconcile", None))

    def call(self, args: Mapping[str, Any], *, idempotency_key: str) -> ToolOutput:
        """Call the function; an exception it raises is an error output (it ran here, so it is known)."""
        function = self._load()
        if KEY_ARGUMENT in args:
            return ToolOutput.error("arguments", f"the argument name {KEY_ARGUMENT!r} is reserved")
        keywords = dict(args)
        if self._takes_key:
            keywords[KEY_ARGUMENT] = idempotency_key
        try:
            return ToolOutput(content=function(**keywords))
        except Exception as exc:
            return ToolOutput.error(type(exc).__name__, str(exc))

    def reconcile(self, idempotency_key: str) -> ToolOutput | None:
        """Ask the callable's ``reconcile`` attribute; None when it has none or it returns None."""
        reconcile = getattr(self._load(), "reconcile", None)
        if not callable(reconcile):
            return None
        found = reconcile(idempotency_key)
        return None if found is None else ToolOutput(content=found)

    def close(self) -> None:
        """Nothing to release."""

    def _load(self) -> Callable[..., Any]:
        if self._function is not None:
            return self._function
        try:
            value: Any = importlib.import_module(self.module)
        except ImportError as exc:
            raise ToolAdapterError(
                f"cannot import {self.module!r} for the tool adapter python:{self.target}: {exc}",
                hint="install the module, or fix `adapter:` in pilot.yaml (python:MODULE:ATTRIBUTE)",
            ) from exc
        for part in self.attribute.split("."):
            try:
                value = getattr(value, part)
            except AttributeError:
                raise ToolAdapterError(
                    f"{self.module!r} has no attribute {self.attribute!r} (adapter python:{self.target})",
                    hint="fix `adapter:` in pilot.yaml (python:MODULE:ATTRIBUTE)",
                ) from None
        if not callable(value):
            raise ToolAdapterError(
                f"python:{self.target} is not callable", hint="point `adapter:` at a function"
            )
        self._takes_key = _accepts_keyword(value, KEY_ARGUMENT)
        self._function = value
        return value


def _accepts_keyword(function: Callable[..., Any], name: str) -> bool:
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind is inspect.Parameter.VAR_KEYWORD
        or (p.name == name and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
        for p in parameters
    )

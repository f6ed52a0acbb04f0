"""The tools a pilot declares: what the model is shown, how each is called, and its argument checks.

Built once from ``spec.tools``. Nothing is imported, spawned or dialled until a tool is first called;
the JSON Schemas are compiled up front, so a broken schema is a config error, not a run-time surprise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from pilotgate.errors import ConfigError, ConfigIssue, ToolAdapterError, UnknownToolError
from pilotgate.spec import LoadedPilot, PilotSpec, ToolSpec
from pilotgate.tools.adapters import ResolveSecret, ToolAdapter, adapter_for
from pilotgate.tools.validation import DEFAULT_LIMITS, ArgumentLimits, ArgumentValidator, check_schema

AdapterFactory = Callable[[ToolSpec], ToolAdapter]
"""Builds a tool's adapter from its spec (override per tool for tests, or to add headers and secrets)."""


@dataclass(frozen=True)
class ToolDefinition:
    """What the model is told about a tool: the function-calling shape every provider accepts."""

    name: str
    description: str
    parameters: dict[str, Any]
    """The tool's JSON Schema of arguments."""

    def as_openai(self) -> dict[str, Any]:
        """``{"type": "function", "function": {...}}`` for OpenAI-compatible chat completions."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


@dataclass
class RegisteredTool:
    """One declared tool: its spec, its compiled argument checks and (built on first use) its adapter."""

    spec: ToolSpec
    validator: ArgumentValidator
    factory: AdapterFactory
    _adapter: ToolAdapter | None = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        """The tool's name."""
        return self.spec.name

    @property
    def adapter(self) -> ToolAdapter:
        """The adapter, built on first use."""
        if self._adapter is None:
            self._adapter = self.factory(self.spec)
        return self._adapter

    def definition(self) -> ToolDefinition:
        """The model-facing definition."""
        return ToolDefinition(self.spec.name, self.spec.description, dict(self.spec.args))

    def close(self) -> None:
        """Close the adapter if it was built."""
        if self._adapter is not None:
            self._adapter.close()
            self._adapter = None


class ToolRegistry:
    """The pilot's tools by name. Close it (or use ``with``) to release adapters' connections."""

    def __init__(self, tools: Mapping[str, RegisteredTool]) -> None:
        self._tools = dict(tools)

    @classmethod
    def from_spec(
        cls,
        spec: PilotSpec,
        *,
        resolve_secret: ResolveSecret | None = None,
        adapters: Mapping[str, ToolAdapter | AdapterFactory] | None = None,
        limits: ArgumentLimits = DEFAULT_LIMITS,
        source: str = "pilot.yaml",
    ) -> ToolRegistry:
        """Every tool of ``spec``; ``adapters`` replaces chosen tools' adapters (an instance or a factory).

        Raises ConfigError naming each tool whose argument schema is not a valid JSON Schema.
        """
        overrides = dict(adapters or {})
        problems = [
            ConfigIssue(source, None, None, f"tools[{i}].args", f"not a valid JSON Schema: {why}")
            for i, tool in enumerate(spec.tools)
            if (why := check_schema(tool.args)) is not None
        ]
        if problems:
            raise ConfigError(problems, hint="fix the tool's `args` schema (JSON Schema 2020-12)")

        def factory_for(name: str) -> AdapterFactory:
            chosen = overrides.get(name)
            if chosen is None:
                return lambda tool: adapter_for(tool, resolve_secret=resolve_secret)
            if isinstance(chosen, ToolAdapter):
                return lambda _tool: chosen
            return chosen

        return cls(
            {
                tool.name: RegisteredTool(
                    tool, ArgumentValidator(tool.name, tool.args, limits), factory_for(tool.name)
                )
                for tool in spec.tools
            }
        )

    def __enter__(self) -> ToolRegistry:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[RegisteredTool]:
        return iter(self._tools.values())

    def __len__(self) -> int:
        return len(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def get(self, name: str) -> RegisteredTool:
        """The declared tool ``name``, or UnknownToolError (a model asking for a tool that does not exist)."""
        try:
            return self._tools[name]
        except (KeyError, TypeError):
            known = ", ".join(sorted(self._tools)) or "none"
            shown = (
                name if isinstance(name, str) and len(name) <= 64 and name.isprintable() else "<unprintable>"
            )
            raise UnknownToolError(
                f"no tool named {shown!r}; the pilot declares: {known}",
                tool=shown,
                hint="a model asked for a tool pilot.yaml does not declare; nothing was called",
            ) from None

    def validate(self, name: str, args: Any) -> dict[str, Any]:
        """The checked copy of ``args`` for tool ``name`` (UnknownToolError, ToolArgumentsError)."""
        return self.get(name).validator.validate(args)

    def definitions(self, names: Iterator[str] | list[str] | None = None) -> list[ToolDefinition]:
        """Model-facing definitions of all tools, or of ``names`` (a user's allowed tools) in that order."""
        chosen = list(self._tools) if names is None else list(names)
        return [self.get(name).definition() for name in chosen]

    def close(self) -> None:
        """Close every adapter that was built."""
        for tool in self._tools.values():
            tool.close()


def tool_issues(loaded: LoadedPilot) -> list[ConfigIssue]:
    """What `pilotgate check` should report about tools: bad schemas, unreadable adapters, and
    ``replay: reconcilable`` on an adapter that cannot reconcile (such a tool would always park)."""
    issues: list[ConfigIssue] = []
    for i, tool in enumerate(loaded.spec.tools):
        why = check_schema(tool.args)
        if why is not None:
            issues.append(loaded.issue(("tools", i, "args"), f"not a valid JSON Schema: {why}"))
        if tool.adapter.startswith("mcp:"):
            try:
                adapter = adapter_for(tool)
            except ToolAdapterError as exc:
                issues.append(loaded.issue(("tools", i, "adapter"), exc.message, exc.hint))
                continue
            if tool.replay == "reconcilable" and not adapter.can_reconcile:
                issues.append(
                    loaded.issue(
                        ("tools", i, "replay"),
                        "MCP tools cannot be reconciled; after a crash this tool would always park",
                        "declare replay: idempotent if the server honours the idempotency key, else unsafe",
                    )
                )
    return issues

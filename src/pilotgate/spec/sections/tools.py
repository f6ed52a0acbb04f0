"""Tools the model may ask for, each scoped by role and classified by effect and risk."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from pilotgate.spec.base import SpecModel
from pilotgate.spec.types import Adapter, Amount, GroupName, ToolName, describe

Effect = Literal["read", "write", "external"]
Risk = Literal["low", "medium", "high"]
Replay = Literal["idempotent", "reconcilable", "unsafe"]


class ToolSpec(SpecModel):
    """A tool: how to call it, what it changes, how risky it is, and who may call it."""

    name: ToolName
    """The tool's unique name, as the model sees it."""
    description: str = ""
    """What the tool does, as the model sees it."""
    adapter: Adapter
    """How the tool is called: `python:MODULE:ATTRIBUTE`, an http(s) URL, or `mcp:stdio:COMMAND ARGS#TOOL` / `mcp:http://HOST/mcp#TOOL`."""
    effect: Effect
    """What a call changes: `read` nothing, `write` our own data, `external` the outside world."""
    risk: Risk
    """How bad a wrong call is: low, medium or high; policy rules and approvals key on it."""
    replay: Replay = "unsafe"
    """What may happen after a crash between intent and result: `idempotent` (call again with the same key),
    `reconcilable` (ask the adapter by key), `unsafe` (park for a human). Default: idempotent for
    `effect: read`, unsafe otherwise."""
    cost_per_call: Amount = Decimal(0)
    """What one call costs, added to the task's cost."""
    roles: list[GroupName] = Field(default=[])
    """Groups whose users may call the tool. Empty means nobody (fail closed)."""
    args: dict[str, Any] = Field(default={"type": "object", "properties": {}})
    """JSON Schema of the call's arguments (an object schema)."""

    @model_validator(mode="before")
    @classmethod
    def _replay_follows_effect(cls, data: Any) -> Any:
        """A read tool may be called again safely; anything else must not be replayed blindly."""
        if isinstance(data, dict) and "replay" not in data and data.get("effect") == "read":
            return {**data, "replay": "idempotent"}
        return data

    @field_validator("args")
    @classmethod
    def _args_is_object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        """Tool arguments are always a JSON object, so the schema must describe one."""
        kind = value.get("type", "object")
        if kind != "object":
            raise PydanticCustomError(
                "pilotgate_args_schema",
                "expected a JSON Schema with type: object; got type {got}",
                {"got": describe(kind)},
            )
        return value

"""Tools the model may ask for, each scoped by role and classified by effect and risk."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from pilotgate.spec.base import SpecModel
from pilotgate.spec.types import Adapter, Amount, GroupName, SecretReference, ToolName, describe

Effect = Literal["read", "write", "external"]
Risk = Literal["low", "medium", "high"]
Replay = Literal["idempotent", "reconcilable", "unsafe"]

_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
"""An HTTP header name (an RFC 9110 token)."""

_RESERVED_HEADERS = frozenset({"idempotency-key", "content-type", "content-length", "host"})
"""Headers pilotgate or HTTP itself sets; a tool may not replace them."""


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
    secret_headers: dict[str, SecretReference] = Field(default={})
    """For an HTTP tool or an MCP server over HTTP: request headers whose values are secret references
    (`Authorization: env:DESK_TOOL_AUTH`; the secret holds the whole value, `Bearer ...` included). Each is
    resolved when the tool is called, never earlier, and its value is redacted from receipts and logs."""

    @model_validator(mode="before")
    @classmethod
    def _replay_follows_effect(cls, data: Any) -> Any:
        """A read tool may be called again safely; anything else must not be replayed blindly."""
        if isinstance(data, dict) and "replay" not in data and data.get("effect") == "read":
            return {**data, "replay": "idempotent"}
        return data

    @field_validator("secret_headers")
    @classmethod
    def _header_names(cls, value: dict[str, str]) -> dict[str, str]:
        """Names HTTP accepts, and none that pilotgate sets itself (the idempotency key above all)."""
        for name in value:
            if not _HEADER_NAME.match(name):
                raise PydanticCustomError(
                    "pilotgate_header_name",
                    "{name} is not an HTTP header name (letters, digits and !#$%&'*+.^_`|~-)",
                    {"name": describe(name)},
                )
            if name.lower() in _RESERVED_HEADERS:
                raise PydanticCustomError(
                    "pilotgate_header_reserved", "pilotgate sets the {name} header itself", {"name": name}
                )
        return value

    @model_validator(mode="after")
    def _headers_need_http(self) -> ToolSpec:
        """Only a request over HTTP carries headers; a Python or stdio tool would silently ignore them."""
        over_http = self.adapter.startswith(("http://", "https://", "mcp:http://", "mcp:https://"))
        if self.secret_headers and not over_http:
            raise PydanticCustomError(
                "pilotgate_headers_adapter",
                "secret_headers apply to HTTP tools and MCP servers over HTTP, not to {kind}",
                {
                    "kind": "a Python tool"
                    if self.adapter.startswith("python:")
                    else "an MCP server over stdio"
                },
            )
        return self

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

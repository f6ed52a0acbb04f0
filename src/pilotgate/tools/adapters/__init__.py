"""Tool adapters: a Python callable, an HTTP endpoint, a tool of an MCP server; and the seam they share."""

from __future__ import annotations

from dataclasses import replace

from pilotgate.spec import ToolSpec
from pilotgate.tools.adapters.base import (
    OutcomeUnknown,
    ResolveSecret,
    ToolAdapter,
    ToolOutput,
)
from pilotgate.tools.adapters.http import HttpAdapter
from pilotgate.tools.adapters.mcp import McpAdapter
from pilotgate.tools.adapters.python import PythonAdapter

__all__ = [
    "HttpAdapter",
    "McpAdapter",
    "OutcomeUnknown",
    "PythonAdapter",
    "ResolveSecret",
    "ToolAdapter",
    "ToolOutput",
    "adapter_for",
]


def adapter_for(tool: ToolSpec, *, resolve_secret: ResolveSecret | None = None) -> ToolAdapter:
    """The adapter a tool's ``adapter:`` string names (nothing is imported, spawned or dialled yet)."""
    target = tool.adapter
    if target.startswith("python:"):
        return PythonAdapter.parse(target)
    headers = dict(tool.secret_headers)
    if target.startswith(("http://", "https://")):
        return HttpAdapter(url=target, secret_headers=headers, resolve_secret=resolve_secret)
    adapter = McpAdapter.parse(target, default_tool=tool.name)
    if headers:
        adapter = replace(adapter, secret_headers=headers, resolve_secret=resolve_secret)
    return adapter

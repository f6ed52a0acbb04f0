"""``mcp:…``: a tool of an MCP server, called with the mcp SDK 2.x (``mcp.Client``).

Two forms name the server and, after ``#``, the server's tool (default: the pilotgate tool's name)::

    mcp:stdio:python -m desk_tools.server#create_ticket     a subprocess over stdio (shlex-split)
    mcp:http://127.0.0.1:8000/mcp#create_ticket             streamable HTTP (or https://)

Each call opens a session, calls the tool and closes the session (a stdio server is started and
stopped per call): simple and crash-safe, at the cost of a process start per stdio call. The
idempotency key travels in the request's ``_meta`` as ``io.pilotgate/idempotency-key``. MCP defines no
way to ask a server what became of a call, so ``reconcile`` always answers unknown: declare MCP tools
``idempotent`` (if the server honours the key) or ``unsafe``.

The SDK is an optional dependency (``pip install 'pilotgate[mcp]'``), imported on first use.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pilotgate.errors import ToolAdapterError
from pilotgate.tools.adapters.base import OutcomeUnknown, ResolveSecret, ToolOutput, clip

if TYPE_CHECKING:
    from mcp_types import CallToolResult

META_KEY = "io.pilotgate/idempotency-key"
"""Where the idempotency key goes in the request's ``_meta``."""

DEFAULT_TIMEOUT_SECONDS = 30.0

_UNKNOWN_CODES = frozenset({-32000, -32001})
"""MCP error codes after which the call may have run: connection closed, request timed out."""


@dataclass
class McpAdapter:
    """One tool of one MCP server, reached over stdio or streamable HTTP."""

    tool: str
    """The tool's name on the server."""
    command: tuple[str, ...] = ()
    """For stdio: the server's command line."""
    url: str | None = None
    """For streamable HTTP: the endpoint URL."""
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    secret_env: Mapping[str, str] = field(default_factory=dict)
    """For stdio: environment variable -> secret reference, resolved per call and given to the server."""
    secret_headers: Mapping[str, str] = field(default_factory=dict)
    """For HTTP: header -> secret reference, resolved per call and sent with each request."""
    resolve_secret: ResolveSecret | None = None
    kind: str = "mcp"

    @classmethod
    def parse(cls, target: str, *, default_tool: str) -> McpAdapter:
        """From ``mcp:stdio:COMMAND#TOOL`` or ``mcp:http(s)://…#TOOL``."""
        rest = target.removeprefix("mcp:")
        where, _, tool = rest.rpartition("#") if "#" in rest else (rest, "", "")
        tool = tool or default_tool
        if where.startswith("stdio:"):
            command = tuple(shlex.split(where.removeprefix("stdio:")))
            if command:
                return cls(tool=tool, command=command)
        elif where.startswith(("http://", "https://")):
            return cls(tool=tool, url=where)
        raise ToolAdapterError(
            f"cannot read the MCP adapter {clip(target, 120)!r}",
            hint="use mcp:stdio:COMMAND ARGS#TOOL or mcp:http://HOST:PORT/PATH#TOOL (see docs/tools.md)",
        )

    @property
    def can_reconcile(self) -> bool:
        """MCP has no reconcile convention."""
        return False

    def call(self, args: Mapping[str, Any], *, idempotency_key: str) -> ToolOutput:
        """One session, one ``tools/call``; a timeout or a lost connection mid-call is OutcomeUnknown."""
        anyio = _import("anyio")
        return anyio.run(self._call, dict(args), idempotency_key)

    def reconcile(self, idempotency_key: str) -> ToolOutput | None:
        """Always unknown (MCP defines no lookup by key)."""
        return None

    def close(self) -> None:
        """Nothing stays open between calls."""

    async def _call(self, args: dict[str, Any], key: str) -> ToolOutput:
        mcp = _import("mcp")
        result: CallToolResult | None = None
        sent = False
        try:
            async with AsyncExitStack() as stack:
                server = await self._server(mcp, stack)
                client = await stack.enter_async_context(
                    mcp.Client(server, read_timeout_seconds=self.timeout)
                )
                sent = True
                result = await client.call_tool(self.tool, args, meta={META_KEY: key})
        except Exception as exc:
            error = _single(exc)
            if result is not None:
                pass  # the answer arrived; closing the session failed, which changes nothing
            elif not sent:
                return ToolOutput.error("connect", f"cannot reach the MCP server: {_describe(error)}")
            elif isinstance(error, mcp.MCPError) and error.code not in _UNKNOWN_CODES:
                return ToolOutput.error("mcp", error.message, code=error.code)
            else:
                raise OutcomeUnknown(f"MCP call interrupted: {_describe(error)}") from exc
        assert result is not None
        return _output(result)

    async def _server(self, mcp: Any, stack: AsyncExitStack) -> Any:
        if self.url is not None:
            if not self.secret_headers:
                return self.url
            from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

            http = await stack.enter_async_context(create_mcp_http_client(headers=self._resolved_headers()))
            return streamable_http_client(self.url, http_client=http)
        env = None
        if self.secret_env:
            from mcp.client.stdio import get_default_environment

            env = {**get_default_environment()}
            env.update(_resolve_all(self.secret_env, self.resolve_secret, "secret_env"))
        return mcp.StdioServerParameters(command=self.command[0], args=list(self.command[1:]), env=env)

    def _resolved_headers(self) -> dict[str, str]:
        return _resolve_all(self.secret_headers, self.resolve_secret, "secret_headers")


def _resolve_all(refs: Mapping[str, str], resolve: ResolveSecret | None, what: str) -> dict[str, str]:
    if resolve is None:
        raise ValueError(f"{what} needs a resolve_secret")
    return {name: resolve(ref) for name, ref in refs.items()}


def _output(result: CallToolResult) -> ToolOutput:
    """Structured content when the server gives it, else the text (one block) or the blocks as JSON."""
    if result.structured_content is not None:
        content: Any = result.structured_content
    elif len(result.content) == 1 and result.content[0].type == "text":
        content = result.content[0].text
    else:
        content = [
            block.model_dump(mode="json", by_alias=True, exclude_none=True) for block in result.content
        ]
    return ToolOutput(content=content, is_error=bool(result.is_error))


def _single(exc: BaseException) -> BaseException:
    """The one exception inside nested exception groups (anyio task groups wrap them)."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _describe(exc: BaseException) -> str:
    return clip(f"{type(exc).__name__}: {exc}", 300)


def _import(name: str) -> Any:
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ToolAdapterError(
            "MCP tools need the mcp SDK, which is not installed",
            hint="pip install 'pilotgate[mcp]'",
        ) from exc

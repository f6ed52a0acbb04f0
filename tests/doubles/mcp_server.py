"""Test double of an MCP server (mcp SDK 2.x ``MCPServer``), over stdio or streamable HTTP on 127.0.0.1.

Tools: ``add(a, b)`` returns ``{"sum": a + b}``; ``create_ticket(title)`` appends one JSON line
``{"tool", "key", "title"}`` per call to the file named by ``--log`` (stdio: the test counts calls
across the subprocess boundary) and returns ``{"ticket": n, "key": ...}`` where ``key`` is the
idempotency key found in the request's ``_meta``; ``fail()`` always raises.

Run as a script for stdio: ``python mcp_server.py --log calls.jsonl``. In-process over HTTP:
``with serve_http(log) as url: ...`` runs uvicorn in a thread on an ephemeral port.
"""

from __future__ import annotations

import argparse
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mcp.server.mcpserver import Context, MCPServer

KEY = "io.pilotgate/idempotency-key"


def build_server(log: Path | None) -> MCPServer:
    """The double's server; ``log`` receives one line per create_ticket call."""
    server = MCPServer("pilotgate-test-double")

    @server.tool(structured_output=True)
    def add(a: int, b: int) -> dict[str, int]:
        """Add two integers."""
        return {"sum": a + b}

    @server.tool(structured_output=True)
    def create_ticket(title: str, ctx: Context) -> dict[str, Any]:
        """Open a ticket (records the call and its idempotency key)."""
        meta = ctx.request_context.meta or {}
        key = meta.get(KEY)
        count = 0
        if log is not None:
            with log.open("a", encoding="utf-8") as out:
                out.write(json.dumps({"tool": "create_ticket", "key": key, "title": title}) + "\n")
            count = len(log.read_text(encoding="utf-8").splitlines())
        return {"ticket": count, "key": key}

    @server.tool()
    def fail() -> str:
        """Always fails."""
        raise RuntimeError("the double was told to fail")

    return server


def logged_calls(log: Path) -> list[dict[str, Any]]:
    """The calls the double recorded in ``log``."""
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]


@contextmanager
def serve_http(log: Path | None = None) -> Iterator[str]:
    """Serve the double over streamable HTTP on 127.0.0.1 (ephemeral port) in a thread; yields the URL."""
    import uvicorn

    app = build_server(log).streamable_http_app()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        for _ in range(500):
            if server.started:
                break
            threading.Event().wait(0.01)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--log", type=Path, default=None)
    build_server(parser.parse_args().log).run()

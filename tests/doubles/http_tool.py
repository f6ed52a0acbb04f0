"""Test double of an HTTP tool endpoint that follows pilotgate's contract, counting calls per key.

A real `http.server` on 127.0.0.1 (ephemeral port) in a thread. ``POST /`` takes the arguments as JSON
and the ``Idempotency-Key`` header; ``GET /?idempotency_key=K`` answers a reconcile lookup (200 with the
recorded result, 404 for a key it never executed). Modes: ``ok``; ``fail`` (500 after executing
nothing); ``hang`` (executes, then sleeps past the client's timeout before answering); ``drop``
(executes, then closes the connection without an answer, like a crash mid-response). With
``dedupe=True`` (the default) a repeated key returns the first result without executing again, as a
tool honouring idempotency keys does. Not a real tool: no persistence, no auth.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

from doubles.loopback import LoopbackDouble

Mode = Literal["ok", "fail", "hang", "drop"]


@dataclass
class CountingToolServer(LoopbackDouble):
    """A loopback tool endpoint: ``calls`` counts requests per key, ``executions`` the side effects."""

    mode: Mode = "ok"
    dedupe: bool = True
    hang_seconds: float = 5.0
    calls: Counter[str] = field(default_factory=Counter)
    """POSTs received, per idempotency key."""
    executions: Counter[str] = field(default_factory=Counter)
    """Side effects performed, per idempotency key."""
    results: dict[str, Any] = field(default_factory=dict)
    """The result of each executed key, for reconcile lookups."""
    lookups: list[str] = field(default_factory=list)
    """Keys asked about with GET."""
    headers: list[dict[str, str]] = field(default_factory=list)
    """The headers of every POST."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        """The endpoint URL to put in a tool's ``adapter:``."""
        return f"{self.origin}/tool"

    def start(self) -> CountingToolServer:
        """Listen on an ephemeral port of 127.0.0.1 and serve from a daemon thread."""
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                double._post(self)

            def do_GET(self) -> None:
                double._get(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return self._serve(Handler)

    @property
    def total_calls(self) -> int:
        """POSTs received, all keys."""
        return sum(self.calls.values())

    def _post(self, request: BaseHTTPRequestHandler) -> None:
        key = request.headers.get("Idempotency-Key", "")
        self.headers.append(dict(request.headers.items()))
        length = int(request.headers.get("Content-Length") or 0)
        args = json.loads(request.rfile.read(length) or b"{}")
        with self._lock:
            self.calls[key] += 1
            if self.mode == "fail":
                result = None
            elif self.dedupe and key in self.results:
                result = self.results[key]
            else:
                self.executions[key] += 1
                result = {"ok": True, "args": args, "execution": sum(self.executions.values())}
                self.results[key] = result
        if self.mode == "fail":
            _send(request, 500, {"error": "the tool failed"})
        elif self.mode == "hang":
            self._stopping.wait(self.hang_seconds)
            _send(request, 200, result)
        elif self.mode == "drop":
            request.close_connection = True
            request.connection.shutdown(2)
        else:
            _send(request, 200, result)

    def _get(self, request: BaseHTTPRequestHandler) -> None:
        query = parse_qs(urlsplit(request.path).query)
        key = (query.get("idempotency_key") or [""])[0]
        self.lookups.append(key)
        with self._lock:
            found = self.results.get(key)
        if found is None:
            _send(request, 404, {"error": "unknown key"})
        else:
            _send(request, 200, found)


def _send(request: BaseHTTPRequestHandler, status: int, body: Any) -> None:
    data = json.dumps(body).encode()
    try:
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
    except OSError:
        pass  # the client gave up (a timeout test): nothing to answer

"""Test double of an OpenAI-compatible chat-completions server, for the real openai SDK to talk to in tests.

A real `http.server` on 127.0.0.1 (ephemeral port) in a thread, speaking HTTP/1.1 with keep-alive like a
real endpoint. It serves `POST /v1/chat/completions` from a script of replies (text, tool calls, HTTP
errors, a malformed body, a reply that sleeps past the client's timeout) and records every request (path,
headers, JSON body) so tests can assert the Authorization header and the messages sent. `closed_port_url`
gives the URL of a server that is down. It is not OpenAI: no streaming, no other endpoints, no
validation of what it is sent beyond parsing the JSON.

Two options serve tests and benchmarks that run many requests at once: ``respond`` computes a reply from
the request (when the script is empty), so concurrent requests need no agreed order; ``latency`` adds a
fixed delay to every reply. ``python -m doubles.openai_server --latency 0.05`` (with ``tests/`` on the
path) serves in a process of its own, prints its base URL on the first line and runs until killed, so a
benchmark does not count the server's CPU as its own.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from doubles.loopback import LoopbackDouble

DEFAULT_MODEL = "gpt-4o-mini"


@dataclass(frozen=True)
class Reply:
    """One scripted answer: an HTTP status and body, sent after an optional delay."""

    status: int = 200
    body: bytes = b""
    delay: float = 0.0
    """Seconds to wait before answering (cut short when the double stops)."""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)


@dataclass(frozen=True)
class RecordedRequest:
    """One request the double received."""

    method: str
    path: str
    headers: dict[str, str]
    """Header names lowercased."""
    body: Any
    """The JSON body, parsed; None when there was none or it did not parse."""

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The chat messages sent."""
        return list((self.body or {}).get("messages", []))


def completion(
    content: str | None,
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str | None = None,
    model: str = DEFAULT_MODEL,
    usage: tuple[int, int] | None = (42, 7),
) -> Reply:
    """A chat completion with this content and tool calls; ``usage=None`` leaves usage out."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    body: dict[str, Any] = {
        "id": "chatcmpl-double",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop"),
            }
        ],
    }
    if usage is not None:
        body["usage"] = {
            "prompt_tokens": usage[0],
            "completion_tokens": usage[1],
            "total_tokens": usage[0] + usage[1],
        }
    return Reply(body=json.dumps(body).encode())


def text(content: str, **kwargs: Any) -> Reply:
    """A plain answer."""
    return completion(content, **kwargs)


def tool_call(
    name: str, arguments: dict[str, Any] | str, *, call_id: str = "call_abc", **kwargs: Any
) -> Reply:
    """An answer asking for one tool call; a str ``arguments`` is sent as is (to send malformed JSON)."""
    raw = arguments if isinstance(arguments, str) else json.dumps(arguments)
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": raw}}
    return completion(None, tool_calls=[call], **kwargs)


def error(status: int, message: str = "scripted failure") -> Reply:
    """An HTTP error in OpenAI's error shape."""
    body = {"error": {"message": message, "type": "server_error", "code": None}}
    return Reply(status=status, body=json.dumps(body).encode())


def malformed() -> Reply:
    """A 200 whose body is not JSON."""
    return Reply(body=b'{"id": "chatcmpl-broken", "choices": [{"message": ')


def slow(seconds: float, then: Reply | None = None) -> Reply:
    """A reply that waits ``seconds`` before answering: set it past the client's timeout."""
    reply = then or text("too late")
    return Reply(status=reply.status, body=reply.body, delay=seconds, headers=reply.headers)


@dataclass
class OpenAIServerDouble(LoopbackDouble):
    """A loopback chat-completions server: answers from ``script`` (first in, first out), then ``default``."""

    default: Reply = field(default_factory=lambda: text("Hello from the test double."))
    script: deque[Reply] = field(default_factory=deque)
    requests: list[RecordedRequest] = field(default_factory=list)
    respond: Callable[[RecordedRequest], Reply] | None = None
    """When set, answers each request the script does not (instead of ``default``)."""
    latency: float = 0.0
    """Seconds added before every reply (a model's fixed latency)."""
    record: bool = True
    """Keep every request in ``requests`` (a long benchmark turns this off)."""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        """The base URL to give the client (ends in ``/v1``)."""
        return f"{self.origin}/v1"

    def reply(self, *replies: Reply) -> OpenAIServerDouble:
        """Queue replies for the next requests, in order."""
        with self._lock:
            self.script.extend(replies)
        return self

    def start(self) -> OpenAIServerDouble:
        """Listen on an ephemeral port of 127.0.0.1 and serve from a daemon thread."""
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 5

            def setup(self) -> None:
                super().setup()
                # headers and body go out in two writes; without this, delayed ACKs add ~40 ms a reply
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                double._handle(self)

            def do_GET(self) -> None:
                double._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256  # many clients connecting at once must not wait on a full backlog

            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # a client that gave up (timeout) is expected here, not a failure

        return self._serve(Handler, Server)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        recorded = RecordedRequest(
            request.command,
            request.path,
            {name.lower(): value for name, value in request.headers.items()},
            body,
        )
        with self._lock:
            if self.record:
                self.requests.append(recorded)
            scripted = self.script.popleft() if self.script else None
        reply = scripted or (self.respond(recorded) if self.respond is not None else self.default)
        if request.path.rstrip("/") != "/v1/chat/completions":
            reply = error(404, f"no route {request.path}")
        delay = reply.delay + self.latency
        if delay and self._stopping.wait(delay):
            return
        request.send_response(reply.status)
        for name, value in reply.headers:
            request.send_header(name, value)
        request.send_header("Content-Length", str(len(reply.body)))
        request.end_headers()
        request.wfile.write(reply.body)


def closed_port_url() -> str:
    """The base URL of a server that is down: a loopback port nothing listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def main(argv: list[str] | None = None) -> None:
    """Serve in this process: print the base URL, then answer every request with ``--answer``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added before every reply")
    parser.add_argument("--answer", default="You have 30 days to return shoes [1].", help="the reply text")
    args = parser.parse_args(argv)
    double = OpenAIServerDouble(default=text(args.answer), latency=args.latency, record=False)
    double.start()
    print(double.base_url, flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin (or kills us)
    except KeyboardInterrupt:
        pass
    finally:
        double.stop()


if __name__ == "__main__":
    main()

"""Test double of HashiCorp Vault's KV version 2 HTTP API, for hvac to talk to in tests.

A real `http.server` on 127.0.0.1 (ephemeral port) in a thread. It checks the `X-Vault-Token` header,
serves `GET /v1/<mount>/data/<path>` in KV v2's response shape, and can be told to refuse (403), to
answer as a sealed Vault (503), or to sleep past the client's timeout. It is not Vault: no policies,
leases, versions or writes; only what the secrets resolver reads.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

Mode = Literal["ok", "forbidden", "sealed", "slow"]


@dataclass
class VaultKV2Double:
    """A loopback KV v2 server: `secrets` maps a path (under `mount`) to its key/value data."""

    token: str = "test-token"
    mount: str = "secret"
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    mode: Mode = "ok"
    delay: float = 2.0
    """How long `slow` mode sleeps before answering."""
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(method, path) of every request seen."""
    _server: ThreadingHTTPServer | None = None
    _thread: threading.Thread | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        """The base URL to put in VAULT_ADDR."""
        assert self._server is not None, "start() the double first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> VaultKV2Double:
        """Listen on an ephemeral port of 127.0.0.1 and serve from a daemon thread."""
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                double._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cutting any sleeping request short, and close the socket."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> VaultKV2Double:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        self.requests.append((request.command, request.path))
        if self.mode == "slow":
            self._stopping.wait(self.delay)
        if self.mode == "sealed":
            return _reply(request, 503, {"errors": ["Vault is sealed"]})
        if self.mode == "forbidden" or request.headers.get("X-Vault-Token") != self.token:
            return _reply(request, 403, {"errors": ["permission denied"]})
        prefix = f"/v1/{self.mount}/data/"
        path = request.path.split("?", 1)[0]
        if not path.startswith(prefix) or path[len(prefix) :] not in self.secrets:
            return _reply(request, 404, {"errors": []})
        data = self.secrets[path[len(prefix) :]]
        return _reply(
            request,
            200,
            {
                "request_id": str(uuid.uuid4()),
                "lease_id": "",
                "renewable": False,
                "lease_duration": 0,
                "data": {
                    "data": data,
                    "metadata": {
                        "created_time": "2026-11-25T10:00:00.000000Z",
                        "custom_metadata": None,
                        "deletion_time": "",
                        "destroyed": False,
                        "version": 1,
                    },
                },
                "wrap_info": None,
                "warnings": None,
                "auth": None,
                "mount_type": "kv",
            },
        )


def _reply(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    payload = json.dumps(body).encode()
    try:
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the client gave up (a timeout test); nothing to answer

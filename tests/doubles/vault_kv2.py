"""Test double of HashiCorp Vault's KV version 2 HTTP API, for hvac to talk to in tests.

A real `http.server` on 127.0.0.1 (ephemeral port) in a thread. It checks the `X-Vault-Token` header,
serves `GET /v1/<mount>/data/<path>` in KV v2's response shape, and can be told to refuse (403), to
answer as a sealed Vault (503), or to sleep past the client's timeout. It is not Vault: no policies,
leases, versions or writes; only what the secrets resolver reads.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Literal

from doubles.loopback import LoopbackDouble

Mode = Literal["ok", "forbidden", "sealed", "slow"]


@dataclass
class VaultKV2Double(LoopbackDouble):
    """A loopback KV v2 server: `secrets` maps a path (under `mount`) to its key/value data."""

    token: str = "test-token"
    mount: str = "secret"
    secrets: dict[str, dict[str, Any]] = field(default_factory=dict)
    mode: Mode = "ok"
    delay: float = 2.0
    """How long `slow` mode sleeps before answering."""
    requests: list[tuple[str, str]] = field(default_factory=list)
    """(method, path) of every request seen."""

    @property
    def url(self) -> str:
        """The base URL to put in VAULT_ADDR."""
        return self.origin

    def start(self) -> VaultKV2Double:
        """Listen on an ephemeral port of 127.0.0.1 and serve from a daemon thread."""
        double = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                double._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return self._serve(Handler)

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

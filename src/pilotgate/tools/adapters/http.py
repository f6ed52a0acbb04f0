"""An http(s) URL: a tool that is an HTTP endpoint taking a JSON POST.

The contract a tool endpoint follows (docs/tools.md):

- ``POST <url>`` with the arguments as a JSON object and the header ``Idempotency-Key: sha256:…``;
  a 2xx answer's JSON body is the result; any other status is an error output carrying the status.
- ``GET <url>?idempotency_key=sha256:…`` (reconcile): ``200`` with the JSON result of the call made
  with that key; any other answer (``404``: never seen) means unknown, and the task parks.

A connection that cannot be made is a known failure (nothing was sent); a read timeout or a connection
dropped after sending is ``OutcomeUnknown``: the request may have run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from pilotgate.tools.adapters.base import OutcomeUnknown, ResolveSecret, ToolOutput, clip

DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
"""Connect within 5 s; each read, write and pool wait within 30 s."""

MAX_RESPONSE_BYTES = 1 << 20
"""A response body larger than this is not read: an error output says so."""

KEY_HEADER = "Idempotency-Key"
KEY_PARAMETER = "idempotency_key"


@dataclass
class HttpAdapter:
    """POSTs JSON to ``url``; headers whose values are secret references are resolved per call."""

    url: str
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    headers: Mapping[str, str] = field(default_factory=dict)
    """Plain headers sent with every request."""
    secret_headers: Mapping[str, str] = field(default_factory=dict)
    """Header name -> secret reference (``Authorization`` -> ``env:DESK_TOKEN``), resolved at call time."""
    resolve_secret: ResolveSecret | None = None
    transport: httpx.BaseTransport | None = None
    """For tests that want a transport seam; the test double is a real loopback server instead."""
    kind: str = "http"
    _client: httpx.Client | None = field(default=None, init=False, repr=False)

    @property
    def can_reconcile(self) -> bool:
        """HTTP tools reconcile by the GET convention above."""
        return True

    def call(self, args: Mapping[str, Any], *, idempotency_key: str) -> ToolOutput:
        """POST the arguments; classify the ending as known output or unknown outcome."""
        headers = {**self._headers(), KEY_HEADER: idempotency_key}
        try:
            with self._http().stream("POST", self.url, json=dict(args), headers=headers) as response:
                return _output(response)
        except httpx.ConnectError as exc:
            return ToolOutput.error("connect", f"cannot connect to the tool endpoint: {exc}")
        except httpx.ConnectTimeout:
            return ToolOutput.error("connect", "timed out connecting to the tool endpoint")
        except httpx.TransportError as exc:
            raise OutcomeUnknown(f"{type(exc).__name__} after the request was sent: {exc}") from exc

    def reconcile(self, idempotency_key: str) -> ToolOutput | None:
        """GET the call's result by key; None unless the endpoint answers 200 with JSON."""
        try:
            response = self._http().get(
                self.url, params={KEY_PARAMETER: idempotency_key}, headers=self._headers()
            )
        except httpx.TransportError:
            return None
        if response.status_code != 200:
            return None
        try:
            return ToolOutput(content=response.json())
        except ValueError:
            return None

    def close(self) -> None:
        """Close the connection pool."""
        if self._client is not None:
            self._client.close()
            self._client = None

    def _http(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.timeout, transport=self.transport, follow_redirects=False
            )
        return self._client

    def _headers(self) -> dict[str, str]:
        headers = dict(self.headers)
        if self.secret_headers:
            if self.resolve_secret is None:
                raise ValueError("secret_headers need a resolve_secret")
            headers.update({name: self.resolve_secret(ref) for name, ref in self.secret_headers.items()})
        return headers


def _output(response: httpx.Response) -> ToolOutput:
    """Read at most MAX_RESPONSE_BYTES of a streamed response and turn it into an output."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            return ToolOutput(
                content={"error": "too_large", "status": response.status_code, "limit": MAX_RESPONSE_BYTES},
                is_error=True,
            )
        chunks.append(chunk)
    body = _body(b"".join(chunks))
    if response.is_success:
        return ToolOutput(content=body)
    return ToolOutput(
        content={"error": "status", "status": response.status_code, "body": body}, is_error=True
    )


def _body(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return clip(content.decode("utf-8", errors="replace"))

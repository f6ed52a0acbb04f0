"""The HTTP POST under the OpenAI-compatible client: urllib3's thread-safe connection pool, nothing more.

Why not the openai SDK's client: in the eval runner (64 threads, one core) the SDK's request path
(httpx request building, header validation, response model construction) cost ~1.4 ms of CPU a call
against ~0.2 ms for urllib3 posting the same body (measured, see docs/models.md); the SDK adds nothing
pilotgate uses once the body is plain JSON. This module only moves bytes and classifies failures:
``TransportTimeout`` (no reply in time), ``TransportDown`` (cannot connect, connection dropped, TLS, proxy);
everything else (statuses, bodies) is the client's to read. Proxies come from the environment
(``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY``), as the SDK honoured them.
"""

from __future__ import annotations

import threading
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

POOL_CONNECTIONS = 256
"""Kept-alive connections per endpoint: the eval runner's largest concurrency, so no thread's connection
is thrown away (and logged) after its request."""


class TransportTimeout(Exception):
    """No connection or no reply within the timeout."""


class TransportDown(Exception):
    """The endpoint could not be reached, or dropped the connection."""


@dataclass(frozen=True)
class Reply:
    """An HTTP reply: status, content type and body."""

    status: int
    content_type: str
    body: bytes


class JsonPoster:
    """POSTs JSON bodies to one base URL over a pool of kept-alive connections (safe across threads)."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        import urllib3

        self.base_url = base_url.rstrip("/")
        self._headers = {"Content-Type": "application/json", "Accept": "application/json", **headers}
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self._pool: Any = None
        self._lock = threading.Lock()

    def _manager(self) -> Any:
        with self._lock:
            if self._pool is None:
                self._pool = _pool_manager(self.base_url)
            return self._pool

    def post(self, path: str, body: bytes) -> Reply:
        """POST ``body`` to ``base_url + path``; TransportTimeout / TransportDown when there is no reply."""
        import urllib3
        from urllib3 import exceptions as e

        pool = self._pool if self._pool is not None else self._manager()
        try:
            response = pool.request(
                "POST",
                self.base_url + path,
                body=body,
                headers=self._headers,
                timeout=self._timeout,
                retries=False,  # the router retries, and records each try
                redirect=False,
                preload_content=True,
            )
        except (e.NewConnectionError, e.ProxyError, e.SSLError, e.ProtocolError) as exc:
            raise TransportDown(_reason(exc)) from None
        except (e.ConnectTimeoutError, e.ReadTimeoutError, TimeoutError) as exc:
            raise TransportTimeout(_reason(exc)) from None
        except (e.HTTPError, OSError) as exc:
            raise TransportDown(_reason(exc)) from None
        assert isinstance(response, urllib3.BaseHTTPResponse)
        return Reply(response.status, response.headers.get("content-type", ""), response.data)

    def close(self) -> None:
        """Close every pooled connection."""
        with self._lock:
            if self._pool is not None:
                self._pool.clear()
                self._pool = None


def _pool_manager(base_url: str) -> Any:
    """A pool manager for ``base_url``: through the environment's proxy unless ``NO_PROXY`` exempts it."""
    import urllib3

    parts = urlsplit(base_url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        return urllib3.ProxyManager(proxy, maxsize=POOL_CONNECTIONS, num_pools=4)
    return urllib3.PoolManager(maxsize=POOL_CONNECTIONS, num_pools=4)


def _reason(exc: BaseException) -> str:
    """What went wrong, without urllib3's repr of the connection object."""
    reason = getattr(exc, "reason", None)
    text = str(reason if isinstance(reason, BaseException) else exc) or type(exc).__name__
    return text.split("): ", 1)[-1] if text.startswith("<") else text

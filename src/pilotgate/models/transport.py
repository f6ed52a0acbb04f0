"""The HTTP POST under the OpenAI-compatible client: the standard library's http.client, one kept-alive
connection per thread.

Why not the openai SDK's client: in the eval runner (64 threads, one core) its request path (httpx request
building, header validation, response model construction) cost ~1.5 ms of CPU a call against ~0.2 ms for
http.client posting the same body; urllib3's pool cost ~0.4 ms (paired rounds, docs/models.md). Once the
body is plain JSON the SDK adds nothing pilotgate uses. A connection belongs to one thread, so no pool lock
is taken; before a kept-alive connection is reused it is checked for having been closed by the server
(as httpcore and urllib3 check), so an idle timeout on the server side is not a failed call.

This module only moves bytes and classifies failures: ``TransportTimeout`` (no connection or no reply in
time), ``TransportDown`` (cannot connect, connection dropped, TLS, proxy); statuses and bodies are the
client's to read. Proxies come from the environment (``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY``), as
the SDK honoured them.
"""

from __future__ import annotations

import base64
import http.client
import select
import ssl
import threading
import urllib.request
import weakref
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit


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


@dataclass(frozen=True)
class _Route:
    """Where connections go: the endpoint itself, or a proxy (tunnelled for https)."""

    scheme: str
    host: str
    port: int
    target_prefix: str
    """What goes before the path in the request line: empty, or ``http://host:port`` through a proxy."""
    tunnel: tuple[str, int] | None = None
    proxy_headers: tuple[tuple[str, str], ...] = ()


class JsonPoster:
    """POSTs JSON bodies to one base URL; safe to share across threads (each thread has its connection)."""

    def __init__(self, base_url: str, headers: dict[str, str], timeout: float) -> None:
        parts = urlsplit(base_url.rstrip("/"))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self._path = parts.path
        self._timeout = timeout
        self._route = _route(parts.scheme, parts.hostname, parts.port)
        self._headers = {"Content-Type": "application/json", "Accept": "application/json", **headers}
        self._headers.update(self._route.proxy_headers if self._route.tunnel is None else ())
        self._local = threading.local()
        self._open: weakref.WeakSet[http.client.HTTPConnection] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._context = ssl.create_default_context() if parts.scheme == "https" else None

    def post(self, path: str, body: bytes) -> Reply:
        """POST ``body`` to ``base_url + path``; TransportTimeout / TransportDown when there is no reply."""
        conn = self._connection()
        try:
            conn.request("POST", self._route.target_prefix + self._path + path, body, self._headers)
            response = conn.getresponse()
            data = response.read()
        except TimeoutError as exc:
            self._discard(conn)
            raise TransportTimeout(str(exc) or "timed out") from None
        except (OSError, http.client.HTTPException) as exc:
            self._discard(conn)
            raise TransportDown(_reason(exc)) from None
        if response.will_close:
            self._discard(conn)
        return Reply(response.status, response.getheader("content-type") or "", data)

    def close(self) -> None:
        """Close every connection (of every thread)."""
        with self._lock:
            opened, self._open = list(self._open), weakref.WeakSet()
        for conn in opened:
            conn.close()
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is not None and conn.sock is not None and _closed_by_peer(conn.sock):
            self._discard(conn)
            conn = None
        if conn is None:
            route = self._route
            if route.scheme == "https" or (route.tunnel is not None):
                conn = http.client.HTTPSConnection(
                    route.host, route.port, timeout=self._timeout, context=self._context
                )
            else:
                conn = http.client.HTTPConnection(route.host, route.port, timeout=self._timeout)
            if route.tunnel is not None:
                conn.set_tunnel(*route.tunnel, headers=dict(route.proxy_headers))
            self._local.conn = conn
            # A thread that ends (a finished eval run's pool) closes its connection, not the GC, later.
            self._local.closer = weakref.finalize(threading.current_thread(), conn.close)
            with self._lock:
                self._open.add(conn)
        return conn

    def _discard(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        closer = getattr(self._local, "closer", None)
        if closer is not None:
            closer.detach()
        self._local.conn = self._local.closer = None
        with self._lock:
            self._open.discard(conn)


def _closed_by_peer(sock: object) -> bool:
    """True when an idle kept-alive socket is readable: the server closed it (or sent junk), so it must
    not carry the next request."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def _route(scheme: str, host: str, port: int | None) -> _Route:
    """Connect to the endpoint, or through the environment's proxy unless ``NO_PROXY`` exempts it."""
    port = port or (443 if scheme == "https" else 80)
    proxy = urllib.request.getproxies().get(scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return _Route(scheme, host, port, "")
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    headers: tuple[tuple[str, str], ...] = ()
    if parts.username is not None:
        credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}".encode()
        headers = (("Proxy-Authorization", "Basic " + base64.b64encode(credentials).decode("ascii")),)
    proxy_host, proxy_port = parts.hostname or "", parts.port or 80
    if scheme == "https":
        return _Route("https", proxy_host, proxy_port, "", tunnel=(host, port), proxy_headers=headers)
    return _Route("http", proxy_host, proxy_port, f"http://{host}:{port}", proxy_headers=headers)


def _reason(exc: BaseException) -> str:
    """What went wrong, in a few words."""
    if isinstance(exc, http.client.RemoteDisconnected):
        return "the server closed the connection without a reply"
    return str(exc) or type(exc).__name__

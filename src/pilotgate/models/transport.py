"""The HTTP POST under the OpenAI-compatible client: one kept-alive connection per thread, opened by the
standard library's http.client (proxy tunnel, TLS, timeouts) and read by its response class.

Why not the openai SDK's client: in the eval runner (64 threads, one core) its request path (httpx request
building, header validation, response model construction) cost ~1.5 ms of CPU a call against ~0.2 ms for
http.client posting the same body; urllib3's pool cost ~0.4 ms (paired rounds, docs/models.md). Once the
body is plain JSON the SDK adds nothing pilotgate uses. A connection belongs to one thread, so no pool lock
is taken; before a kept-alive connection is reused it is checked for having been closed by the server
(as httpcore and urllib3 check), so an idle timeout on the server side is not a failed call.

Two parts of http.client's request path are done here, for their CPU (a post cost ~120 µs against the
local test double, measured): the request head is built once per path and sent with the body in one
``sendall`` (``putrequest``/``putheader`` validated and encoded each header on every call, ~40% of a post),
and a reply's status line and header block are read by ``_LeanResponse``, not by ``parse_headers``,
which hands the block to the email package's feed parser (~45% of a post). The body, chunked or sized,
is still read by http.client's ``HTTPResponse`` from the attributes set here. Headers are checked once,
when the poster is built: a name must be a token and a value may hold no CR, LF or control character.

This module only moves bytes and classifies failures: ``TransportTimeout`` (no connection or no reply in
time), ``TransportDown`` (cannot connect, connection dropped, TLS, proxy); statuses and bodies are the
client's to read. Proxies come from the environment (``HTTPS_PROXY`` / ``HTTP_PROXY`` / ``NO_PROXY``), as
the SDK honoured them.
"""

from __future__ import annotations

import base64
import http.client
import re
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


_FIELD_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_FIELD_VALUE = re.compile(r"[\t\x20-\x7e\x80-\xff]*")
"""Header names are tokens; values hold no CR, LF or other control character (no header injection)."""
_TARGET = re.compile(r"[\x21-\x7e]+")
"""A request target: visible ASCII, no space."""

MAX_LINE = 65_536
"""The longest status or header line accepted (as http.client)."""
MAX_HEADERS = 100
"""The most header lines accepted (as http.client)."""


class _LeanResponse(http.client.HTTPResponse):
    """http.client's response, with the status line and headers read without the email parser.

    Sets what the body reading of ``HTTPResponse`` relies on: ``status``, ``reason``, ``version``,
    ``headers`` (a real ``HTTPMessage``, built through its public item API), ``chunked``,
    ``chunk_left``, ``length`` and ``will_close``. Interim 1xx replies (``100 Continue``) are skipped.
    A malformed status line or header block raises an ``http.client.HTTPException``, as the stdlib does.
    """

    def begin(self) -> None:
        if self.headers is not None:
            return
        while True:
            version, status, reason = self._status_line()
            fields = self._header_fields()
            if not 100 <= status < 200 or status == 101:
                break
        self.code = self.status = status
        self.reason = reason
        self.version = 10 if version == "HTTP/1.0" else 11
        message = http.client.HTTPMessage()
        for name, value in fields:
            message[name] = value
        self.headers = self.msg = message
        coding = (message.get("transfer-encoding") or "").lower()
        self.chunked = coding == "chunked"
        self.chunk_left = None
        self.length = None
        length = message.get("content-length")
        if length is not None and not self.chunked:
            try:
                self.length = int(length)
            except ValueError:
                self.length = None
            else:
                if self.length < 0:
                    self.length = None
        if status in (204, 304) or self._method == "HEAD":
            self.length = 0
        tokens = {token.strip().lower() for token in (message.get("connection") or "").split(",")}
        if self.version == 10:
            self.will_close = "keep-alive" not in tokens and not message.get("keep-alive")
        else:
            self.will_close = "close" in tokens
        if not self.will_close and not self.chunked and self.length is None:
            self.will_close = True  # the body ends when the server closes the connection

    def _line(self) -> str:
        raw = self.fp.readline(MAX_LINE + 1)
        if len(raw) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        return raw.decode("iso-8859-1")

    def _status_line(self) -> tuple[str, int, str]:
        line = self._line()
        if not line:
            raise http.client.RemoteDisconnected("Remote end closed connection without response")
        parts = line.rstrip("\r\n").split(None, 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise http.client.BadStatusLine(line)
        status = int(parts[1])
        if not 100 <= status <= 999:
            raise http.client.BadStatusLine(line)
        return parts[0], status, parts[2].strip() if len(parts) > 2 else ""

    def _header_fields(self) -> list[tuple[str, str]]:
        fields: list[tuple[str, str]] = []
        while True:
            line = self._line()
            if line in ("\r\n", "\n", ""):
                return fields
            if len(fields) >= MAX_HEADERS:
                raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")
            name, colon, value = line.partition(":")
            if not colon or not name or name != name.strip():
                raise http.client.HTTPException(f"malformed header line: {line[:80]!r}")
            fields.append((name, value.strip()))


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
        for name, value in self._headers.items():
            if not _FIELD_NAME.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
                raise ValueError(f"not a valid HTTP header: {name!r}")  # never echo the value: a key
        self._authority = parts.netloc.rpartition("@")[2]
        self._heads: dict[str, bytes] = {}
        self._local = threading.local()
        self._open: weakref.WeakSet[http.client.HTTPConnection] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._context = ssl.create_default_context() if parts.scheme == "https" else None

    def post(self, path: str, body: bytes) -> Reply:
        """POST ``body`` to ``base_url + path``; TransportTimeout / TransportDown when there is no reply."""
        conn = self._connection()
        head = self._heads.get(path)
        if head is None:
            head = self._heads[path] = self._head(path)
        response: _LeanResponse | None = None
        try:
            if conn.sock is None:
                conn.connect()  # the proxy tunnel and TLS, as http.client sets them up
            conn.sock.sendall(b"%s%d\r\n\r\n%s" % (head, len(body), body))
            response = _LeanResponse(conn.sock, method="POST")
            response.begin()
            data = response.read()
        except TimeoutError as exc:
            self._discard(conn, response)
            raise TransportTimeout(str(exc) or "timed out") from None
        except (OSError, http.client.HTTPException) as exc:
            self._discard(conn, response)
            raise TransportDown(_reason(exc)) from None
        if response.will_close:
            self._discard(conn)
        return Reply(response.status, response.getheader("content-type") or "", data)

    def _head(self, path: str) -> bytes:
        """The request line and headers of a POST to ``path``, up to the Content-Length value."""
        target = self._route.target_prefix + self._path + path
        if not _TARGET.fullmatch(target):
            raise ValueError(f"not a request target: {target!r}")
        lines = [f"POST {target} HTTP/1.1", f"Host: {self._authority}", "Accept-Encoding: identity"]
        lines += [f"{name}: {value}" for name, value in self._headers.items()]
        return ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")

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

    def _discard(
        self, conn: http.client.HTTPConnection, response: http.client.HTTPResponse | None = None
    ) -> None:
        if response is not None:
            response.close()  # its file object holds the socket open until it is closed
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

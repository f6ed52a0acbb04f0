"""The transport's own request head and reply reading, against a raw HTTP/1.1 peer.

``RawPeer`` is a test double of an HTTP server at the byte level: it reads each request (head and
``Content-Length`` body) and answers with scripted raw bytes, so replies the test double of the OpenAI
API never sends (chunked bodies, ``100 Continue``, HTTP/1.0, broken status lines) can be tried.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from pilotgate.models.transport import MAX_HEADERS, JsonPoster, TransportDown


class RawPeer:
    """Loopback server answering requests, in order, with scripted raw replies (a test double)."""

    def __init__(self, *replies: bytes, close_after: bool = False) -> None:
        self.replies = list(replies)
        self.requests: list[bytes] = []
        self.close_after = close_after
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _serve(self) -> None:
        while self.replies:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            with conn:
                stream = conn.makefile("rb")
                while self.replies:
                    head = b""
                    while not head.endswith(b"\r\n\r\n"):
                        line = stream.readline()
                        if not line:
                            break
                        head += line
                    if not head:
                        break
                    length = next(
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    )
                    self.requests.append(head + stream.read(length))
                    conn.sendall(self.replies.pop(0))
                    if self.close_after:
                        break
                stream.close()

    def close(self) -> None:
        self._listener.close()
        self._thread.join(timeout=2)


@pytest.fixture
def peer_factory() -> Iterator[list[RawPeer]]:
    made: list[RawPeer] = []
    yield made
    for peer in made:
        peer.close()


def serve(made: list[RawPeer], *replies: bytes, close_after: bool = False) -> RawPeer:
    peer = RawPeer(*replies, close_after=close_after)
    made.append(peer)
    return peer


JSON = b"Content-Type: application/json\r\n"


def test_the_request_head_names_host_length_and_the_declared_headers(peer_factory: list[RawPeer]) -> None:
    peer = serve(peer_factory, b"HTTP/1.1 200 OK\r\n" + JSON + b"Content-Length: 2\r\n\r\n{}")
    poster = JsonPoster(peer.base_url, {"Authorization": "Bearer k"}, timeout=5)
    try:
        reply = poster.post("/chat/completions", b'{"a":1}')
    finally:
        poster.close()
    assert (reply.status, reply.content_type, reply.body) == (200, "application/json", b"{}")
    head, body = peer.requests[0].split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /v1/chat/completions HTTP/1.1"
    assert f"Host: 127.0.0.1:{peer.port}".encode() in lines
    assert b"Content-Length: 7" in lines
    assert b"Authorization: Bearer k" in lines
    assert body == b'{"a":1}'


def test_a_chunked_reply_after_a_100_continue_is_read_whole_and_the_connection_kept(
    peer_factory: list[RawPeer],
) -> None:
    chunked = (
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 200 OK\r\n" + JSON + b"Transfer-Encoding: chunked\r\n\r\n"
        b'4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
    )
    sized = b"HTTP/1.1 201 Created\r\n" + JSON + b"Content-Length: 2\r\n\r\n[]"
    peer = serve(peer_factory, chunked, sized)
    poster = JsonPoster(peer.base_url, {}, timeout=5)
    try:
        first = poster.post("/x", b"{}")
        kept = poster._local.conn
        second = poster.post("/x", b"{}")
        assert poster._local.conn is kept  # one connection for both
    finally:
        poster.close()
    assert (first.status, first.body) == (200, b'{"a":1}')
    assert (second.status, second.body) == (201, b"[]")


def test_http_1_0_and_connection_close_replies_end_the_connection(peer_factory: list[RawPeer]) -> None:
    peer = serve(
        peer_factory,
        b"HTTP/1.0 200 OK\r\n" + JSON + b'\r\n{"old":true}',
        b"HTTP/1.1 200 OK\r\n" + JSON + b"Connection: close\r\nContent-Length: 2\r\n\r\n{}",
        close_after=True,
    )
    poster = JsonPoster(peer.base_url, {}, timeout=5)
    try:
        assert poster.post("/x", b"{}").body == b'{"old":true}'  # read until the server closed
        assert poster._local.conn is None
        assert poster.post("/x", b"{}").body == b"{}"
        assert poster._local.conn is None
    finally:
        poster.close()


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/2 200 OK\r\n\r\n",
        b"garbage\r\n\r\n",
        b"HTTP/1.1 2x0 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + b"".join(b"X-%d: y\r\n" % i for i in range(MAX_HEADERS + 1)) + b"\r\n",
        b"",
    ],
    ids=["http2", "garbage", "status", "header", "too-many-headers", "nothing"],
)
def test_a_broken_reply_is_transport_down_and_drops_the_connection(
    peer_factory: list[RawPeer], reply: bytes
) -> None:
    peer = serve(peer_factory, reply, close_after=True)
    poster = JsonPoster(peer.base_url, {}, timeout=5)
    try:
        with pytest.raises(TransportDown):
            poster.post("/x", b"{}")
        assert poster._local.conn is None
    finally:
        poster.close()


@pytest.mark.parametrize(
    "headers", [{"X-Key": "a\r\nInjected: 1"}, {"Bad Name": "v"}, {"X-Key": "a\nb"}, {"X-Key": "\x00"}]
)
def test_a_header_that_could_inject_another_is_refused_without_echoing_it(headers: dict[str, str]) -> None:
    with pytest.raises(ValueError) as caught:
        JsonPoster("http://127.0.0.1:9/v1", headers, timeout=1)
    assert "Injected" not in str(caught.value) and "\x00" not in str(caught.value)

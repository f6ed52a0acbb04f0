"""The plumbing every loopback test double shares: an HTTP server on an ephemeral port of 127.0.0.1,
served from a daemon thread, stopped (cutting short any request that waits on ``_stopping``) and closed."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


@dataclass
class LoopbackDouble:
    """Base of the HTTP test doubles: subclasses build their handler and call ``_serve`` from ``start``."""

    _server: ThreadingHTTPServer | None = field(default=None, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _stopping: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        assert self._server is not None, "start() the double first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Self:
        """Listen and serve; subclasses define their handler and call ``_serve``."""
        raise NotImplementedError

    def _serve(
        self, handler: type[BaseHTTPRequestHandler], server: type[ThreadingHTTPServer] = ThreadingHTTPServer
    ) -> Self:
        self._server = server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, cutting any waiting request short, and close the socket."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Tiny HTTP backends for health-check tests: a threaded HTTP/1.1 server on 127.0.0.1 port 0 whose answer status
can be switched while it runs (e.g. 500, then 200)::

    with StatusBackend() as backend:     # backend.port is the port it got
        backend.status = 500             # every path answers 500 from now on
        backend.requests("/health")      # how many requests hit /health

Every request is counted per path, so a test can tell whether Envoy answered by itself (no new request) or passed
the backend's answer through.
"""

from __future__ import annotations

import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCALHOST = "127.0.0.1"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: Envoy reuses upstream connections
    server: _Server

    def _answer(self, with_body: bool) -> None:
        status = self.server.backend.hit(self.path.split("?", 1)[0])
        body = f"status {status}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._answer(False)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output quiet
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    backend: StatusBackend


class StatusBackend:
    """An HTTP server answering every path with :attr:`status` (switchable at runtime, thread-safe)."""

    def __init__(self, status: int = 200):
        self._lock = threading.Lock()
        self._status = status
        self._hits: Counter[str] = Counter()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def status(self) -> int:
        with self._lock:
            return self._status

    @status.setter
    def status(self, value: int) -> None:
        with self._lock:
            self._status = value

    def hit(self, path: str) -> int:
        """Count one request for ``path``; the status to answer it with."""
        with self._lock:
            self._hits[path] += 1
            return self._status

    def requests(self, path: str | None = None) -> int:
        """Requests seen so far, for ``path`` or in total."""
        with self._lock:
            return sum(self._hits.values()) if path is None else self._hits[path]

    @property
    def port(self) -> int:
        assert self._server is not None, "backend not started"
        return self._server.server_address[1]

    def start(self) -> StatusBackend:
        self._server = _Server((LOCALHOST, 0), _Handler)
        self._server.backend = self
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"status-backend-{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket; safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> StatusBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Backends for TCP and gRPC health probes (HTTP: see ``backends.py``), each on 127.0.0.1 port 0 and stoppable and
restartable on the same port, so a test can watch a host go unhealthy and come back::

    with TcpPongBackend() as tcp:        # answers "pong\\n" to every "ping\\n"
        tcp.stop(); tcp.start()          # same port again
    with GrpcHealthBackend() as g:       # grpc.health.v1 Health: SERVING
        ...
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

LOCALHOST = "127.0.0.1"


class _PongHandler(socketserver.BaseRequestHandler):
    server: _TcpServer

    def handle(self) -> None:
        self.server.connections.add(self.request)
        self.request.settimeout(5)
        buffer = b""
        try:
            while chunk := self.request.recv(1024):
                buffer += chunk
                while b"ping\n" in buffer:
                    buffer = buffer.replace(b"ping\n", b"", 1)
                    self.request.sendall(b"pong\n")
        except OSError:
            pass
        finally:
            self.server.connections.discard(self.request)


class _TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    connections: set[socket.socket]


class TcpPongBackend:
    """TCP server answering ``pong\\n`` to each ``ping\\n`` (the payloads of a MeshHealthCheck tcp check with
    ``send: cGluZwo=`` / ``receive: [cG9uZwo=]``)."""

    def __init__(self) -> None:
        self.port = 0
        self._server: _TcpServer | None = None

    def start(self) -> TcpPongBackend:
        self._server = _TcpServer((LOCALHOST, self.port), _PongHandler)
        self._server.connections = set()
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening and cut open connections too: Envoy reuses its health-check connection, so a backend
        that only stopped accepting would still look alive."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            for conn in list(self._server.connections):
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._server = None

    def __enter__(self) -> TcpPongBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class GrpcHealthBackend:
    """A gRPC server with the standard ``grpc.health.v1.Health`` service reporting SERVING for ``""`` and
    ``service``."""

    def __init__(self, service: str = "") -> None:
        self.port = 0
        self.service = service
        self._server: grpc.Server | None = None

    def start(self) -> GrpcHealthBackend:
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=[("grpc.so_reuseport", 0)])
        servicer = health.HealthServicer()
        for name in {"", self.service}:
            servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
        health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
        self.port = server.add_insecure_port(f"{LOCALHOST}:{self.port}")
        server.start()
        self._server = server
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop(grace=None).wait(5)
            self._server = None

    def __enter__(self) -> GrpcHealthBackend:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    """A port the kernel just gave out on 127.0.0.1 (for the rare test that must name a port up front)."""
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return s.getsockname()[1]

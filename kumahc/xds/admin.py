"""Admin HTTP of ``serve`` (spec 06 §9): ``/ready``, ``/metrics``, ``/config_dump``, ``/status``.

Two guards run before every handler (:class:`AdminGuard`): the ``Host`` header must name this server (a page in a
browser that rebinds its own DNS name to 127.0.0.1 sends its own name, and gets 403), and with a token file
``/config_dump`` and ``/status`` need ``Authorization: Bearer <token>`` (401 otherwise; the file is re-read when
it changes, :mod:`kumahc.xds.token`). ``/ready`` and ``/metrics`` need no token: probes and Prometheus read them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import ipaddress
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kumahc.render import matches_proxy, to_json
from kumahc.xds.cache import SnapshotCache
from kumahc.xds.metrics import Metrics, event
from kumahc.xds.server import XdsServer
from kumahc.xds.token import RotatingToken

PROTECTED = ("/config_dump", "/status")
WILDCARDS = ("0.0.0.0", "::", "")
# Bounds of the admin port (docs/limits.md). Every admin connection holds a file descriptor, which the xDS
# connections need too: without them, a few hundred connections that never finish their request headers starved
# xDS of descriptors. A connection that has not sent a whole request head within ADMIN_HEADER_TIMEOUT seconds of
# opening (or of its last response) is closed; beyond ADMIN_MAX_CONNECTIONS open ones, a new connection gets a
# 503 and is closed at once.
ADMIN_HEADER_TIMEOUT = 10.0
ADMIN_MAX_CONNECTIONS = 64
ACCEPT_RETRY_SECONDS = 0.1
BUSY_BODY = b"busy: too many admin connections open, try again later\n"
BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(BUSY_BODY), BUSY_BODY))


def host_name(header: str) -> str:
    """The name part of a ``Host`` header, lower case, without port, brackets or a trailing dot:
    ``Example.COM.:80`` → ``example.com``, ``[::1]:18001`` → ``::1``."""
    h = header.strip().lower()
    if h.startswith("["):
        return h[1:h.find("]")] if "]" in h else h
    if h.count(":") == 1:
        h = h.split(":", 1)[0]
    return h.rstrip(".")


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class AdminGuard:
    """``listen_host``: the host of ``--admin-address``; ``allowed_hosts``: the ``--admin-allowed-host`` names;
    ``token``: the ``--admin-token-file`` (its newest good version is checked), or None for no token."""

    listen_host: str
    allowed_hosts: tuple[str, ...] = ()
    token: RotatingToken | None = None

    def names(self) -> frozenset[str]:
        return frozenset({host_name(self.listen_host), "localhost"} | {host_name(h) for h in self.allowed_hosts})

    def host_allowed(self, header: str | None) -> bool:
        """The listening address, ``localhost``, or an allowed name; on a wildcard address (0.0.0.0, ::) any IP
        literal too (every local address is a listening address, and a bare IP cannot be rebound). No Host →
        refused."""
        if not header:
            return False
        name = host_name(header)
        if name in self.names():
            return True
        return self.listen_host in WILDCARDS and _is_ip(name)

    def token_ok(self, authorization: str | None) -> bool:
        """No token file, or ``Bearer <token>`` with the file's current token (checked for a change first)."""
        if self.token is None:
            return True
        token = self.token.current()
        scheme, _, given = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def _guard(guard: AdminGuard, metrics: Metrics) -> Callable:
    @web.middleware
    async def middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        host = request.headers.get("Host")
        if not guard.host_allowed(host):
            metrics.admin_denied.labels("host").inc()
            event(logging.WARNING, f'admin request refused: Host "{host or ""}" is not allowed path={request.path} '
                  f"remote={request.remote}", event="admin_denied", reason="host", host=host or "",
                  path=request.path, remote=request.remote)
            allowed = ", ".join(sorted(guard.names()))
            return web.Response(status=403, text=f'forbidden: Host "{host or ""}" is not one of {allowed} '
                                                 "(add names with --admin-allowed-host)\n")
        if request.path in PROTECTED and not guard.token_ok(request.headers.get("Authorization")):
            metrics.admin_denied.labels("token").inc()
            event(logging.WARNING, f"admin request refused: missing or wrong bearer token path={request.path} "
                  f"remote={request.remote}", event="admin_denied", reason="token", path=request.path,
                  remote=request.remote)
            return web.Response(status=401, text="unauthorized: send Authorization: Bearer <token>\n",
                                headers={"WWW-Authenticate": 'Bearer realm="kumahc"'})
        return await handler(request)

    return middleware


NOT_READY = "not ready\n"


def make_app(cache: SnapshotCache, metrics: Metrics, xds: XdsServer, guard: AdminGuard, store: str | None = None,
             ui: web.Application | None = None, render: str = "all") -> web.Application:
    """The admin application; ``/ready`` is 200 once the cache holds the first snapshot. ``store``: the store URL
    as ``/status`` shows it (already redacted), with ``--store``. ``ui``: the operator pages (``serve --ui``,
    :func:`kumahc.ui.make_ui`), mounted under ``/ui/`` with ``/`` and ``/ui`` redirecting there; the Host check
    runs before them too (they check the token themselves, with a login form). ``render``: ``serve --render``,
    named by ``/status``.

    ``/config_dump`` is every proxy's document whatever ``--render`` (proxies not materialized are built for it
    and dropped after); ``/config_dump?materialized=true`` holds only the materialized ones; ``/status`` lists
    them under ``materialized``."""

    async def ready_handler(_: web.Request) -> web.Response:
        if cache.ready:
            return web.Response(text="ready\n")
        return web.Response(status=503, text=NOT_READY)

    async def metrics_handler(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def config_dump(request: web.Request) -> web.Response:
        if cache.snapshot is None:
            return web.Response(status=503, text=NOT_READY)
        snapshot = cache.snapshot
        proxy = request.query.get("proxy")
        only_materialized = request.query.get("materialized") in ("true", "1")

        def dump() -> str | None:
            doc = snapshot.document
            if proxy is not None or only_materialized:
                kept = [p for p in doc["proxies"] if (proxy is None or matches_proxy(p["mesh"], p["name"], proxy))
                        and (not only_materialized or (p["mesh"], p["name"]) in snapshot.proxies)]
                if not kept and proxy is not None:
                    return None
                doc = {"proxies": kept}
            return to_json(doc)

        # The document is made on first use and a large mesh's takes seconds: not on the loop serving the streams.
        text = await asyncio.to_thread(dump)
        if text is None:
            return web.Response(status=404, text=f'no proxy matches "{proxy}"\n')
        return web.Response(text=text, content_type="application/json")

    async def status(_: web.Request) -> web.Response:
        if cache.snapshot is None:
            return web.Response(status=503, text=NOT_READY)
        snap = cache.snapshot
        body = {"snapshot_loaded_at": snap.loaded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "streams": [s.as_json() for s in xds.status()],
                "render": "connected" if snap.lazy else render,
                "proxies": len(snap.names),
                "materialized": [f"{m}/{n}" for m, n in sorted(snap.proxies)]}
        if store is not None:
            body["store"] = store
        return web.Response(text=json.dumps(body, indent=2) + "\n", content_type="application/json")

    app = web.Application(middlewares=[_guard(guard, metrics)])
    app.router.add_get("/ready", ready_handler)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/config_dump", config_dump)
    app.router.add_get("/status", status)
    if ui is not None:
        async def to_ui(_: web.Request) -> web.Response:
            raise web.HTTPFound("/ui/")

        app.router.add_get("/", to_ui)
        app.router.add_get("/ui", to_ui)
        app.add_subapp("/ui/", ui)
    return app


def make_runner(app: web.Application) -> web.AppRunner:
    """The runner of the admin application. aiohttp's keep-alive timer starts when a connection opens and again
    after each response, and closes the connection if no whole request head has arrived by then: set to
    :data:`ADMIN_HEADER_TIMEOUT`, it is the header-read timeout (and the idle keep-alive timeout)."""
    return web.AppRunner(app, access_log=None, keepalive_timeout=ADMIN_HEADER_TIMEOUT)


class AdminSite(web.BaseSite):
    """The admin listener on ``host:port`` (port 0: any free port, :attr:`port` says which), bound with
    ``SO_REUSEADDR`` so a restart binds at once even when the last run closed connections now in TIME_WAIT (a
    second server on a port that is listening still fails: Linux checks listeners apart). At most
    ``max_connections`` are open: a connection beyond them gets :data:`BUSY` and is closed, and ``refused`` is
    called. Raises OSError when the address cannot be bound.

    The site accepts one connection at a time and decides at once. asyncio's own server accepts up to its backlog
    (128) sockets per loop turn and sets them up on later turns, so a burst held a few hundred descriptors however
    few connections were let in, and starved xDS under a low open-files limit."""

    def __init__(self, runner: web.BaseRunner, host: str, port: int, max_connections: int,
                 refused: Callable[[], None]) -> None:
        super().__init__(runner)
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                      flags=socket.AI_PASSIVE)[0]
        try:
            self._sock = socket.create_server(address, family=family, backlog=self._backlog)  # sets SO_REUSEADDR
        except OSError as exc:  # its text repeats the address: keep the reason only
            raise OSError(exc.errno, os.strerror(exc.errno)) if exc.errno else exc from None
        self._sock.setblocking(False)
        self._host = host
        self._max = max_connections
        self._refused = refused
        self._accepting: asyncio.Task | None = None

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self.port}"

    @property
    def port(self) -> int:
        return self._sock.getsockname()[1]

    async def start(self) -> None:
        await super().start()
        self._accepting = asyncio.ensure_future(self._accept())

    async def stop(self) -> None:
        if self._accepting is not None:
            self._accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accepting
        self._sock.close()
        await super().stop()

    async def _accept(self) -> None:
        loop = asyncio.get_running_loop()
        server = self._runner.server
        assert server is not None
        while True:
            try:
                conn, _ = await loop.sock_accept(self._sock)
            except OSError:  # out of descriptors (EMFILE, ENFILE) or memory: retry once some are freed
                await asyncio.sleep(ACCEPT_RETRY_SECONDS)
                continue
            # server.connections: every connection set up so far (each is set up before the next accept).
            if len(server.connections) >= self._max:
                self._refused()
                with contextlib.suppress(OSError):
                    conn.send(BUSY)  # a new socket's send buffer takes it whole
                conn.close()
                continue
            try:
                await loop.connect_accepted_socket(server, conn)
            except OSError:
                conn.close()

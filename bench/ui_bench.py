"""``ui``: server time of the operator pages (kumahc/ui) at a mesh's size, above all the proxies page at
``large`` (10,000 proxies; target ≤ 200 ms).

The mesh is rendered and snapshotted in this process as ``serve`` does; every proxy then gets a real
:class:`kumahc.xds.streams.Stream` (SotW CDS, node id ``MESH.NAME``) that is sent its clusters and ACKs them, and
every 100th one NACKs them instead, so the pages read the same state a served mesh has (no gRPC: the streams'
state, not the network, is what the pages read). The admin application with the pages is served by aiohttp on
127.0.0.1 and each page is fetched ``repeat`` times over HTTP. Server time: from the admin application's first
middleware to its response (the page's whole work); HTTP: from the request to the last byte, as a client sees it.
"""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path

from envoy.service.discovery.v3 import discovery_pb2

from bench import report

PAGES = (
    ("/ui/proxies", "proxies, page 1 (50 rows, worst state first)"),
    ("/ui/proxies?sort=node&desc=1&page=100", "proxies, sorted by node id, page 100"),
    ("/ui/proxies?q=1&state=in+sync&per=500", "proxies, search + filter, 500 rows"),
    ("/ui/proxies?state=nacking", "proxies, the NACKing ones"),
    ("/ui/", "overview"),
)


class _Hooks:
    def sent(self, api: str) -> None: ...
    def acked(self, *args: object) -> None: ...
    def nacked(self, *args: object) -> None: ...
    def unknown_node(self, *args: object) -> None: ...


def _streams(snap: object) -> list:
    from kumahc.xds.snapshot import CLUSTER_TYPE
    from kumahc.xds.streams import CDS, SOTW, Stream

    out = []
    for i, (mesh, name) in enumerate(sorted(snap.proxies)):  # type: ignore[attr-defined]
        s = Stream(SOTW, CDS, snap, _Hooks())  # type: ignore[arg-type]
        node = f"{mesh}.{name}"
        s.peer = f"ipv4:127.0.0.1:{20000 + i % 40000}"
        (sent,) = s.on_request(discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE, node={"id": node}))
        resp = discovery_pb2.DiscoveryResponse.FromString(sent)
        answer = discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE, node={"id": node},
                                                version_info=resp.version_info, response_nonce=resp.nonce)
        if i % 100 == 0:
            answer.error_detail.message = f"cluster rejected by proxy {i}"
        s.on_request(answer)
        out.append(s)
    return out


async def _measure(app: object, repeat: int) -> list[list[str]]:
    from aiohttp import ClientSession, web

    server: list[float] = []  # each request's time inside the application (middleware to response), seconds

    @web.middleware
    async def timed(request: web.Request, handler):  # noqa: ANN001, ANN202
        started = time.perf_counter()
        try:
            return await handler(request)
        finally:
            server.append(time.perf_counter() - started)

    app.middlewares.insert(0, timed)  # type: ignore[attr-defined]

    runner = web.AppRunner(app, access_log=None)  # type: ignore[arg-type]
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rows = []
    try:
        async with ClientSession() as session:
            for path, label in PAGES:
                times = []
                server.clear()
                size = 0
                gc.collect()  # the render's garbage is collected by now in a serve that has run for a while
                for _ in range(repeat):
                    started = time.perf_counter()
                    async with session.get(f"http://127.0.0.1:{port}{path}") as resp:
                        body = await resp.read()
                        if resp.status != 200:
                            raise RuntimeError(f"{path}: HTTP {resp.status}")
                    times.append(time.perf_counter() - started)
                    size = len(body)
                first = server[0]
                server.sort()
                times.sort()
                rows.append([label, path, f"{size / 1024:.0f} KiB", _ms(report.median(server)), _ms(server[-1]),
                             _ms(first), _ms(report.median(times))])
    finally:
        await runner.cleanup()
    return rows


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def ui_bench(mesh: Path, size: str, repeat: int) -> str:
    from kumahc.pipeline import run
    from kumahc.ui import make_ui
    from kumahc.xds import snapshot
    from kumahc.xds.admin import AdminGuard, make_app
    from kumahc.xds.cache import SnapshotCache
    from kumahc.xds.metrics import Metrics
    from kumahc.xds.reloads import ServeLog
    from kumahc.xds.server import XdsServer

    snap = snapshot.build(run([str(mesh)]))
    streams = _streams(snap)

    async def main() -> list[list[str]]:
        cache = SnapshotCache(snap)
        metrics = Metrics()
        xds = XdsServer(cache, metrics)
        xds.streams.update(streams)
        guard = AdminGuard("127.0.0.1")
        served = ServeLog()
        served.reloaded(True, [])
        app = make_app(cache, metrics, xds, guard, ui=make_ui(cache, xds, guard, served))
        return await _measure(app, repeat)

    rows = asyncio.run(main())
    return report.table(f"operator pages ({size}: {len(snap.proxies):,} proxies with a stream each, 1 in 100 "
                        f"NACKing; {repeat} requests per page over HTTP on 127.0.0.1)",
                        ["page", "path", "body", "server median", "server max", "server first",
                         "HTTP median"], rows,
                        ["target: the proxies page ≤ 200 ms at large (10,000 proxies)"])

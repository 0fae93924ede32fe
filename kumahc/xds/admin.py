"""Admin HTTP of ``serve`` (spec 06 §9): ``/ready``, ``/metrics``, ``/config_dump``, ``/status``."""

from __future__ import annotations

import json
from collections.abc import Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from kumahc.render import matches_proxy, to_json
from kumahc.xds.cache import SnapshotCache
from kumahc.xds.metrics import Metrics
from kumahc.xds.server import XdsServer


def make_app(cache: SnapshotCache, metrics: Metrics, xds: XdsServer, ready: Callable[[], bool]) -> web.Application:
    async def ready_handler(_: web.Request) -> web.Response:
        if ready():
            return web.Response(text="ready\n")
        return web.Response(status=503, text="not ready\n")

    async def metrics_handler(_: web.Request) -> web.Response:
        return web.Response(body=generate_latest(metrics.registry), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def config_dump(request: web.Request) -> web.Response:
        doc = cache.snapshot.document
        proxy = request.query.get("proxy")
        if proxy is not None:
            kept = [p for p in doc["proxies"] if matches_proxy(p["mesh"], p["name"], proxy)]
            if not kept:
                return web.Response(status=404, text=f'no proxy matches "{proxy}"\n')
            doc = {"proxies": kept}
        return web.Response(text=to_json(doc), content_type="application/json")

    async def status(_: web.Request) -> web.Response:
        body = {"snapshot_loaded_at": cache.snapshot.loaded_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "streams": [s.as_json() for s in xds.status()]}
        return web.Response(text=json.dumps(body, indent=2) + "\n", content_type="application/json")

    app = web.Application()
    app.router.add_get("/ready", ready_handler)
    app.router.add_get("/metrics", metrics_handler)
    app.router.add_get("/config_dump", config_dump)
    app.router.add_get("/status", status)
    return app

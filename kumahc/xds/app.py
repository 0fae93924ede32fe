"""``kumahc serve``: start-up, reload, shutdown (spec 06 §1, §7, §8). The I/O edge of the xDS side."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from dataclasses import dataclass

from aiohttp import web

from kumahc.diagnostics import FatalInputError, InputError, Severity, summary
from kumahc.pipeline import Options, RunCache, run
from kumahc.resources.files import Limits
from kumahc.resources.watch import Watcher
from kumahc.xds import snapshot as snapshots
from kumahc.xds.admin import make_app
from kumahc.xds.cache import SnapshotCache
from kumahc.xds.metrics import Metrics, log, setup_logging
from kumahc.xds.server import XdsServer, make_server

GRACE_SECONDS = 2


@dataclass(frozen=True, slots=True)
class Address:
    """``HOST:PORT`` or ``[v6]:PORT``; port 0 = any free port."""

    host: str
    port: int

    @staticmethod
    def parse(text: str) -> Address:
        """Raises ValueError with a message for the usage error."""
        host, sep, port = text.rpartition(":")
        if not sep or not host or not port.isdigit() or int(port) > 65535:
            raise ValueError(f'"{text}" is not HOST:PORT')
        if host.startswith("["):
            if not host.endswith("]"):
                raise ValueError(f'"{text}" is not HOST:PORT')
            host = host[1:-1]
        return Address(host, int(port))

    def show(self, port: int | None = None) -> str:
        p = self.port if port is None else port
        return f"[{self.host}]:{p}" if ":" in self.host else f"{self.host}:{p}"


def _log_report(lines: list[str], level_for_errors: str = "error") -> None:
    for line in lines:
        if line.startswith("warning: "):
            log.warning(line.removeprefix("warning: "))
        elif line.startswith("info: "):
            log.info(line.removeprefix("info: "))
        else:
            getattr(log, level_for_errors)(line)


def serve(paths: list[str], xds: Address, admin: Address, protocol: str | None, strict: bool,
          limits: Limits | None = None) -> int:
    """Run until SIGTERM/SIGINT. Returns the exit code: 1 when the inputs are invalid or a listener cannot bind."""
    setup_logging()
    started = time.monotonic()
    # Watch before loading: a change made while kumahc starts then brings a reload.
    seen = Watcher(paths)
    options = Options(protocol=protocol, strict=strict, limits=limits or Limits())
    run_cache = RunCache()
    run_cache.files.held = seen.being_written  # a file open for writing is never read half-written
    try:
        result = run(paths, options, run_cache)
    except FatalInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except InputError as exc:
        for line in exc.report.lines(exc.strict):
            print(line, file=sys.stderr)
        print(summary(exc.report.error_count(exc.strict)), file=sys.stderr)
        return 1
    _log_report(result.report.lines(strict))
    snap = snapshots.build(result)
    return asyncio.run(_main(paths, options, snap, xds, admin, time.monotonic() - started, seen, run_cache))


async def _main(paths: list[str], options: Options, first: snapshots.Snapshot, xds_addr: Address,
                admin_addr: Address, generation_seconds: float, seen: Watcher,
                run_cache: RunCache) -> int:
    cache = SnapshotCache(first)
    metrics = Metrics()
    _gauges(metrics, first)
    metrics.generation.set(generation_seconds)
    xds = XdsServer(cache, metrics)
    server = make_server()
    server.add_generic_rpc_handlers(xds.handlers())
    try:
        xds_port = server.add_insecure_port(xds_addr.show())
        if not xds_port:
            raise RuntimeError("address in use or unavailable")
    except RuntimeError as exc:
        print(f"error: cannot listen on {xds_addr.show()}: {exc}", file=sys.stderr)
        return 1
    started = {"ready": False}
    runner = web.AppRunner(make_app(cache, metrics, xds, lambda: started["ready"]), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, admin_addr.host, admin_addr.port, reuse_address=False)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        print(f"error: cannot listen on {admin_addr.show()}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    await server.start()
    admin_port = site._server.sockets[0].getsockname()[1]  # aiohttp keeps the bound socket here only
    print(f"xds listening on {xds_addr.show(xds_port)}", flush=True)
    print(f"admin listening on {admin_addr.show(admin_port)}", flush=True)
    started["ready"] = True

    stop = asyncio.Event()
    force = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, force.set)
    log.info("watching the inputs (%s)", seen.mode)
    watcher = asyncio.ensure_future(seen.run(lambda: _reload(paths, options, cache, metrics, run_cache), stop,
                                             force))
    await stop.wait()
    log.info("shutting down")
    watcher.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await watcher
    await server.stop(grace=GRACE_SECONDS)
    await runner.cleanup()
    return 0


def _gauges(metrics: Metrics, snap: snapshots.Snapshot) -> None:
    metrics.proxies.set(len(snap.proxies))
    metrics.clusters.set(snap.cluster_count)


async def _reload(paths: list[str], options: Options, cache: SnapshotCache, metrics: Metrics,
                  run_cache: RunCache) -> None:
    """Re-render; push a valid result, keep the last good snapshot on invalid inputs (06 §7). ``run_cache`` and
    the current snapshot let the reload redo only what the change touches."""
    started = time.monotonic()
    try:
        result = await asyncio.to_thread(run, paths, options, run_cache)
        snap = await asyncio.to_thread(snapshots.build, result, cache.snapshot)
    except InputError as exc:
        metrics.reloads.labels("failure").inc()
        log.error("reload failed; keeping the last good snapshot")
        for d in sorted(exc.report.items, key=lambda d: d.sort_key()):
            if d.effective(exc.strict) == Severity.ERROR:
                log.error(d.text(exc.strict))
        return
    except FatalInputError as exc:
        metrics.reloads.labels("failure").inc()
        log.error("reload failed; keeping the last good snapshot")
        log.error("error: %s", exc)
        return
    except Exception as exc:  # noqa: BLE001 - a reload must never stop the server
        metrics.reloads.labels("failure").inc()
        log.error("reload failed; keeping the last good snapshot")
        log.error("error: internal: %s: %s", type(exc).__name__, exc)
        return
    _log_report([line for line in result.report.lines(options.strict) if not line.startswith("info: ")])
    cache.set(snap)
    _gauges(metrics, snap)
    metrics.generation.set(time.monotonic() - started)
    metrics.reloads.labels("success").inc()
    log.info("reloaded: %d proxies, %d clusters", len(snap.proxies), snap.cluster_count)

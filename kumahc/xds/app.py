"""``kumahc serve``: start-up (listeners first, then the first render), reload, shutdown (spec 06 §1, §7, §8).
The I/O edge of the xDS side."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import resource
import signal
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from kumahc import gcpause
from kumahc.diagnostics import FatalInputError, InputError, Severity, summary
from kumahc.pipeline import LazyClusters, Options, Progress, Result, RunCache, run
from kumahc.resources.files import Limits
from kumahc.resources.watch import Watcher
from kumahc.sources.store.errors import StoreError
from kumahc.xds import materialize
from kumahc.xds import snapshot as snapshots
from kumahc.xds.address import Address
from kumahc.xds.admin import ADMIN_MAX_CONNECTIONS, AdminGuard, AdminSite, make_app, make_runner
from kumahc.xds.cache import SnapshotCache
from kumahc.xds.connected import GRACE_SECONDS as GRACE_SECONDS_CONNECTED
from kumahc.xds.connected import Connected
from kumahc.xds.listen import ListenError, bind_quietly
from kumahc.xds.metrics import Metrics, log, setup_logging
from kumahc.xds.reloads import ServeLog
from kumahc.xds.server import XdsServer, make_server
from kumahc.xds.tls import Rotating, TlsFileError, TlsFiles
from kumahc.xds.token import RotatingToken

if TYPE_CHECKING:
    from kumahc.sources.store.rendered import Stored
    from kumahc.sources.store.replica import Replica

T = TypeVar("T")

GRACE_SECONDS = 2


def _log_report(lines: list[str], level_for_errors: str = "error") -> None:
    for line in lines:
        if line.startswith("warning: "):
            log.warning(line.removeprefix("warning: "))
        elif line.startswith("info: "):
            log.info(line.removeprefix("info: "))
        else:
            getattr(log, level_for_errors)(line)


@dataclass(frozen=True, slots=True)
class ServeConfig:
    """Everything ``kumahc serve`` was asked for (the CLI's flags)."""

    paths: tuple[str, ...]
    xds: Address
    admin: Address
    protocol: str | None = None
    strict: bool = False
    tls: TlsFiles | None = None
    admin_allowed_hosts: tuple[str, ...] = ()
    admin_token_file: str | None = None
    log_format: str = "text"
    log_level: str = "info"
    endpoints: str = "static"
    limits: Limits | None = None
    store: str | None = None  # --store URL: serve the PostgreSQL store instead of PATH arguments
    ui: bool = True  # --ui/--no-ui: the operator pages under /ui/ on the admin port (kumahc.ui)
    render: str = "connected"  # --render: build the clusters of connected proxies only, or of "all" at each load
    render_grace: float = GRACE_SECONDS_CONNECTED  # --render-grace: seconds a proxy stays built after its last stream
    # The first load's progress display (the command line's, on a terminal): a context manager factory giving the
    # pipeline's progress callback (kumahc.commands.progress.drawn). None: no progress.
    progress: Callable[[], contextlib.AbstractContextManager[Progress | None]] | None = None

    @property
    def lazy(self) -> bool:
        """Only connected proxies are built. ``--strict`` builds every proxy: its precedence warnings are errors,
        and they are found by building the proxy."""
        return self.render == RENDER_CONNECTED and not self.strict


RENDER_CONNECTED = "connected"
RENDER_ALL = "all"
RENDER_CHOICES = (RENDER_CONNECTED, RENDER_ALL)


# The source seam: a function that renders the newest inputs into a pipeline result (raising InputError /
# FatalInputError on invalid inputs), or hands back parts its writer already rendered (the store's, when usable).
# Files and the store today; another source (a Kubernetes API) plugs in beside them. Its argument: with
# --render connected, the proxies to materialize (a source reading stored parts reads only theirs); else None.
Produce = Callable[[set | None], "Result | Stored"]


def file_source(paths: list[str], options: Options, watcher: Watcher | None = None, lazy: bool = False,
                first_progress: Callable[[], contextlib.AbstractContextManager[Progress | None]] | None = None
                ) -> Produce:
    """Render the PATH arguments; the RunCache lets each reload redo only what changed. With ``watcher``, a file
    still open for writing is never read half-written (the reload waits for its close). ``lazy``: the result
    builds no proxy's clusters until asked (``--render connected``). ``first_progress``: the progress display of
    the first load (:attr:`ServeConfig.progress`); reloads show none."""
    run_cache = RunCache()
    if watcher is not None:
        run_cache.files.held = watcher.being_written
    first = first_progress

    def produce(_keys: set | None = None) -> Result:
        nonlocal first
        shown, first = first, None
        if shown is None:
            return run(paths, options, run_cache, lazy)
        with shown() as report:  # erased before the first load's warnings or errors are logged
            return run(paths, options, run_cache, lazy, progress=report)

    return produce


def store_source(url: str, options: Options, endpoints: str = "static", lazy: bool = False) -> Replica:
    """The store at ``url`` (its schema checked now: a bad URL, a store that is down or at another schema version
    raise :class:`StoreError`); ``.produce`` is the Produce, :func:`_watch_store` keeps it current."""
    from kumahc.sources.store import connection, schema
    from kumahc.sources.store.replica import Replica

    with connection.session(url) as conn:
        schema.check(conn, connection.redact(url))
    return Replica(url, options, endpoints, lazy)


def serve(config: ServeConfig) -> int:
    """Run until SIGTERM/SIGINT. Returns the exit code: 1 when a TLS or token file is unusable, a listener cannot
    bind, or the first inputs are invalid."""
    setup_logging(config.log_format, config.log_level)
    metrics = Metrics(store=config.store is not None)

    def tls_changed(message: str) -> None:  # called from grpc's threads, before a handshake
        log.info(message)
        metrics.tls_reloads.labels("success").inc()

    def tls_failed(message: str) -> None:
        log.error(message)
        metrics.tls_reloads.labels("failure").inc()

    def token_changed(message: str) -> None:  # called on the admin loop, before a protected request
        log.info(message)
        metrics.token_reloads.labels("success").inc()

    def token_failed(message: str) -> None:
        log.error(message)
        metrics.token_reloads.labels("failure").inc()

    try:
        tls = Rotating(config.tls, tls_changed, tls_failed) if config.tls is not None else None
        token = (RotatingToken(config.admin_token_file, token_changed, token_failed) if config.admin_token_file
                 else None)
    except (TlsFileError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for warning in exposure_warnings(config):
        log.warning(warning)
    _raise_fd_limit()
    options = Options(protocol=config.protocol, strict=config.strict, limits=config.limits or Limits())
    guard = AdminGuard(config.admin.host, config.admin_allowed_hosts, token)
    if config.store is not None:
        try:
            replica = store_source(config.store, options, config.endpoints, config.lazy)
        except StoreError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return asyncio.run(_main(config, replica.produce, metrics, tls, guard, None, replica))
    paths = list(config.paths)
    # Watch before loading: a change made while kumahc starts then brings a reload.
    seen = Watcher(paths)
    produce = file_source(paths, options, seen, config.lazy, config.progress)
    return asyncio.run(_main(config, produce, metrics, tls, guard, seen))


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP (127.0.0.0/8, ::1); a wildcard (``0.0.0.0``, ``::``, empty) or any other
    name is not: it may be reachable from other hosts."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_warnings(config: ServeConfig) -> list[str]:
    """The start-up WARNINGs of a listener that other hosts may reach unprotected: xDS without TLS (anyone who
    connects reads every proxy's clusters under any node id), the admin port without a token (anyone reads
    ``/config_dump`` and ``/status``). None on loopback addresses."""
    out = []
    if config.tls is None and not is_loopback(config.xds.host):
        out.append(f"xDS listens on {config.xds.show()}, not a loopback address, in plaintext: any host that "
                   "reaches it can read every proxy's clusters (give --xds-tls-cert and --xds-tls-key, and "
                   "--xds-client-ca to check who connects)")
    if config.admin_token_file is None and not is_loopback(config.admin.host):
        out.append(f"the admin port listens on {config.admin.show()}, not a loopback address, without a token: "
                   "any host that reaches it can read /config_dump and /status (give --admin-token-file)")
    return out


def _raise_fd_limit() -> None:
    """Every stream holds a connection: raise the soft open-files limit to the hard one (as Go programs do), so a
    few thousand Envoys fit under a default soft limit of 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(soft, 1 << 20) if hard == resource.RLIM_INFINITY else hard
    if soft < target:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def _in_thread(fn: Callable[[], T]) -> asyncio.Future[T]:
    """Run ``fn`` in a daemon thread: a render can take tens of seconds at 10,000 proxies, and SIGTERM must not
    wait for it (06 §8: exit within 5 s)."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[T] = loop.create_future()

    def deliver(ok: bool, value: Any) -> None:
        if not fut.done():
            (fut.set_result if ok else fut.set_exception)(value)

    def work() -> None:
        try:
            out: Any = (True, fn())
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            out = (False, exc)
        with contextlib.suppress(RuntimeError):  # the loop is gone: we are shutting down
            loop.call_soon_threadsafe(deliver, *out)

    threading.Thread(target=work, name="kumahc-render", daemon=True).start()
    return fut


def _render(produce: Produce, previous: snapshots.Snapshot | None, endpoints: str, strict: bool = False,
            keys: set[tuple[str, str]] | None = None, whole: Callable[[], Any] | None = None
            ) -> tuple[list[str], snapshots.Snapshot, float]:
    """The snapshot of the newest inputs and the report's lines: rendered from a pipeline result, or made from
    the parts the store's writer rendered (:mod:`kumahc.sources.store.rendered`). A lazy result (``--render
    connected``) gets ``keys`` (the connected proxies) materialized, their precedence warnings added to the
    lines."""
    started = time.monotonic()
    out = produce(keys)
    if isinstance(out, Result) and isinstance(out.clusters, LazyClusters):
        snap, warned = materialize.snapshot_of(out, previous, endpoints, keys or ())
        lines = out.report.lines(strict) + warned
    elif isinstance(out, Result):
        snap = snapshots.build(out, previous, endpoints)
        lines = out.report.lines(strict)
    else:
        snap = snapshots.from_parts(snapshots.Parts(out.clusters, out.proxies, out.names), previous, whole)
        lines = list(out.warnings)
    return lines, snap, time.monotonic() - started


def _first_render(produce: Produce, config: ServeConfig, whole: Callable[[], Any] | None
                  ) -> tuple[list[str], snapshots.Snapshot, float]:
    """The first load's :func:`_render`, its mesh frozen out of the collector's reach once built (nothing to
    release before it: see :func:`_reload`)."""
    with gcpause.reloading():
        return _render(produce, None, config.endpoints, config.strict, None, whole)


def _parts_served(snap: snapshots.Snapshot, metrics: Metrics, before: snapshots.Snapshot | None) -> None:
    """``--store``: say whether this replica serves what the store's writer rendered, when that changes."""
    now = snap.from_parts
    metrics.store_parts.set(1 if now else 0)
    if before is None or before.from_parts != now:
        log.info("serving the clusters the store's writer rendered" if now else
                 "rendering the stored resources here (the store holds no rendered clusters for this revision "
                 "from this kumahc, or the options differ from the defaults)")


async def _main(config: ServeConfig, produce: Produce, metrics: Metrics, tls: Rotating | None, guard: AdminGuard,
                seen: Watcher | None, replica: Replica | None = None) -> int:
    """Bind both listeners, then render (06 §1 as changed by "bind first": /ready is 503 and streams wait until
    the first snapshot), then serve and reload until a signal."""
    cache = SnapshotCache()
    connected = Connected(config.render_grace) if config.lazy else None
    xds = XdsServer(cache, metrics, identity=tls is not None and tls.files.client_ca is not None,
                    connected=connected)
    server = make_server()
    server.add_generic_rpc_handlers(xds.handlers())
    xds_addr, admin_addr = config.xds, config.admin
    try:
        if tls is not None:
            credentials = tls.credentials()
            xds_port = bind_quietly(lambda where: server.add_secure_port(where, credentials), xds_addr)
        else:
            xds_port = bind_quietly(server.add_insecure_port, xds_addr)
    except ListenError as exc:
        _listen_failed(config, "xds", exc)
        return 1
    store = None if replica is None else replica.where  # /status names the store, its password masked
    served = ServeLog()
    ui = None
    if config.ui:
        from kumahc.ui import make_ui

        ui = make_ui(cache, xds, guard, served, store,
                     (lambda: replica.revision) if replica is not None else None)
    runner = make_runner(make_app(cache, metrics, xds, guard, store, ui=ui,
                                  render=RENDER_CONNECTED if config.lazy else RENDER_ALL))
    await runner.setup()
    try:
        site = AdminSite(runner, admin_addr.host, admin_addr.port, ADMIN_MAX_CONNECTIONS, metrics.admin_refused.inc)
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        _listen_failed(config, "admin", ListenError(admin_addr, str(exc.strerror or exc)))
        return 1
    await server.start()
    admin_port = site.port
    print(f"xds listening on {xds_addr.show(xds_port)}", flush=True)
    print(f"admin listening on {admin_addr.show(admin_port)}", flush=True)

    stop = asyncio.Event()
    force = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, force.set)

    async def shutdown() -> None:
        log.info("shutting down")
        await server.stop(grace=GRACE_SECONDS)
        await runner.cleanup()

    whole = replica.whole if replica is not None else None
    first = _in_thread(lambda: _first_render(produce, config, whole))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([first, stopping], return_when=asyncio.FIRST_COMPLETED)
    if not first.done():
        await shutdown()
        return 0
    try:
        lines, snap, seconds = first.result()
    except FatalInputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        await shutdown()
        return 1
    except InputError as exc:
        for line in exc.report.lines(exc.strict):
            print(line, file=sys.stderr)
        print(summary(exc.report.error_count(exc.strict)), file=sys.stderr)
        await shutdown()
        return 1
    _log_report(lines)
    served.reloaded(True, [line for line in lines if not line.startswith("info: ")])
    if replica is not None:
        _parts_served(snap, metrics, None)
    _publish(cache, metrics, snap, seconds)
    log.info("loaded: %d proxies, %d clusters in %.2f s; ready", len(snap.names), snap.cluster_count, seconds)

    # Reloads and materializing batches take turns: each builds on the snapshot the other published.
    lock = asyncio.Lock()
    builder = None
    if connected is not None:
        def from_store(snap: snapshots.Snapshot, keys: set[tuple[str, str]]) -> snapshots.Snapshot:
            # Parts read for the connected proxies: the replica reads the new ones' parts (what the store's
            # writer rendered), and only those.
            return _render(produce, snap, config.endpoints, config.strict, keys, whole)[1]

        builder = asyncio.ensure_future(materialize.run(
            connected, cache, lock, config.endpoints, _in_thread, lambda snap: _materialized_set(cache, metrics, snap),
            from_store))

    async def reload() -> None:
        async with lock:
            await _reload(produce, config, cache, metrics, served, connected, whole)

    if replica is not None:
        watcher = asyncio.ensure_future(_watch_store(replica, reload, force, metrics, served))
    else:
        assert seen is not None
        log.info("watching the inputs (%s)", seen.mode)
        watcher = asyncio.ensure_future(seen.run(reload, stop, force))
    await stopping
    for task in (watcher, builder):
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    if connected is not None:
        connected.close()
    await shutdown()
    return 0


def _listen_failed(config: ServeConfig, listener: str, exc: ListenError) -> None:
    """The one line of a listener that cannot bind: ``error: cannot listen on ADDR: REASON`` as every start-up
    failure prints it, or under ``--log-format json`` one ERROR object with ``event=listen_failed``,
    ``listener`` (xds|admin), ``address`` and ``reason``."""
    if config.log_format == "json":
        log.error(str(exc), extra={"fields": {"event": "listen_failed", "listener": listener,
                                              "address": exc.address.show(), "reason": exc.reason}})
    else:
        print(f"error: {exc}", file=sys.stderr)


def _publish(cache: SnapshotCache, metrics: Metrics, snap: snapshots.Snapshot, seconds: float) -> None:
    cache.set(snap)
    metrics.snapshot_served(len(snap.names), snap.cluster_count, seconds)
    metrics.materialized.set(len(snap.proxies))


def _materialized_set(cache: SnapshotCache, metrics: Metrics, snap: snapshots.Snapshot) -> None:
    """A batch of proxies was materialized or dropped (the inputs did not change)."""
    cache.set(snap)
    metrics.materialized.set(len(snap.proxies))


async def _reload(produce: Produce, config: ServeConfig, cache: SnapshotCache, metrics: Metrics,
                  served: ServeLog, connected: Connected | None = None,
                  whole: Callable[[], Any] | None = None) -> None:
    """Re-render; push a valid result, keep the last good snapshot on invalid inputs (06 §7). The source's
    caches and the current snapshot let the reload redo only what the change touches. ``served`` records the
    outcome for the operator page. The collector stays off until the new snapshot is published (the previous one
    released), then the new mesh is frozen out of its reach (:func:`kumahc.gcpause.reloading`)."""
    with gcpause.reloading():
        await _reload_now(produce, config, cache, metrics, served, connected, whole)


async def _reload_now(produce: Produce, config: ServeConfig, cache: SnapshotCache, metrics: Metrics,
                      served: ServeLog, connected: Connected | None, whole: Callable[[], Any] | None) -> None:
    try:
        keys = connected.keys() if connected is not None else None  # read on the loop: streams change it
        lines, snap, seconds = await _in_thread(
            lambda: _render(produce, cache.snapshot, config.endpoints, config.strict, keys, whole))
    except InputError as exc:
        _reload_failed(metrics)
        errors = [d.text(exc.strict) for d in sorted(exc.report.items, key=lambda d: d.sort_key())
                  if d.effective(exc.strict) == Severity.ERROR]
        for line in errors:
            log.error(line)
        served.reloaded(False, errors)
        return
    except FatalInputError as exc:
        _reload_failed(metrics)
        log.error("error: %s", exc)
        served.reloaded(False, [f"error: {exc}"])
        return
    except Exception as exc:  # noqa: BLE001 - a reload must never stop the server
        _reload_failed(metrics)
        log.error("error: internal: %s: %s", type(exc).__name__, exc)
        served.reloaded(False, [f"error: internal: {type(exc).__name__}: {exc}"])
        return
    reported = [line for line in lines if not line.startswith("info: ")]
    _log_report(reported)
    served.reloaded(True, reported)
    if config.store is not None:
        _parts_served(snap, metrics, cache.snapshot)
    _publish(cache, metrics, snap, seconds)
    metrics.reloads.labels("success").inc()
    log.info("reloaded: %d proxies, %d clusters", len(snap.names), snap.cluster_count)


def _reload_failed(metrics: Metrics) -> None:
    metrics.reloads.labels("failure").inc()
    metrics.stale.set(1)
    log.error("reload failed; keeping the last good snapshot")


async def _watch_store(replica: Replica, reload: Callable[[], Awaitable[None]], force: asyncio.Event,
                       metrics: Metrics, served: ServeLog) -> None:
    """Follow the store (:func:`kumahc.sources.store.listen.follow`): reload as soon as a commit is notified;
    while the store is away keep serving, with ``kumahc_store_connected`` 0 and the outage logged once."""
    from kumahc.sources.store.listen import follow

    def status(connected: bool, message: str) -> None:
        metrics.store_connected.set(1 if connected else 0)
        served.store(connected, message)
        (log.info if connected else log.warning)(message)

    await follow(replica, reload, status, force)

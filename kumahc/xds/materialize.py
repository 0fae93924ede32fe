"""``serve --render connected``: snapshots that hold the clusters of the connected proxies only.

The pipeline still loads and validates the whole mesh (errors are mesh-wide, as with ``--render all``); what a
lazy run leaves out is building each proxy's clusters (:class:`kumahc.pipeline.LazyClusters`). A proxy is built
the first time a stream for it asks, kept current on every reload while it has a stream (and for the grace period
after its last one closed, :mod:`kumahc.xds.connected`), then dropped. A proxy's clusters, and so its versions and
response bytes, are the same whichever proxies are materialized beside it: the versions are content hashes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

from kumahc import gcpause
from kumahc.diagnostics import Report, Severity
from kumahc.pipeline import LazyClusters, Result
from kumahc.xds import snapshot as snapshots
from kumahc.xds.cache import SnapshotCache
from kumahc.xds.connected import Connected, Key

log = logging.getLogger("kumahc.serve")


def snapshot_of(result: Result, previous: snapshots.Snapshot | None, endpoints: str, keys: Iterable[Key]
                ) -> tuple[snapshots.Snapshot, list[str]]:
    """The snapshot of a lazy ``result`` with ``keys`` materialized (keys naming no proxy are ignored), and the
    precedence warning lines of the proxies newly built (as ``render`` reports them). Proxies whose clusters
    ``previous`` already holds (the same class results) are taken from it without packing."""
    assert isinstance(result.clusters, LazyClusters)
    with gcpause.paused():  # as a full render: collections over a large heap would cost more than the work
        clusters, warned = result.clusters.materialize(keys)
    report = Report()
    for (mesh, name), warnings in warned:
        for cluster, message in warnings:
            report.add(Severity.WARNING, message, ("proxy", mesh, name, cluster))
    return snapshots.build(replace(result, clusters=clusters), previous, endpoints), report.lines()


async def run(connected: Connected, cache: SnapshotCache, lock: asyncio.Lock, endpoints: str,
              in_thread: Callable[[Callable[[], Any]], asyncio.Future],
              published: Callable[[snapshots.Snapshot], None],
              from_store: Callable[[snapshots.Snapshot, set[Key]], snapshots.Snapshot] | None = None) -> None:
    """Until cancelled: whenever streams wait for proxies or grace periods end, publish the current snapshot with
    those proxies added and removed (one batch per wake-up; a reload holding ``lock`` goes first, and itself
    materializes every connected proxy). A snapshot made from stored parts read for some proxies only is
    extended by ``from_store`` (it reads the parts of the proxies added)."""
    while True:
        await connected.wake.wait()
        async with lock:
            wanted, gone = connected.take()
            snap = cache.snapshot
            if snap is None or not snap.lazy or not (isinstance(snap.result, Result) or
                                                     (snap.from_parts and from_store is not None)):
                continue
            have = set(snap.proxies)
            keys = (have - gone) | {k for k in wanted if k in snap.names}
            if keys == have:
                continue
            try:
                if snap.from_parts:
                    assert from_store is not None
                    new, lines = await in_thread(functools.partial(from_store, snap, keys)), []
                else:
                    new, lines = await in_thread(functools.partial(snapshot_of, snap.result, snap, endpoints, keys))
            except Exception as exc:  # noqa: BLE001 - a failed batch must never stop serving
                log.error("error: internal: materializing %d proxies: %s: %s", len(keys - have),
                          type(exc).__name__, exc)
                continue
            for line in lines:
                log.warning(line.removeprefix("warning: "))
            published(new)

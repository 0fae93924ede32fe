"""``serve``'s loads and reloads freeze the new mesh out of the cyclic collector's reach
(:func:`kumahc.gcpause.reloading`), and memory still does not grow with reloads: the cycles of released
generations are collected once the heap grew by a quarter. Real pipeline runs of a generated mesh, counts not
time."""

from __future__ import annotations

import asyncio
import gc
import sys
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.generator import Manifest, apply_edit, generate
from kumahc import gcpause
from kumahc.pipeline import Options, RunCache, run
from kumahc.xds import app
from kumahc.xds import snapshot as snapshots
from kumahc.xds.address import Address
from kumahc.xds.cache import SnapshotCache
from kumahc.xds.metrics import Metrics
from kumahc.xds.reloads import ServeLog

RELOADS = 40
SHARE = 20  # a generation's ballast: lists of one int, two blocks each, so a tenth of the heap's blocks


@pytest.fixture()
def mesh(tmp_path: Path) -> tuple[Path, Manifest]:
    root = tmp_path / "mesh"
    generate(root, "small", seed=5)
    return root, Manifest.read(root)


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    """Leave the collector as the other tests expect it: nothing frozen, enabled."""
    assert gc.isenabled()
    yield
    gc.unfreeze()
    gc.enable()


def tracked(obj: object) -> bool:
    """Whether ``obj`` is in a generation the collector walks (frozen objects are in none of them)."""
    return any(o is obj for o in gc.get_objects())


class Generation:
    """Stands for what a reload leaves in a reference cycle: it holds its snapshot, itself, and as many small
    objects as a large mesh's generation is to the heap (about a tenth of this process's blocks, however many the
    tests run before this one left: the collections counted follow the ratio, not the heap's size)."""

    def __init__(self, snap: snapshots.Snapshot, ballast: int) -> None:
        self.snap = snap
        self.me = self
        self.ballast = [[i] for i in range(ballast)]


def test_a_reload_leaves_its_mesh_frozen_and_the_collector_as_it_was(mesh: tuple[Path, Manifest]) -> None:
    root, _ = mesh
    heap = gcpause.LongLived()
    with heap.reloading():
        assert not gc.isenabled()
        snap = snapshots.build(run([str(root)], cache=RunCache()))
    assert gc.isenabled()
    assert gc.get_count()[0] < 10  # nothing the reload allocated is left for a young collection to walk
    assert not tracked(snap) and not tracked(snap.result)
    assert gc.get_freeze_count() > 0
    assert heap.baseline is not None and heap.collections == 0
    gc.disable()
    with heap.reloading():
        pass
    assert not gc.isenabled()  # restored as it was


def test_cycles_of_released_generations_are_collected(mesh: tuple[Path, Manifest]) -> None:
    """Every reload's previous generation stays alive in a cycle once released: frozen, it would never be freed;
    the full collection after a quarter's growth frees it, and the live heap after each stays the same."""
    root, manifest = mesh
    heap = gcpause.LongLived()
    cache = RunCache()
    alive: list[weakref.ref[Generation]] = []
    current: Generation | None = None
    baselines = []
    ballast = sys.getallocatedblocks() // SHARE
    for i in range(RELOADS):
        apply_edit(root, manifest.edit_mesh, forward=i % 2 == 0)
        with heap.reloading():
            current = Generation(snapshots.build(run([str(root)], cache=cache),
                                                 current.snap if current is not None else None), ballast)
            alive.append(weakref.ref(current))
        assert sys.getallocatedblocks() <= heap.baseline * (1 + gcpause.GROWTH)  # type: ignore[operator]
        baselines.append(heap.baseline)
    survivors = sum(1 for ref in alive if ref() is not None)
    assert heap.collections >= RELOADS // 4
    assert survivors <= 4  # frozen and never collected, all 40 would be
    assert max(baselines[-10:]) <= 1.1 * max(baselines[:10])  # type: ignore[operator]


def test_serve_reloads_freeze_and_stay_bounded(mesh: tuple[Path, Manifest]) -> None:
    """``serve``'s own reload (``kumahc.xds.app._reload``, the files source as ``serve PATH`` makes it), many times:
    the published snapshot is frozen, the frozen count and the allocated blocks stay bounded."""
    root, manifest = mesh
    config = app.ServeConfig(paths=(str(root),), xds=Address("127.0.0.1", 0), admin=Address("127.0.0.1", 0),
                             render="all")
    produce = app.file_source([str(root)], Options())
    cache, metrics, served = SnapshotCache(), Metrics(), ServeLog()
    frozen, blocks = [], []

    async def reloads() -> None:
        for i in range(RELOADS):
            if i:
                apply_edit(root, manifest.edit_mesh, forward=i % 2 == 1)
            await app._reload(produce, config, cache, metrics, served)
            assert served.last is not None and served.last.ok
            assert not tracked(cache.snapshot)
            frozen.append(gc.get_freeze_count())
            blocks.append(sys.getallocatedblocks())

    asyncio.run(reloads())
    assert metrics.reloads.labels("success")._value.get() == RELOADS
    assert max(frozen[-10:]) <= (1 + gcpause.GROWTH) * max(frozen[:10]) + 1000
    assert max(blocks[-10:]) <= (1 + gcpause.GROWTH) * max(blocks[:10])

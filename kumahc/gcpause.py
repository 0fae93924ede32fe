"""Keep Python's cyclic garbage collector off the long-lived mesh.

A large mesh is millions of long-lived objects with few reference cycles; every full collection walks all of
them, which measured 40% of a 10,000-proxy render. Reference counting still frees everything acyclic at once;
the collector runs again (and finds the few cycles) when the pass ends.

A process that reloads (``serve``) goes further with :func:`reloading`: at the end of each reload, once the
previous result is released, what is alive is moved out of the collector's reach (``gc.freeze()``), so that the
collections after it walk only what later work allocates — not the new mesh the reload just built, which used to
cost a young collection over millions of objects (issue 21, ``bench/README.md``). Frozen objects are still freed by
reference counting; only frozen *cycles* would stay, so the heap is collected in full again once it has grown by
a quarter since its last full collection (CPython's own rule for full collections): memory stays bounded however
many reloads run.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass

GROWTH = 0.25  # a full collection once the allocated blocks grew by this share (CPython: long-lived pending ÷ total)


@contextmanager
def paused() -> Iterator[None]:
    """Disable the cyclic collector for the ``with`` block, restoring its previous state after."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class LongLived:
    """The frozen heap of a reloading process. ``baseline``: ``sys.getallocatedblocks()`` after the last full
    collection (or the first settle); ``collections``: full collections :meth:`settle` ran."""

    growth: float = GROWTH
    baseline: int | None = None
    collections: int = 0

    def settle(self) -> None:
        """Freeze everything alive (call it once the previous result is released). When the allocated blocks grew
        by more than ``growth`` since the baseline, first unfreeze and collect in full, so that the cycles of
        released generations are freed; the baseline is then what is left."""
        blocks = sys.getallocatedblocks()
        if self.baseline is not None and blocks > self.baseline * (1 + self.growth):
            gc.unfreeze()
            gc.collect()
            self.collections += 1
            self.baseline = sys.getallocatedblocks()
        elif self.baseline is None:
            self.baseline = blocks
        gc.freeze()

    @contextmanager
    def reloading(self) -> Iterator[None]:
        """The collector stays off for the whole ``with`` block (a load or reload, including the swap that releases
        the previous result), then :meth:`settle`, then back on as it was."""
        enabled = gc.isenabled()
        gc.disable()
        try:
            yield
        finally:
            self.settle()
            if enabled:
                gc.enable()


HEAP = LongLived()  # the process's: serve's loads and reloads (kumahc.xds.app) and the bench that mirrors them


def reloading() -> AbstractContextManager[None]:
    """:meth:`LongLived.reloading` of the process's :data:`HEAP`."""
    return HEAP.reloading()

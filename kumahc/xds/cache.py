"""The snapshot cache: the current snapshot and who to tell when it changes (apart from the protocol servers)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kumahc.xds.snapshot import Snapshot

Listener = Callable[[Snapshot], None]


class SnapshotCache:
    """Holds the one current :class:`Snapshot`, or None until the first one is built (the listeners bind before
    the first render). ``set`` calls every subscribed listener (streams) in the event loop's thread; each stream
    decides itself whether its proxy's version changed. Streams subscribed before the first snapshot get it as
    their first push."""

    def __init__(self, snapshot: Snapshot | None = None):
        self.snapshot = snapshot
        self._listeners: dict[Listener, None] = {}  # insertion-ordered set: O(1) removal with many streams
        self._loaded = asyncio.Event()
        if snapshot is not None:
            self._loaded.set()
        self._next: asyncio.Future[Snapshot] | None = None

    @property
    def ready(self) -> bool:
        return self.snapshot is not None

    async def loaded(self) -> Snapshot:
        """The current snapshot, once there is one."""
        await self._loaded.wait()
        assert self.snapshot is not None
        return self.snapshot

    async def changed(self) -> Snapshot:
        """The next snapshot set."""
        if self._next is None or self._next.done():
            self._next = asyncio.get_running_loop().create_future()
        return await asyncio.shield(self._next)

    def subscribe(self, listener: Listener) -> None:
        self._listeners[listener] = None

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.pop(listener, None)

    def set(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        self._loaded.set()
        if self._next is not None and not self._next.done():
            self._next.set_result(snapshot)
        for listener in list(self._listeners):
            listener(snapshot)

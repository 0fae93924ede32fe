"""The snapshot cache: the current snapshot and who to tell when it changes (apart from the protocol servers)."""

from __future__ import annotations

from collections.abc import Callable

from kumahc.xds.snapshot import Snapshot

Listener = Callable[[Snapshot], None]


class SnapshotCache:
    """Holds the one current :class:`Snapshot`. ``set`` calls every subscribed listener (streams) in the event
    loop's thread; each stream decides itself whether its proxy's version changed."""

    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot
        self._listeners: dict[Listener, None] = {}  # insertion-ordered set: O(1) removal with many streams

    def subscribe(self, listener: Listener) -> None:
        self._listeners[listener] = None

    def unsubscribe(self, listener: Listener) -> None:
        self._listeners.pop(listener, None)

    def set(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        for listener in list(self._listeners):
            listener(snapshot)

"""``serve --render connected``: which proxies have an open stream, so that only theirs are built and kept.

A stream resolving to a proxy attaches to it; when the last stream of a proxy closes, the proxy stays for a grace
period (a restarting Envoy reconnects within it and finds its clusters ready), then it is dropped. A stream whose
proxy is not materialized in the current snapshot asks for it (:meth:`Connected.want`); the materializer
(:func:`kumahc.xds.materialize.run`) adds the asked-for proxies and removes the dropped ones in batches.
Event-loop side only: no locks.
"""

from __future__ import annotations

import asyncio

Key = tuple[str, str]  # (mesh, proxy name)

GRACE_SECONDS = 60.0  # an Envoy restart or a load balancer moving a connection reconnects well within it


class Connected:
    """Open streams per proxy, the proxies in their grace period, and what the materializer has to do:
    ``wanted`` (a stream waits for them) and ``gone`` (grace over). ``wake`` is set when there is work."""

    def __init__(self, grace: float = GRACE_SECONDS):
        self.grace = grace
        self.streams: dict[Key, int] = {}
        self.leaving: dict[Key, asyncio.TimerHandle] = {}
        self.wanted: set[Key] = set()
        self.gone: set[Key] = set()
        self.wake = asyncio.Event()

    def attach(self, key: Key) -> None:
        """A stream now serves ``key``."""
        self.streams[key] = self.streams.get(key, 0) + 1
        timer = self.leaving.pop(key, None)
        if timer is not None:
            timer.cancel()
        self.gone.discard(key)

    def detach(self, key: Key) -> None:
        """A stream no longer serves ``key`` (it closed, or its node now resolves elsewhere)."""
        left = self.streams.get(key, 0) - 1
        if left > 0:
            self.streams[key] = left
            return
        self.streams.pop(key, None)
        if key not in self.leaving:
            self.leaving[key] = asyncio.get_running_loop().call_later(self.grace, self._expire, key)

    def want(self, key: Key) -> None:
        """A stream waits for ``key``'s clusters."""
        if key not in self.wanted:
            self.wanted.add(key)
            self.wake.set()

    def keys(self) -> set[Key]:
        """Every proxy to keep materialized: those with a stream and those in their grace period."""
        return set(self.streams) | set(self.leaving) | self.wanted

    def take(self) -> tuple[set[Key], set[Key]]:
        """What to do now: (proxies to materialize, proxies to drop); both are cleared."""
        wanted, gone = self.wanted, self.gone
        self.wanted, self.gone = set(), set()
        self.wake.clear()
        return wanted, gone

    def close(self) -> None:
        """Cancel the grace timers (serve is stopping)."""
        for timer in self.leaving.values():
            timer.cancel()
        self.leaving.clear()

    def _expire(self, key: Key) -> None:
        self.leaving.pop(key, None)
        if key not in self.streams:
            self.gone.add(key)
            self.wake.set()

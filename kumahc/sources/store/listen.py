"""Following the store: LISTEN on its channel, catch up on every notification, survive the store going away.

Every commit notifies channel ``kumahc_store`` from the commit itself, so a replica learns of a change as soon as
it is committed: no polling delay. Notifications that arrive while a change is being read or rendered wait in the
connection and are all answered by one more catch-up (a burst of commits costs at most two renders). When the
connection fails the replica keeps serving what it has, reconnects with a doubling pause (:data:`BACKOFF_MIN_S`
to :data:`BACKOFF_MAX_S`) and, once listening again, reads everything committed meanwhile.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import psycopg

from kumahc.sources.store import connection
from kumahc.sources.store.errors import StoreError
from kumahc.sources.store.replica import CHANNEL, Replica

BACKOFF_MIN_S = 0.1
BACKOFF_MAX_S = 5.0
HEARTBEAT_S = 5.0  # an idle connection is checked this often (a vanished host sends no error)
FORCE_CHECK_S = 0.5  # how often a wait for notifications looks at the forced-reload flag (SIGHUP)

Changed = Callable[[], Awaitable[None]]
Status = Callable[[bool, str], None]


async def follow(replica: Replica, changed: Changed, status: Status, force: asyncio.Event) -> None:
    """Run until cancelled: keep a LISTEN connection to ``replica``'s store; after connecting and after every
    notification call :meth:`Replica.catch_up` and, when the revision moved, ``changed()`` (which re-renders and
    publishes). ``status(True, message)`` when listening, ``status(False, message)`` when the connection is lost or
    cannot be made (once per outage). ``force`` set (SIGHUP): re-read every row and re-render."""
    delay = BACKOFF_MIN_S
    up = True  # the first read just succeeded: the first failure is an outage to report
    where = replica.where
    while True:
        try:
            conn = await connection.connect_async(replica.url)
        except StoreError as exc:
            if up:
                status(False, f"{exc}; serving the last good snapshot (revision {replica.revision}), reconnecting")
                up = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, BACKOFF_MAX_S)
            continue
        try:
            async with conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                before = replica.revision
                moved = await replica.catch_up(conn)
                status(True, f"store {where}: listening on {CHANNEL} at revision {replica.revision}"
                       + (f" (was {before})" if moved else ""))
                up, delay = True, BACKOFF_MIN_S
                if moved:
                    await changed()
                await _listen(conn, replica, changed, force)
        except (psycopg.Error, TimeoutError) as exc:
            status(False, f"store {where}: connection lost: {connection.first_line(exc)}; serving the last good "
                          f"snapshot (revision {replica.revision}), reconnecting")
            up = False
        except Exception as exc:  # noqa: BLE001 - following the store must outlive any one failure
            status(False, f"store {where}: internal: {type(exc).__name__}: {exc}; serving the last good snapshot "
                          f"(revision {replica.revision}), reconnecting")
            up = False
        await asyncio.sleep(delay)
        delay = min(delay * 2, BACKOFF_MAX_S)


async def _listen(conn: psycopg.AsyncConnection, replica: Replica, changed: Changed, force: asyncio.Event) -> None:
    idle = 0.0
    while True:
        notified = False
        async for _ in conn.notifies(timeout=FORCE_CHECK_S, stop_after=1):
            notified = True
        if force.is_set():
            force.clear()
            await replica.catch_up(conn, everything=True)
            await changed()
            idle = 0.0
        elif notified:
            if await replica.catch_up(conn):
                await changed()
            idle = 0.0
        else:
            idle += FORCE_CHECK_S
            if idle >= HEARTBEAT_S:
                await asyncio.wait_for(conn.execute("SELECT 1"), HEARTBEAT_S)
                idle = 0.0

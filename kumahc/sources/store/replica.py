"""The store as ``serve``'s source: the rows of the revision a replica serves, kept in memory and brought up to
date by reading only what was committed since (:meth:`Replica.catch_up`), rendered without any YAML work.

Replicas agree: the rows are always ordered by row id (the store's creation order, the same in every replica and
the same as a full read), resources carry only what the rows hold (the store's creation times, no local clock), and
the pipeline result does not depend on the caches that made it. So every replica at one revision renders
byte-identical clusters, and therefore the same content-hash versions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import psycopg
from psycopg.rows import class_row

from kumahc.diagnostics import FatalInputError, Report
from kumahc.envoy.cluster import STATIC
from kumahc.pipeline import Options, Result, RunCache, run
from kumahc.resources.loader import Loaded
from kumahc.sources.store import connection, records, rendered, source
from kumahc.sources.store.errors import StoreError
from kumahc.sources.store.records import Row
from kumahc.sources.store.state import ResourceCache

CHANNEL = "kumahc_store"  # every commit notifies it with the new revision (migration 0002)


class Replica:
    """What one ``serve --store`` process knows of the store: ``revision`` (None before the first read) and its
    rows in id order. :meth:`produce` is serve's ``Produce``: the first call reads the whole store (connects,
    checks the schema); every later call renders the rows in memory, so a store that went away never fails a
    render. :meth:`catch_up` (the event loop's LISTEN connection) is the only other writer of the rows; serve
    never runs it while a render is in flight."""

    def __init__(self, url: str, options: Options, endpoints: str = STATIC, lazy: bool = False):
        """``lazy`` (``serve --render connected``): rendering the rows builds no proxy's clusters until asked."""
        self.url = url
        self.options = options
        self.lazy = lazy
        self.revision: int | None = None
        # The writer's rendered parts are what this replica would render only with default rendering options.
        self.serves_parts = options.protocol is None and not options.strict and endpoints == STATIC
        # --render connected: read the parts of the connected proxies only (rendered.read_connected).
        self.partial = lazy and self.serves_parts
        self.parts: rendered.Stored | None = None  # the rendered parts of ``revision``, when usable
        self._rows: tuple[Row, ...] = ()
        self._resources = ResourceCache()
        self._runs = RunCache()

    @property
    def where(self) -> str:
        """The store's URL as messages and ``/status`` show it (:func:`connection.redact`)."""
        return connection.redact(self.url)

    @property
    def rows(self) -> tuple[Row, ...]:
        return self._rows

    def produce(self, keys: Iterable[tuple[str, str]] | None = None) -> Result | rendered.Stored:
        """The rendered parts of :attr:`revision` when the store holds usable ones (the writer rendered them:
        nothing to render here), else the rows of :attr:`revision` rendered. Raises :class:`FatalInputError` (one
        line) when the first read fails, :class:`~kumahc.diagnostics.InputError` when the stored state is invalid
        under serve's options (``--strict``, ``--protocol``). ``keys`` (``--render connected``): the proxies to
        materialize; the parts are read for them only (and then only what changed since the last read)."""
        if self.revision is None:
            try:
                snap = source.snapshot(self.url, parts=self.serves_parts, keys=set(keys or ()) if self.partial
                                       else None)
            except StoreError as exc:
                raise FatalInputError(str(exc)) from None
            self._rows, self.revision, self.parts = snap.rows, snap.revision, snap.parts
        elif self.partial:
            self.parts = self._read_connected(set(keys or ()))
        if self.parts is not None:
            return self.parts
        resources = tuple(self._resources.resources(self._rows))

        def load(_report: Report) -> Loaded:
            return Loaded((), resources, len(resources))

        return run(load, self.options, self._runs, self.lazy)

    def _read_connected(self, keys: set[tuple[str, str]]) -> rendered.Stored | None:
        """The parts of :attr:`revision` for ``keys``, from those held; None when the store is not at that revision
        any more (the notification is on its way: the rows are rendered meanwhile) or cannot be read now."""
        return self._at_revision(
            lambda conn: rendered.read_connected(conn, self.revision, rendered.RENDERER, self.parts, keys))

    def whole(self) -> rendered.Stored | None:
        """Every proxy's parts at :attr:`revision` (``/config_dump`` of a replica reading connected proxies only),
        or None when the store moved on or cannot be read."""
        return self._at_revision(lambda conn: rendered.read(conn, self.revision, rendered.RENDERER, None))

    def _at_revision(self, read: Callable[[psycopg.Connection], rendered.Stored | None]) -> rendered.Stored | None:
        """``read(conn)`` in one read-only snapshot of the store, if the store is still at :attr:`revision`; None
        when it moved on or cannot be read."""
        try:
            with connection.session(self.url) as conn, conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                (revision,) = conn.execute("SELECT revision FROM kumahc_state WHERE id = 1").fetchone()
                return read(conn) if revision == self.revision else None
        except (StoreError, psycopg.Error):
            return None

    async def catch_up(self, conn: psycopg.AsyncConnection, everything: bool = False) -> bool:
        """Read what was committed since :attr:`revision` on ``conn`` (one REPEATABLE READ snapshot): rows whose
        revision is newer replace or join the kept ones, rows whose id is gone are dropped. ``everything`` (or a
        store whose revision went back, i.e. was recreated) reads every row. Returns True when the revision moved.
        Raises :class:`psycopg.Error` when the store fails (the rows are then left as they were)."""
        # One snapshot, in as few round trips as possible (the latency of a commit): BEGIN … READ ONLY comes from
        # the connection's settings, the revision and the row count come in one statement.
        await conn.set_isolation_level(psycopg.IsolationLevel.REPEATABLE_READ)
        await conn.set_read_only(True)
        async with conn.transaction():
            cur = await conn.execute("SELECT revision, (SELECT count(*) FROM kumahc_resources) FROM kumahc_state "
                                     "WHERE id = 1")
            revision, count = await cur.fetchone()
            if revision == self.revision and not everything:
                return False
            since = 0 if everything or self.revision is None or revision < self.revision else self.revision
            async with conn.cursor(row_factory=class_row(Row)) as rc:
                await rc.execute(f"SELECT {records.COLUMNS} FROM kumahc_resources WHERE revision > %s ORDER BY id",
                                 (since,))
                changed = await rc.fetchall()
            kept = {} if since == 0 else {row.id: row for row in self._rows}
            kept.update((row.id, row) for row in changed)
            if count != len(kept):  # some were deleted: keep the ids still there
                cur = await conn.execute("SELECT id FROM kumahc_resources")
                present = {i for (i,) in await cur.fetchall()}
                kept = {i: row for i, row in kept.items() if i in present}
            parts = self.parts if self.partial else None  # partial: produce() reads what it needs
            if self.serves_parts and not self.partial:
                parts = await rendered.read_async(conn, revision, rendered.RENDERER, None if everything or since == 0
                                                  else self.parts)
        moved = revision != self.revision
        self._set(kept.values(), revision)
        self.parts = parts
        return moved or everything

    def _set(self, rows: Iterable[Row], revision: int) -> None:
        self._rows = tuple(sorted(rows, key=lambda r: r.id))
        self.revision = revision

"""Reading a consistent snapshot of the store, and writing a change only if nothing was committed since that
snapshot (the store revision is the row version every writer checks and increments).

Why a store-wide revision and not one per row: ``apply`` validates the whole resulting state, so any change
committed by someone else since the snapshot (even to another resource) may make that validation stale. Writers
update ``kumahc_state`` with ``WHERE revision = <read revision>``; PostgreSQL's row lock makes the second of two
concurrent writers wait, then find the revision moved and write nothing: a conflict, never a lost update.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.rows import class_row

from kumahc.diagnostics import Report
from kumahc.resources.loader import Loaded
from kumahc.resources.model import Resource
from kumahc.sources.store import records, rendered
from kumahc.sources.store.records import Key, Row


@dataclass(frozen=True, slots=True)
class State:
    """The store at one revision: its rows in store order (creation order) and the database's clock then."""

    revision: int
    rows: tuple[Row, ...]
    now: datetime
    parts: rendered.Stored | None = None
    cache: ResourceCache | None = None  # the reader's: :meth:`resources` gives its objects by default
    by_key: dict[Key, Row] | None = None  # the rows by identity, when the reader keeps them (:meth:`keyed`)

    def keyed(self) -> dict[Key, Row]:
        """The rows by identity (:attr:`Row.key`)."""
        return self.by_key if self.by_key is not None else {row.key: row for row in self.rows}

    def resources(self, cache: ResourceCache | None = None, rows: Sequence[Row] | None = None) -> list[Resource]:
        """The rows (or ``rows``, some of them) as resources, in store order; with ``cache`` (or the state's own),
        a row unchanged since the cache's last use gives the same Resource object (so
        :class:`kumahc.pipeline.RunCache` reuses its typed value). Raises :class:`InputError` for a malformed
        row (:func:`records.resource`)."""
        cache = cache or self.cache
        rows = self.rows if rows is None else rows
        if cache is None:
            return [records.resource(row) for row in rows]
        return cache.resources(rows)

    def loader(self, cache: ResourceCache | None = None) -> Callable[[Report], Loaded]:
        """A :data:`kumahc.pipeline.Loader` giving this state's resources (no parsing; each row passes its kind's
        compiled structural check). The rows become resources when it is called, inside the pipeline: a malformed
        row's :class:`InputError` is then reported as invalid input is."""

        def load(_report: Report) -> Loaded:
            resources = tuple(self.resources(cache))
            return Loaded((), resources, len(resources))

        return load


class ResourceCache:
    """Resources of the rows seen last time, by (id, revision): a row rewritten gets a new revision, a row deleted
    and created again a new id, so an equal key means an identical row. Keeps only the last call's rows."""

    def __init__(self) -> None:
        self._by_row: dict[tuple[int, int], Resource] = {}

    def resources(self, rows: Sequence[Row]) -> list[Resource]:
        kept: dict[tuple[int, int], Resource] = {}
        out = []
        for row in rows:
            key = (row.id, row.revision)
            res = self._by_row.get(key)
            if res is None:
                res = records.resource(row)
            kept[key] = res
            out.append(res)
        self._by_row = kept
        return out


def read(conn: psycopg.Connection, kind: str | None = None, parts: bool = False,
         keys: set[tuple[str, str]] | None = None) -> State:
    """The rows (all, or those of ``kind``) and revision of one snapshot (REPEATABLE READ, read only); with
    ``parts``, also the rendered parts of that revision when the store holds usable ones (``State.parts``): with
    ``keys``, those of these proxies only (``serve --render connected``)."""
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        revision, now = conn.execute("SELECT revision, now() FROM kumahc_state WHERE id = 1").fetchone()
        with conn.cursor(row_factory=class_row(Row)) as cur:
            if kind is None:
                cur.execute(f"SELECT {records.COLUMNS} FROM kumahc_resources ORDER BY id")
            else:
                cur.execute(f"SELECT {records.COLUMNS} FROM kumahc_resources WHERE kind = %s ORDER BY id", (kind,))
            rows = tuple(cur.fetchall())
        stored = None
        if parts:
            stored = (rendered.read(conn, revision, rendered.RENDERER, None) if keys is None else
                      rendered.read_connected(conn, revision, rendered.RENDERER, None, keys))
    return State(revision, rows, now, stored)


@dataclass(frozen=True, slots=True)
class Put:
    """A resource to create or replace: its identity, format and body as JSON text."""

    key: Key
    format: str
    body: str


def write(conn: psycopg.Connection, revision: int, puts: Sequence[Put], deletes: Sequence[Key],
          render: rendered.Change | None = None, then: Callable[[psycopg.Connection, int], None] | None = None
          ) -> int | None:
    """Commit ``puts`` and ``deletes`` in one transaction if the store is still at ``revision``; returns the new
    revision, or None (nothing written) when another writer committed first. Created rows get generation 1 and
    creation time = modification time = the transaction's time; replaced rows keep id and creation time, and get
    generation + 1. ``render``: the change to the rendered parts for the resulting state, stored in the same
    transaction (without it, the stored parts no longer match the new revision and replicas render themselves).
    The commit notifies channel ``kumahc_store``. ``then(conn, new revision)`` runs last in the same transaction
    (the writer records its answer there); whatever it raises rolls everything back and propagates."""
    try:
        return _write(conn, revision, puts, deletes, render, then)
    except _Conflict:  # the transaction rolled back: nothing written
        return None


class _Conflict(Exception):
    pass


def _write(conn: psycopg.Connection, revision: int, puts: Sequence[Put], deletes: Sequence[Key],
           render: rendered.Change | None, then: Callable[[psycopg.Connection, int], None] | None) -> int:
    with conn.transaction():
        found = conn.execute("UPDATE kumahc_state SET revision = revision + 1 WHERE id = 1 AND revision = %s "
                             "RETURNING revision", (revision,)).fetchone()
        if found is None:
            raise _Conflict
        new = found[0]
        with conn.cursor() as cur:
            if deletes:
                cur.executemany("DELETE FROM kumahc_resources WHERE kind = %s AND mesh = %s AND namespace = %s "
                                "AND name = %s", list(deletes))
            if puts:
                cur.executemany(
                    "INSERT INTO kumahc_resources (kind, mesh, namespace, name, format, body, created_at, modified_at, "
                    "generation, revision) VALUES (%s, %s, %s, %s, %s, %s::json, now(), now(), 1, %s) "
                    "ON CONFLICT (kind, mesh, namespace, name) DO UPDATE SET format = EXCLUDED.format, "
                    "body = EXCLUDED.body, modified_at = EXCLUDED.modified_at, "
                    "generation = kumahc_resources.generation + 1, revision = EXCLUDED.revision",
                    [(*p.key, p.format, p.body, new) for p in puts])
        if render is not None:
            rendered.write(conn, new, render)
        if then is not None:
            then(conn, new)
    return new


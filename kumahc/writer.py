"""The store's writer (``kumahc store writer``): a long-running process that keeps the stored state in memory,
validated and rendered, and answers the applies queued in ``kumahc_requests`` (migration 0004), so that an apply
costs what its change touches instead of a whole-mesh read, validation and render.

For each request the writer runs exactly :func:`kumahc.apply.apply`'s attempt — the same plan, the same pipeline,
the same messages, the same rendered parts and revision check — on its state, with caches kept across requests
(:class:`kumahc.apply.Warm`: the pipeline's :class:`~kumahc.pipeline.RunCache`, whose dependency index recomputes
only the proxies a changed policy can reach; the last snapshot's packed clusters; the rendered tables' index). It
commits the resources, the parts and its answer in one transaction, so a replica never sees rows without their
parts, and an applier that stopped waiting (it deletes its unanswered request) never gets a change committed
behind its back. One writer per store answers: the one holding the advisory lock :data:`requests.LOCK`, taken
once it has loaded and rendered the store; others stand by and take over when its session ends.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace

import psycopg
from psycopg.rows import class_row

from kumahc import gcpause
from kumahc.apply import ATTEMPTS, NotFound, Warm, applying, deleting, deleting_named, prepare_attempt
from kumahc.diagnostics import InputError, Report
from kumahc.pipeline import Options, run
from kumahc.resources.loader import Loaded
from kumahc.sources.store import connection, records, requests, schema, state
from kumahc.sources.store.errors import StoreError
from kumahc.sources.store.records import Row

log = logging.getLogger("kumahc.writer")
WAIT_S = 0.5  # how long one wait for notifications lasts (stop requests are seen this often)
BACKOFF_S = 1.0  # pause before reconnecting after the store failed
KEEP_ANSWERS_S = 3600  # answered requests no applier collected (it was killed) are deleted after this


class Withdrawn(Exception):
    """The applier took its request back before the writer committed: the commit is rolled back."""


class Writer:
    """The writer of one store (``url``): its rows (by id) at :attr:`revision`, and what it keeps warm."""

    def __init__(self, url: str):
        self.url = url
        self.revision: int | None = None
        self.rows: dict[int, Row] = {}
        self._ordered: tuple[tuple[Row, ...], dict] = ((), {})  # the rows in id order and by key, of :attr:`revision`
        self.cache = state.ResourceCache()
        self.warm = Warm()
        self.answered = 0

    def catch_up(self, conn: psycopg.Connection) -> state.State:
        """The store now, in one REPEATABLE READ snapshot: the rows written since :attr:`revision` replace or join
        the kept ones, rows deleted are dropped (a store whose revision went back is read whole)."""
        with conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            revision, now, count = conn.execute(
                "SELECT revision, now(), (SELECT count(*) FROM kumahc_resources) FROM kumahc_state WHERE id = 1"
            ).fetchone()
            if revision != self.revision:
                since = self.revision if self.revision is not None and revision > self.revision else 0
                rows = dict(self.rows) if since else {}
                with conn.cursor(row_factory=class_row(Row)) as cur:
                    cur.execute(f"SELECT {records.COLUMNS} FROM kumahc_resources WHERE revision > %s", (since,))
                    rows.update((row.id, row) for row in cur)
                if count != len(rows):
                    present = {i for (i,) in conn.execute("SELECT id FROM kumahc_resources")}
                    rows = {i: row for i, row in rows.items() if i in present}
                self.rows, self.revision = rows, revision
                ordered = tuple(rows[i] for i in sorted(rows))
                self._ordered = (ordered, {row.key: row for row in ordered})
        ordered, by_key = self._ordered
        return state.State(revision, ordered, now, cache=self.cache, by_key=by_key)

    def load(self, conn: psycopg.Connection) -> None:
        """Catch up and render the stored state (the caches an apply reuses). An invalid stored state is logged:
        applies are then answered with its errors, as ``kumahc apply`` would print them."""
        started = time.monotonic()
        snap = self.catch_up(conn)
        resources = tuple(snap.resources())
        try:
            result = run(lambda _report: Loaded((), resources, len(resources)),
                         replace(Options(), keep_documents=True), self.warm.runs)
        except InputError as exc:
            log.warning("writer: the stored state at revision %s is invalid (%s)", snap.revision, exc)
            return
        from kumahc.xds import snapshot as snapshots

        self.warm.snapshot = snapshots.build(result, self.warm.snapshot)
        self.warm.held(conn)
        log.info("writer: loaded revision %s (%d resources, %d proxies) in %.2f s", snap.revision, len(resources),
                 len(result.clusters), time.monotonic() - started)

    def answer(self, conn: psycopg.Connection, rid: int, text: str) -> str:
        """Answer request ``rid`` (its ``text``): validate, commit and record the answer (one transaction), or
        record why not. Conflicts with other writers are retried on a fresh catch-up, as ``apply`` retries.
        Returns what happened, for the log: ``committed revision N``, ``nothing to write``, ``invalid``,
        ``withdrawn`` or the store error."""
        request = requests.decode_request(text)
        if request.op == "apply":
            report = Report()
            report.extend(request.reading)
            attempt, diagnostics = applying(Loaded((), request.resources, len(request.resources)), report)
        elif request.op == "delete":
            attempt, diagnostics = deleting(request.kind, request.name, request.mesh, request.namespace), []
        else:
            attempt, diagnostics = deleting_named(request.resources, request.ignore_not_found), []
        for number in range(1, ATTEMPTS + 1):
            snap = self.catch_up(conn)
            try:
                prepared = prepare_attempt(conn, attempt, diagnostics, None, False, snap, warm=self.warm)
            except InputError as exc:
                self._record(conn, rid, requests.Answer(diagnostics=tuple(exc.report.items), invalid=True,
                                                        strict=exc.strict, attempts=number))
                return "invalid"
            except StoreError as exc:  # delete: not found, or several match
                lines = tuple(exc.lines) if isinstance(exc, NotFound) else None
                self._record(conn, rid, requests.Answer(error=str(exc), attempts=number, not_found=lines))
                return str(exc)
            found = requests.Answer(tuple((c.kind, c.name, c.verb) for c in prepared.plan.changes),
                                    tuple(prepared.result.report.items), attempts=number)
            if not prepared.writes:
                self._record(conn, rid, found)
                return "nothing to write"

            def then(c: psycopg.Connection, revision: int, found: requests.Answer = found) -> None:
                if not self._set(c, rid, replace(found, revision=revision)):
                    raise Withdrawn

            try:
                revision = prepared.commit(conn, then)
            except Withdrawn:
                return "withdrawn"
            if revision is not None:
                self.warm.wrote(revision, prepared.render)
                return f"committed revision {revision}"
        gave_up = f"gave up after {ATTEMPTS} attempts: other writers kept changing the store; nothing written"
        self._record(conn, rid, requests.Answer(error=gave_up, attempts=ATTEMPTS))
        return gave_up

    def _record(self, conn: psycopg.Connection, rid: int, found: requests.Answer) -> None:
        with conn.transaction():
            self._set(conn, rid, found)

    def _set(self, conn: psycopg.Connection, rid: int, found: requests.Answer) -> bool:
        done = conn.execute("UPDATE kumahc_requests SET answer = %s WHERE id = %s AND answer IS NULL RETURNING id",
                            (requests.encode_answer(found), rid)).fetchone()
        if done is not None:
            conn.execute("SELECT pg_notify(%s, %s)", (requests.RESULTS, str(rid)))
            self.answered += 1
        return done is not None

    def answer_pending(self, conn: psycopg.Connection) -> None:
        """Answer every request without an answer, oldest first; drop answers no applier collected."""
        pending = conn.execute("SELECT id, request FROM kumahc_requests WHERE answer IS NULL ORDER BY id").fetchall()
        for rid, text in pending:
            started = time.monotonic()
            try:
                # As serve's reloads: no collection walks the held mesh during an answer; it is frozen after.
                with gcpause.reloading():
                    done = self.answer(conn, rid, text)
            except (psycopg.Error, StoreError):
                raise
            except Exception:  # noqa: BLE001 - one request must not stop the writer: its applier does the work
                log.exception("writer: request %s failed; handing it back to its applier", rid)
                conn.execute("DELETE FROM kumahc_requests WHERE id = %s AND answer IS NULL", (rid,))
                continue
            log.info("writer: request %s answered in %.3f s: %s", rid, time.monotonic() - started, done)
        conn.execute("DELETE FROM kumahc_requests WHERE answer IS NOT NULL AND created_at < now() - "
                     "make_interval(secs => %s)", (KEEP_ANSWERS_S,))

    def run(self, stop: threading.Event, ready: threading.Event | None = None) -> None:
        """Until ``stop`` is set: connect, load the store, take the writer's lock (standing by while another
        writer holds it), then answer requests as they are notified. A store failure once the store was loaded is
        logged and the writer reconnects (and loads what changed meanwhile); before, it raises
        :class:`StoreError` (unreachable, wrong credentials, schema too old or new). ``ready`` is set once this
        writer holds the lock."""
        where = connection.redact(self.url)
        while not stop.is_set():
            try:
                with connection.session(self.url) as conn:
                    schema.check(conn, where)
                    conn.execute(f"LISTEN {requests.REQUESTS}")
                    with gcpause.reloading():
                        self.load(conn)
                    waited = False
                    while not conn.execute("SELECT pg_try_advisory_lock(%s)", (requests.LOCK,)).fetchone()[0]:
                        if not waited:
                            log.info("writer: another writer holds the store's lock; standing by")
                            waited = True
                        if _wait(conn, stop):
                            return
                    if waited:
                        with gcpause.reloading():
                            self.load(conn)
                    log.info("writer: answering applies to store %s at revision %s", where, self.revision)
                    if ready is not None:
                        ready.set()
                    while True:
                        self.answer_pending(conn)
                        if _wait(conn, stop):
                            return
            except (psycopg.Error, StoreError) as exc:
                if self.revision is None:  # never loaded: a wrong URL or schema is the operator's to fix now
                    raise exc if isinstance(exc, StoreError) else StoreError(
                        f"store {where}: {connection.first_line(exc)}") from None
                log.error("writer: store %s: %s; reconnecting", where, connection.first_line(exc))
                if ready is not None:
                    ready.clear()
                stop.wait(BACKOFF_S)


def _wait(conn: psycopg.Connection, stop: threading.Event) -> bool:
    """Wait up to :data:`WAIT_S` for a notification; True when ``stop`` is set."""
    for _ in conn.notifies(timeout=WAIT_S, stop_after=1):
        pass
    return stop.is_set()

"""``kumahc apply`` and ``kumahc delete``: change the store only to a state that passes ``validate``.

Each attempt reads one snapshot of the store, builds the state the change would leave (applied resources
replacing the stored ones of the same identity, in place, or added after them in input order; deleted ones
removed), runs the whole pipeline on it — the same rules and messages as ``kumahc validate`` — and commits only if
the store is still at the snapshot's revision (:func:`kumahc.sources.store.state.write`). When another writer
committed first, the attempt is redone on the new snapshot (re-validated), up to :data:`ATTEMPTS` times; then the
conflict is reported. Either every resource of the change is committed, or none.

When a store writer is live (``kumahc store writer``: it holds the store in memory and renders what a change
touches), :func:`apply` hands the change to it instead (:mod:`kumahc.sources.store.requests`): the writer runs the
very same attempt on its state, with its caches, and commits resources, rendered parts and its answer in one
transaction. The guarantees and the output are the same; the cost follows the change.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, NamedTuple

import psycopg

from kumahc.diagnostics import Diagnostic, InputError, Location, Report
from kumahc.resources.loader import Loaded, drop_duplicates
from kumahc.resources.model import Resource
from kumahc.sources.store import records, rendered, requests, state
from kumahc.sources.store.errors import StoreError

if TYPE_CHECKING:  # the pipeline loads when an attempt runs: an apply the store's writer answers never needs it
    from kumahc.pipeline import Options, Progress, Result, RunCache

ATTEMPTS = 50
BACKOFF_S = 0.02  # times the attempt number, jittered: concurrent appliers drift apart instead of colliding again
WAIT_S = 600.0  # how long an apply waits for the writer's answer before taking its request back
POLL_S = 0.5  # how often a waiting apply looks for its answer and for the writer without a notification


@dataclass(frozen=True, slots=True)
class Change:
    """One line of output, kubectl style: ``meshhealthcheck default/web-to-backend configured``."""

    kind: str
    name: str
    verb: str  # created | configured | unchanged | deleted

    def line(self, dry_run: bool = False) -> str:
        return f"{self.kind.lower()} {self.name} {self.verb}" + (" (dry run)" if dry_run else "")


@dataclass(frozen=True, slots=True)
class Outcome:
    changes: tuple[Change, ...]
    result: Result | None  # the validated resulting state; None when the store's writer validated it
    revision: int | None  # the committed store revision; None when nothing was written
    attempts: int = 1  # 1 + conflicts retried
    report: Report = field(default_factory=Report)  # the resulting state's warnings and notes
    writer: bool = False  # the store's writer validated and committed it


def apply(conn: psycopg.Connection, loaded: Loaded, load_report: Report, options: Options | None = None,
          dry_run: bool = False, progress: Progress | None = None) -> Outcome:
    """Apply the resources of ``loaded`` (read from files; their problems in ``load_report``). Raises
    :class:`InputError` when the resulting state is invalid (nothing written), :class:`StoreError` on a store
    problem or when conflicts outlast the retries. ``progress``: told how far validating the resulting state is
    (:func:`kumahc.pipeline.run`'s). With a live store writer (and default ``options``, no ``dry_run``) the writer
    validates and commits it (:func:`delegated`)."""
    if not dry_run and (_default(options)):
        found = delegated(conn, loaded, load_report)
        if found is not None:
            return found
    attempt, diagnostics = applying(loaded, load_report)
    return _commit(conn, attempt, diagnostics, options, dry_run, progress)


def _default(options: Options | None) -> bool:
    """``options`` are the command line's (None or default): what the store's writer renders with."""
    if options is None:
        return True
    from kumahc.pipeline import Options

    return options == Options()


def _run_cache() -> RunCache:
    from kumahc.pipeline import RunCache

    return RunCache()


def delegated(conn: psycopg.Connection, loaded: Loaded, load_report: Report, wait_s: float = WAIT_S
              ) -> Outcome | None:
    """Hand the apply of ``loaded`` to the store's writer and wait for its answer (a notification, else a look
    every :data:`POLL_S`). None when there is no live writer, when the files had errors (the applier reports them
    itself, as it reads them) or a value JSON cannot carry, or when the writer went away before answering (the
    request is taken back first: then it is never committed). Raises as :func:`apply`; :class:`StoreError` when
    the writer has not answered within ``wait_s`` seconds (the request is taken back: nothing written)."""
    if load_report.has_errors():
        return None
    try:
        text = requests.encode_request(loaded.resources, load_report.items)
    except requests.Unsendable:
        return None
    return _handed(conn, text, wait_s)


def _handed(conn: psycopg.Connection, text: str, wait_s: float = WAIT_S) -> Outcome | None:
    """Request ``text`` answered by the store's writer, as an :class:`Outcome` (raising what the attempt raised:
    :class:`InputError`, :class:`NotFound`, :class:`StoreError`); None when no writer is live or it went away
    before answering (see :func:`delegated`)."""
    if not requests.writer_live(conn):
        return None
    conn.execute(f"LISTEN {requests.RESULTS}")
    rid = requests.submit(conn, text)
    deadline = time.monotonic() + wait_s
    try:
        while True:
            answer = requests.answer_of(conn, rid)
            if answer == requests.GONE:
                return None
            if answer is not None:
                break
            live = requests.writer_live(conn)
            if (not live or time.monotonic() > deadline) and requests.withdraw(conn, rid):
                if live:
                    raise StoreError(f"the store's writer did not answer within {wait_s:g} s; nothing written")
                return None
            for _ in conn.notifies(timeout=POLL_S, stop_after=1):
                pass
    finally:
        requests.forget(conn, rid)
        conn.execute(f"UNLISTEN {requests.RESULTS}")
    found = requests.decode_answer(answer)
    if found.not_found is not None:
        raise NotFound(list(found.not_found))
    if found.error is not None:
        raise StoreError(found.error)
    report = Report()
    report.extend(found.diagnostics)
    if found.invalid:
        raise InputError(report, found.strict)
    return Outcome(tuple(Change(*c) for c in found.changes), None, found.revision, found.attempts, report, True)


def applying(loaded: Loaded, load_report: Report) -> tuple[Callable[[state.State], Plan], list[Diagnostic]]:
    """The attempt of applying ``loaded`` (a plan for any snapshot of the store) and the reading problems."""
    # Once for every attempt: what would be stored, and its JSON text.
    forms = {res: records.body(res) for res in loaded.resources}
    bodies: dict[Resource, str] = {}
    diagnostics = list(load_report.items)
    for res in loaded.resources:
        try:
            bodies[res] = records.encode(forms[res])
        except ValueError:  # .nan / .inf: JSON has no form for them
            sub = Report()
            path = records.non_finite(forms[res]) or ()
            res.src.error(sub, path, "cannot be stored: .nan and .inf have no JSON form")
            diagnostics.extend(sub.items)

    def attempt(snapshot: state.State) -> Plan:
        stored = snapshot.keyed()
        applied: dict[tuple, Resource] = {}
        changes: list[Change] = []
        puts: list[state.Put] = []
        for res in loaded.resources:
            row = stored.get(res.identity)
            # The resulting state's creation times: the store's for a replaced resource, "now" for a new one.
            applied[res.identity] = replace(res, creation_time=row.created_at if row is not None else snapshot.now)
            new_body = bodies.get(res)
            if row is None:
                verb = "created"
            elif row.format == res.format and new_body is not None and row.body == forms[res]:
                verb = "unchanged"
            else:
                verb = "configured"
            changes.append(Change(res.kind, records.display_of(res), verb))
            if verb != "unchanged" and new_body is not None:
                puts.append(state.Put(res.identity, res.format, new_body))
        # The replaced rows are never read: applying a resource again is how a malformed row is mended.
        kept = iter(snapshot.resources(rows=[row for row in snapshot.rows if row.key not in applied]))
        merged = [applied.pop(row.key) if row.key in applied else next(kept) for row in snapshot.rows]
        merged.extend(applied.values())
        return Plan(merged, changes, puts, [])

    return attempt, diagnostics


def delete(conn: psycopg.Connection, kind: str, name: str, mesh: str | None, namespace: str | None,
           options: Options | None = None) -> Outcome:
    """Delete the one stored ``kind`` named ``name`` (narrowed by ``mesh`` and ``namespace``). Raises
    :class:`StoreError` when none or several match, :class:`InputError` when the state left would be invalid
    (nothing deleted). With a live store writer (and default ``options``) the writer deletes it."""
    if _default(options):
        found = _handed(conn, requests.encode_delete(kind, name, mesh, namespace))
        if found is not None:
            return found
    return _commit(conn, deleting(kind, name, mesh, namespace), [], options, False)


def deleting(kind: str, name: str, mesh: str | None, namespace: str | None) -> Callable[[state.State], Plan]:
    """:func:`delete`'s attempt: a plan for any snapshot of the store."""

    def attempt(snapshot: state.State) -> Plan:
        found = [row for row in snapshot.rows if matches(row, kind, name, mesh, namespace)]
        if not found:
            raise StoreError(f'{kind.lower()} "{name}" not found' + _scope(mesh, namespace))
        if len(found) > 1:
            names = ", ".join(r.display for r in found)
            raise StoreError(f'{len(found)} {kind} resources named "{name}" ({names}): choose one with --mesh or -n')
        gone = found[0]
        rest = snapshot.resources(rows=[row for row in snapshot.rows if row is not gone])
        return Plan(rest, [Change(kind, gone.display, "deleted")], [], [gone.key])

    return attempt


def matches(row: records.Row, kind: str, name: str | None, mesh: str | None, namespace: str | None) -> bool:
    """``get``/``delete`` selection: same kind, and name, mesh (the resource's, or "" for kinds without one) and
    namespace ("" for Universal and cluster-scoped resources) when given."""
    return (row.kind == kind and (name is None or row.name == name) and (mesh is None or row.mesh == mesh)
            and (namespace is None or row.namespace == namespace))


def _scope(mesh: str | None, namespace: str | None) -> str:
    return (f' in mesh "{mesh}"' if mesh is not None else "") + (
        f' in namespace "{namespace}"' if namespace is not None else "")


class Plan(NamedTuple):
    """What one attempt would do on one snapshot: the resulting state (in store order, then new resources in
    input order), the output lines, and the rows to write and delete."""

    resources: list[Resource]
    changes: list[Change]
    puts: list[state.Put]
    deletes: list[records.Key]


def _render(result: Result, options: Options | None, reading: list[Diagnostic], held: rendered.Index,
            warm: Warm | None = None) -> rendered.Change | None:
    """The change to the stored rendered parts (migration 0003) for the validated state, against what the store
    holds (``held``), with the state's warnings as a replica rendering the rows reports them (the problems of
    reading the applied files, ``reading``, are not the state's). None when rendering under a ``protocol`` (a
    library caller's option): replicas render with their own, so such parts would not be theirs."""
    if options is not None and options.protocol is not None:
        return None
    from kumahc.xds import snapshot as snapshots

    snap = snapshots.build(result, warm.snapshot if warm is not None else None)
    if warm is not None:
        warm.snapshot = snap
    found = snapshots.parts(snap, warm.parts if warm is not None else None)
    report = Report()
    skip = {id(d) for d in reading}
    # Located as a replica locates them: at ``store: KIND NAME``, ordered as the rows will be (store order, then
    # the new ones in input order: the order of the validated state).
    stored: dict[Location, Location] = {}
    for position, res in enumerate(result.loaded.resources):
        loc = res.src.loc
        subject = loc.subject if loc.file == records.FILE else f"{res.kind} {records.display_of(res)}"
        stored[loc] = Location(records.FILE, records.BEFORE_FILES + position, 0, subject)
    report.extend(_as_stored(d, stored) for d in result.report.items if id(d) not in skip)
    warnings = [line for line in report.lines() if not line.startswith("info: ")]
    return rendered.change(held, found.clusters, found.proxies, warnings)


def _as_stored(d: Diagnostic, stored: dict[Location, Location]) -> Diagnostic:
    """``d`` located at its resource's stored location (``stored``: by its location in the validated state)."""
    if d.scope[0] != "file" or d.scope[1] not in stored:
        return d
    _, loc, _line, path = d.scope
    return replace(d, scope=("file", stored[loc], None, path))


@dataclass(frozen=True, slots=True)
class Prepared:
    """One attempt validated on the store at ``revision``, ready to commit: the plan, the validated state and what
    to store of its render (None: nothing to write, a dry run, or parts replicas could not serve)."""

    revision: int
    plan: Plan
    result: Result
    render: rendered.Change | None

    @property
    def writes(self) -> bool:
        return bool(self.plan.puts or self.plan.deletes)

    def commit(self, conn: psycopg.Connection, then: Callable[[psycopg.Connection, int], None] | None = None
               ) -> int | None:
        """Write it if the store is still at :attr:`revision` (the new revision), else None (nothing written).
        ``then(conn, revision)`` runs in the same transaction (:func:`state.write`)."""
        return state.write(conn, self.revision, self.plan.puts, self.plan.deletes, self.render, then)


def prepare(conn: psycopg.Connection, loaded: Loaded, load_report: Report, options: Options | None = None
            ) -> Prepared:
    """:func:`apply`'s validation, once, without writing: what it would commit now. Raises as :func:`apply`."""
    attempt, diagnostics = applying(loaded, load_report)
    return prepare_attempt(conn, attempt, diagnostics, options, False)


@dataclass(slots=True)
class Warm:
    """What a long-running writer (:mod:`kumahc.writer`) keeps between attempts so that one costs what its change
    touches: the pipeline's :class:`RunCache`, the last snapshot built (clusters packed by content are reused),
    and the rendered tables' :class:`rendered.Index` as of rendered revision ``index_revision`` (what it last read
    or wrote). None of it changes a result: an attempt with a cold ``Warm`` gives the same one."""

    runs: RunCache = field(default_factory=_run_cache)
    snapshot: Any = None
    parts: dict = field(default_factory=dict)  # kumahc.xds.snapshot.parts's memo
    index: rendered.Index | None = None
    index_revision: int | None = None

    def held(self, conn: psycopg.Connection) -> rendered.Index:
        """The rendered tables' index: the one kept when the tables still render its revision with this
        kumahc's code, else read again."""
        head = conn.execute("SELECT revision, renderer FROM kumahc_rendered WHERE id = 1").fetchone()
        if self.index is None or head is None or head != (self.index_revision, rendered.RENDERER):
            self.index = rendered.index(conn)
            self.index_revision = head[0] if head is not None and head[1] == rendered.RENDERER else None
        return self.index

    def wrote(self, revision: int, delta: rendered.Change | None) -> None:
        """The tables now render ``revision``: ``delta`` applied to the kept index (None: forget it)."""
        if delta is None or self.index is None:
            self.index, self.index_revision = None, None
            return
        self.index = rendered.advance(self.index, delta)
        self.index_revision = revision


def prepare_attempt(conn: psycopg.Connection, attempt: Callable[[state.State], Plan],
                    diagnostics: list[Diagnostic], options: Options | None, dry_run: bool,
                    snapshot: state.State | None = None, progress: Progress | None = None, warm: Warm | None = None
                    ) -> Prepared:
    """One attempt (``attempt``, with the reading problems ``diagnostics``) validated on ``snapshot`` (default: read
    now) and, unless ``dry_run`` or nothing would be written, rendered into the change to the stored parts.
    ``warm``: a long-running writer's caches (same result, less work). Raises as :func:`apply`."""
    from kumahc.pipeline import Options, run

    snapshot = snapshot or state.read(conn)
    plan = attempt(snapshot)

    def load(report: Report, resources: list[Resource] = plan.resources) -> Loaded:
        report.extend(diagnostics)
        kept = tuple(drop_duplicates(resources, report))
        return Loaded((), kept, len(kept))

    # keep_documents: a retried attempt validates the same loaded resources again.
    result = run(load, replace(options or Options(), keep_documents=True), warm.runs if warm is not None else None,
                 progress=progress)
    render = None
    if not dry_run and (plan.puts or plan.deletes):
        # Read only when there is something to write (a re-apply of unchanged files reads no parts). Read after
        # the snapshot: should another writer have committed since, the commit's revision check fails and the
        # attempt is redone, so a difference against newer parts is never written.
        held = warm.held(conn) if warm is not None else rendered.index(conn)
        render = _render(result, options, diagnostics, held, warm)
    return Prepared(snapshot.revision, plan, result, render)


@dataclass(frozen=True, slots=True)
class Preview:
    """What an apply would do now, written nowhere: its output lines, the stored state rendered (``before``) and
    the validated resulting state (``after``), both from one snapshot (``kumahc diff --store``, ``apply
    --dry-run``)."""

    changes: tuple[Change, ...]
    before: Result
    after: Result


def preview(conn: psycopg.Connection, loaded: Loaded, load_report: Report, options: Options | None = None,
            progress: Progress | None = None) -> Preview:
    """:func:`apply`'s planning and validation on one snapshot, and that snapshot rendered, without writing.
    Raises :class:`InputError` when the resulting state (or the stored one) is invalid, :class:`StoreError` on a
    store problem."""
    from kumahc.pipeline import Options, run

    attempt, diagnostics = applying(loaded, load_report)
    snapshot = state.read(conn)
    prepared = prepare_attempt(conn, attempt, diagnostics, options, True, snapshot, progress)
    before = run(snapshot.loader(), options or Options())
    return Preview(tuple(prepared.plan.changes), before, prepared.result)


class NotFound(StoreError):
    """Resources a ``delete -f`` names that the store does not hold: one line each (``lines``)."""

    def __init__(self, lines: list[str]):
        super().__init__("; ".join(lines))
        self.lines = lines


def delete_named(conn: psycopg.Connection, named: Sequence[Resource], ignore_not_found: bool = False,
                 options: Options | None = None) -> Outcome:
    """Delete the stored resources with the identities of ``named`` (read from files: only kind, mesh,
    namespace and name count), all or none, if the state left passes validation. A named resource the store
    does not hold raises :class:`NotFound` (nothing deleted) unless ``ignore_not_found``, which skips it. Raises
    :class:`InputError` when the state left would be invalid. With a live store writer (and default ``options``)
    the writer deletes them."""
    if _default(options):
        try:
            found = _handed(conn, requests.encode_delete_named(named, ignore_not_found))
        except requests.Unsendable:
            found = None
        if found is not None:
            return found
    return _commit(conn, deleting_named(named, ignore_not_found), [], options, False)


def deleting_named(named: Sequence[Resource], ignore_not_found: bool) -> Callable[[state.State], Plan]:
    """:func:`delete_named`'s attempt: a plan for any snapshot of the store."""
    wanted = list({res.identity: res for res in named}.values())  # a resource named twice is deleted once

    def attempt(snapshot: state.State) -> Plan:
        stored = snapshot.keyed()
        missing = [res for res in wanted if res.identity not in stored]
        if missing and not ignore_not_found:
            raise NotFound([f"{res.src.where}: {res.kind.lower()} {records.display_of(res)} not found"
                            for res in missing])
        gone = {res.identity for res in wanted if res.identity in stored}
        rest = snapshot.resources(rows=[row for row in snapshot.rows if row.key not in gone])
        changes = [Change(res.kind, stored[res.identity].display, "deleted") for res in wanted
                   if res.identity in gone]
        return Plan(rest, changes, [], [res.identity for res in wanted if res.identity in gone])

    return attempt


def _commit(conn: psycopg.Connection, attempt: Callable[[state.State], Plan], diagnostics: list[Diagnostic],
            options: Options | None, dry_run: bool, progress: Progress | None = None) -> Outcome:
    for number in range(1, ATTEMPTS + 1):
        prepared = prepare_attempt(conn, attempt, diagnostics, options, dry_run, progress=progress)
        changes = tuple(prepared.plan.changes)
        if dry_run or not prepared.writes:
            return Outcome(changes, prepared.result, None, number, prepared.result.report)
        revision = prepared.commit(conn)
        if revision is not None:
            return Outcome(changes, prepared.result, revision, number, prepared.result.report)
        time.sleep(random.uniform(0, BACKOFF_S * number))
    raise StoreError(f"gave up after {ATTEMPTS} attempts: other writers kept changing the store; nothing written")

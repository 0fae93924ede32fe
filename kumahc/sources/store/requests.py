"""The queue between ``kumahc apply`` and the store's writer (``kumahc store writer``, migration 0004): what an
apply hands over (its resources, exactly as read from its files, and the problems of reading them) and what the
writer answers (the output lines' changes, the diagnostics of the validated state, the committed revision).

The wire format is JSON text (key order kept: a body is stored as it was written). Everything a message needs
travels with a resource: its location and its documents' line marks, so the writer's messages name the applied
file and line as the applier's own run would. Pure except for the few statements at the end, which run on the
caller's connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from kumahc.diagnostics import Diagnostic, Location, Severity
from kumahc.resources.model import Resource, Source
from kumahc.resources.yaml.marks import Mark, Problem, RawDocument

LOCK = 0x6B756D61686302  # advisory lock (session level) held by the one live writer; 0x…01 is the migrators'
REQUESTS = "kumahc_requests"  # channel: a request was queued (payload: its id)
RESULTS = "kumahc_results"  # channel: a request was answered (payload: its id)


class Unsendable(ValueError):
    """A resource whose document JSON cannot carry as it is (a value other than text, numbers, booleans, null,
    lists and mappings with text keys): the applier validates such a change itself."""


# ---- diagnostics -------------------------------------------------------------------------------------------

def _location(loc: Location) -> list[Any]:
    return [loc.file, loc.file_index, loc.document, loc.subject]


def diagnostic_form(d: Diagnostic) -> list[Any]:
    """``d`` as JSON values: [severity, message, scope], a :class:`Location` as [file, index, document,
    subject]."""
    scope = list(d.scope)
    if scope[0] == "file":
        scope[1] = _location(scope[1])
    return [int(d.severity), d.message, scope]


def diagnostic(form: Sequence[Any]) -> Diagnostic:
    """The :class:`Diagnostic` of :func:`diagnostic_form`'s ``form``."""
    severity, message, scope = form
    if scope[0] == "file":
        scope = ["file", Location(*scope[1]), *scope[2:]]
    return Diagnostic(Severity(severity), message, tuple(scope))


# ---- resources ---------------------------------------------------------------------------------------------

def _marks(mark: Mark) -> list[Any]:
    if isinstance(mark.children, dict):
        return [mark.line, {k: _marks(m) for k, m in mark.children.items()}]
    if isinstance(mark.children, list):
        return [mark.line, [_marks(m) for m in mark.children]]
    return [mark.line]


def _mark(form: Sequence[Any]) -> Mark:
    if len(form) == 1:
        return Mark(form[0])
    children = form[1]
    if isinstance(children, dict):
        return Mark(form[0], {k: _mark(m) for k, m in children.items()})
    return Mark(form[0], [_mark(m) for m in children])


def _plain(value: Any) -> bool:
    """``value`` survives a JSON round trip unchanged (JSON has no other types and only text keys)."""
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_plain(v) for v in value)
    if isinstance(value, float):
        return value == value and value not in (float("inf"), float("-inf"))
    return value is None or isinstance(value, (str, bool, int))


def resource_form(res: Resource) -> dict[str, Any]:
    """``res`` as JSON values: its identity fields, location, document (value, every line mark, number,
    problems). Raises :class:`Unsendable` when its value would not come back the same."""
    doc = res.src.doc
    if not _plain(doc.value):
        raise Unsendable(res.src.where)
    created = res.creation_time.isoformat() if res.creation_time is not None else None
    return {"kind": res.kind, "format": res.format, "name": res.name, "namespace": res.namespace, "mesh": res.mesh,
            "labels": res.labels, "annotations": res.annotations, "created": created, "base": list(res.base),
            "loc": _location(res.src.loc), "value": doc.value, "marks": _marks(doc.marks()), "number": doc.number,
            "problems": [[list(p.path), p.line, p.message] for p in doc.problems], "plain": doc.plain}


def resource(form: dict[str, Any]) -> Resource:
    """The :class:`Resource` of :func:`resource_form`'s ``form``: equal fields, the same lines for every path."""
    doc = RawDocument(form["value"], _mark(form["marks"]), form["number"],
                      [Problem(tuple(p), line, message) for p, line, message in form["problems"]],
                      plain=form["plain"])
    created = datetime.fromisoformat(form["created"]) if form["created"] is not None else None
    return Resource(form["kind"], form["format"], form["name"], form["namespace"], form["mesh"], form["labels"],
                    form["annotations"], created, tuple(form["base"]), Source(Location(*form["loc"]), doc))


# ---- request and result ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Request:
    """One request: ``op`` ``apply`` (``resources`` as read, ``reading``: the problems of reading them), ``delete``
    (``kind``, ``name``, ``mesh``, ``namespace`` as ``kumahc delete KIND NAME`` selects) or ``delete_named``
    (``resources``: those ``delete -f`` names; ``ignore_not_found``)."""

    op: str
    resources: tuple[Resource, ...] = ()
    reading: tuple[Diagnostic, ...] = ()
    kind: str = ""
    name: str = ""
    mesh: str | None = None
    namespace: str | None = None
    ignore_not_found: bool = False


def _text(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def encode_request(resources: Iterable[Resource], reading: Iterable[Diagnostic]) -> str:
    """The request text of an apply: ``resources`` in input order, ``reading`` (the problems of reading the
    files: warnings and notes only). Raises :class:`Unsendable`."""
    return _text({"op": "apply", "resources": [resource_form(r) for r in resources],
                  "reading": [diagnostic_form(d) for d in reading]})


def encode_delete(kind: str, name: str, mesh: str | None, namespace: str | None) -> str:
    """The request text of ``kumahc delete KIND NAME``."""
    return _text({"op": "delete", "kind": kind, "name": name, "mesh": mesh, "namespace": namespace})


def encode_delete_named(resources: Iterable[Resource], ignore_not_found: bool) -> str:
    """The request text of ``kumahc delete -f``. Raises :class:`Unsendable`."""
    return _text({"op": "delete_named", "resources": [resource_form(r) for r in resources],
                  "ignore_not_found": ignore_not_found})


def decode_request(text: str) -> Request:
    v = json.loads(text)
    return Request(v["op"], tuple(resource(f) for f in v.get("resources", ())),
                   tuple(diagnostic(f) for f in v.get("reading", ())), v.get("kind", ""), v.get("name", ""),
                   v.get("mesh"), v.get("namespace"), v.get("ignore_not_found", False))


@dataclass(frozen=True, slots=True)
class Answer:
    """The writer's answer to one request. ``invalid``: the resulting state had errors (``diagnostics`` holds
    them, nothing was written); ``error``: a store problem (one line, nothing written); otherwise ``changes``
    ((kind, name, verb) per applied resource), ``diagnostics`` (the state's warnings and notes) and ``revision``
    (None: nothing to write). ``attempts``: 1 + conflicts retried."""

    changes: tuple[tuple[str, str, str], ...] = ()
    diagnostics: tuple[Diagnostic, ...] = ()
    revision: int | None = None
    invalid: bool = False
    strict: bool = False
    error: str | None = None
    attempts: int = 1
    not_found: tuple[str, ...] | None = None  # ``delete -f``: one line per named resource the store lacks


def encode_answer(a: Answer) -> str:
    return json.dumps({"changes": [list(c) for c in a.changes],
                       "diagnostics": [diagnostic_form(d) for d in a.diagnostics], "revision": a.revision,
                       "invalid": a.invalid, "strict": a.strict, "error": a.error, "attempts": a.attempts,
                       "not_found": list(a.not_found) if a.not_found is not None else None},
                      ensure_ascii=False, separators=(",", ":"))


def decode_answer(text: str) -> Answer:
    v = json.loads(text)
    return Answer(tuple(tuple(c) for c in v["changes"]), tuple(diagnostic(d) for d in v["diagnostics"]),
                  v["revision"], v["invalid"], v["strict"], v["error"], v["attempts"],
                  tuple(v["not_found"]) if v["not_found"] is not None else None)


# ---- the queue (on the caller's autocommit connection) -----------------------------------------------------

def writer_live(conn: psycopg.Connection) -> bool:
    """Some session holds the writer's lock (a writer has loaded the store and answers requests)."""
    # Advisory locks belong to a database: the lock of another database's writer is not this store's.
    found = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND "
                         "database = (SELECT oid FROM pg_database WHERE datname = current_database()) AND "
                         "classid = %s AND objid = %s AND objsubid = 1",
                         (LOCK >> 32, LOCK & 0xFFFFFFFF)).fetchone()
    return bool(found[0])


def submit(conn: psycopg.Connection, text: str) -> int:
    """Queue a request and tell the writer; returns its id."""
    with conn.transaction():
        (rid,) = conn.execute("INSERT INTO kumahc_requests (request) VALUES (%s) RETURNING id", (text,)).fetchone()
        conn.execute("SELECT pg_notify(%s, %s)", (REQUESTS, str(rid)))
    return rid


GONE = ""  # :func:`answer_of` of a request no longer queued (a writer dropped it: the applier does the work)


def answer_of(conn: psycopg.Connection, rid: int) -> str | None:
    """The answer text of request ``rid``, None while it has none, :data:`GONE` when it is not queued any more."""
    found = conn.execute("SELECT answer FROM kumahc_requests WHERE id = %s", (rid,)).fetchone()
    return GONE if found is None else found[0]


def withdraw(conn: psycopg.Connection, rid: int) -> bool:
    """Take request ``rid`` back if it has no answer yet (then no writer will answer it: True); False when it
    was answered meanwhile (read the answer)."""
    found = conn.execute("DELETE FROM kumahc_requests WHERE id = %s AND answer IS NULL RETURNING id",
                         (rid,)).fetchone()
    return found is not None


def forget(conn: psycopg.Connection, rid: int) -> None:
    conn.execute("DELETE FROM kumahc_requests WHERE id = %s", (rid,))

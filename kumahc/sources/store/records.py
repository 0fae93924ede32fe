"""Stored rows ↔ resources and documents. Pure: no database access.

A row's ``body`` is the document as applied minus the fields the store owns (:data:`MANAGED`): the creation time
comes from the row, so ``kumahc get -o yaml`` prints the real one and applying that output again finds the
body unchanged. Stored resources carry no line numbers: messages name them ``store: KIND NAME``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from kumahc.diagnostics import InputError, Location, Report
from kumahc.resources.loader import build
from kumahc.resources.model import KINDS, KUBERNETES, NO_MESH, UNIVERSAL, Resource, Source
from kumahc.resources.schema import structural_problems

FILE = "store"  # what messages print where a file name would be

# Fields the store sets from its own records (Universal top level; Kubernetes under metadata).
MANAGED_UNIVERSAL = ("creationTime", "modificationTime")
MANAGED_KUBERNETES = ("creationTimestamp",)

Key = tuple[str, str, str, str]  # (kind, mesh or "", namespace or "", name): Resource.identity


@dataclass(frozen=True, slots=True)
class Row:
    """One stored resource: identity, format (``universal``/``kubernetes``), body, the store's times (aware
    datetimes), generation (1 when created, +1 on every change) and the store revision that last wrote it."""

    id: int
    kind: str
    mesh: str
    namespace: str
    name: str
    format: str
    body: dict[str, Any]
    created_at: datetime
    modified_at: datetime
    generation: int
    revision: int

    @property
    def key(self) -> Key:
        return (self.kind, self.mesh, self.namespace, self.name)

    @property
    def display(self) -> str:
        return display(self.kind, self.format, self.mesh, self.namespace, self.name)


COLUMNS = "id, kind, mesh, namespace, name, format, body, created_at, modified_at, generation, revision"


def display(kind: str, fmt: str, mesh: str, namespace: str, name: str) -> str:
    """How a stored resource is named in messages and ``apply``/``get`` output: Kubernetes ``NAMESPACE/NAME``
    (``NAME`` for cluster-scoped kinds), Universal ``MESH/NAME`` (``NAME`` for kinds without a mesh)."""
    if fmt == KUBERNETES:
        return f"{namespace}/{name}" if namespace else name
    return name if kind in NO_MESH else f"{mesh}/{name}"


def display_of(res: Resource) -> str:
    kind, mesh, namespace, name = res.identity
    return display(kind, res.format, mesh, namespace, name)


class _NoMark:
    line = None
    children = None


class StoredDocument:
    """A stored body in the shape the pipeline reads documents (:class:`~kumahc.resources.yaml.marks.RawDocument`):
    its value, and no lines (``line`` is None for every path, so messages print ``store: KIND NAME: PATH``)."""

    __slots__ = ("value",)
    mark = _NoMark()
    number = 0
    problems: tuple = ()

    def __init__(self, value: dict[str, Any]):
        self.value = value

    def release(self) -> None:
        """Nothing to free: the row holds the same body (and a reused resource must stay readable)."""

    def line(self, _path: tuple) -> None:
        return None


BEFORE_FILES = -(2**63)  # stored resources' "file index": below every file's (0, 1, …), in store (id) order


def resource(row: Row) -> Resource:
    """The :class:`Resource` of ``row``, its creation time the store's. Its messages sort before those of files,
    in store order, whatever else the store holds (so a resource can be reused while its row is unchanged).

    Rows were valid when written, but a row changed behind kumahc's back must not crash a reader: a row whose kind
    kumahc does not know, whose body is not a document of that kind and format (its schema, as files are checked)
    or names another resource raises :class:`InputError` with one error, ``store: KIND NAME: [PATH: ]problem``."""
    loc = Location(FILE, BEFORE_FILES + row.id, 0, f"{row.kind} {row.display}")
    src = Source(loc, StoredDocument(row.body))
    report = Report()
    problem = _malformed(row)
    res = None
    if problem is None:
        try:
            res = build(row.kind, row.format, row.body, src, report)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:  # shapes the schema let through
            problem = ((), f"cannot be read: {type(exc).__name__}: {exc}")
        else:
            if res is not None and res.identity != row.key:
                problem = ((), "its document names another resource than its row")
    if problem is not None:
        src.error(report, *problem)
    if res is None or problem is not None:
        raise InputError(_first_error(report))
    return replace(res, creation_time=row.created_at)


def _malformed(row: Row) -> tuple[tuple, str] | None:
    """The first thing that makes ``row`` unreadable as a resource, as (field path, message), or None."""
    if row.kind not in KINDS:
        return (), f'stored with an unknown kind "{row.kind}"'
    if row.format not in (UNIVERSAL, KUBERNETES):
        return (), f'stored with an unknown format "{row.format}"'
    if not isinstance(row.body, dict):
        return (), "stored body must be a mapping"
    field = "type" if row.format == UNIVERSAL else "kind"
    if row.body.get(field) != row.kind:
        return (field,), f'must be "{row.kind}" (the stored row\'s kind)'
    problems = structural_problems(row.kind, row.body, row.format)
    return problems[0] if problems else None


def _first_error(report: Report) -> Report:
    """A report of ``report``'s first error only: one line per unreadable row."""
    first = Report()
    first.extend(report.items[:1])
    return first


def body(res: Resource) -> dict[str, Any]:
    """What the store keeps of a loaded resource's document: the document without :data:`MANAGED_UNIVERSAL`
    (Universal) or ``metadata.creationTimestamp`` (Kubernetes)."""
    doc = res.body
    if res.format == UNIVERSAL:
        return {k: v for k, v in doc.items() if k not in MANAGED_UNIVERSAL}
    out = dict(doc)
    meta = out.get("metadata")
    if isinstance(meta, dict) and any(k in meta for k in MANAGED_KUBERNETES):
        out["metadata"] = {k: v for k, v in meta.items() if k not in MANAGED_KUBERNETES}
    return out


def encode(value: dict[str, Any]) -> str:
    """JSON text of a body. Raises ValueError for what JSON cannot hold (``.nan``, ``.inf``)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def non_finite(value: Any, path: tuple = ()) -> tuple | None:
    """Path of the first float JSON cannot hold (``.nan``, ``.inf``) in ``value``, or None."""
    if isinstance(value, float) and not math.isfinite(value):
        return path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        found = non_finite(v, (*path, k))
        if found is not None:
            return found
    return None


def timestamp(at: datetime) -> str:
    """RFC 3339 in UTC, as Kubernetes and Kuma print it: ``2026-12-01T10:19:13.123456Z`` (no fraction when 0)."""
    at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S") + (f".{at.microsecond:06d}" if at.microsecond else "") + "Z"


def document(row: Row) -> dict[str, Any]:
    """The document ``kumahc get`` prints: the body with the store's creation time put back (``creationTime``
    after ``name``/``mesh``; ``metadata.creationTimestamp``)."""
    created = timestamp(row.created_at)
    if row.format == UNIVERSAL:
        out: dict[str, Any] = {}
        for k, v in row.body.items():
            out[k] = v
            if k == ("name" if "mesh" not in row.body else "mesh"):
                out["creationTime"] = created
        out.setdefault("creationTime", created)
        return out
    out = dict(row.body)
    out["metadata"] = {**(out.get("metadata") or {}), "creationTimestamp": created}
    return out


def plural(kind: str) -> str:
    """The plural kubectl spells for ``kind``, lower case: ``meshes``, ``kongupstreampolicies`` (the CRD's),
    ``dataplanes``."""
    lower = kind.lower()
    if lower.endswith("sh"):
        return lower + "es"
    return lower[:-1] + "ies" if lower.endswith("cy") else lower + "s"


# Also the plain "s" plural (``kongupstreampolicys``), which get has always accepted.
_KIND_NAMES = {**{k.lower(): k for k in KINDS}, **{k.lower() + "s": k for k in KINDS},
               **{plural(k): k for k in KINDS}}


def parse_kind(text: str) -> str | None:
    """``KIND`` argument → kind: the name in any case, or its plural (``meshhealthchecks``); None if unknown."""
    return _KIND_NAMES.get(text.lower())


def labels(row: Row) -> dict[str, str]:
    """A stored resource's labels, what ``get -l`` selects on: Universal ``labels``, Kubernetes
    ``metadata.labels`` (values as text; a body without them has none)."""
    found = row.body.get("labels") if row.format == UNIVERSAL else (row.body.get("metadata") or {}).get("labels")
    return {str(k): str(v) for k, v in found.items()} if isinstance(found, dict) else {}


def age(elapsed: timedelta) -> str:
    """``elapsed`` as kubectl's AGE column prints it (its short form): whole seconds under a minute (``5s``),
    minutes under an hour (``3m``), hours under a day (``2h``), days under a year (``4d``), then years (``2y``).
    A small negative value (clocks a second apart) is ``0s``; more negative, ``<invalid>``."""
    seconds = int(elapsed.total_seconds())
    if seconds < -1:
        return "<invalid>"
    for unit, size, limit in (("s", 1, 60), ("m", 60, 3600), ("h", 3600, 86400), ("d", 86400, 365 * 86400)):
        if seconds < limit:
            return f"{max(seconds, 0) // size}{unit}"
    return f"{seconds // (365 * 86400)}y"

"""The rendered parts of the store (migration 0003): what ``apply`` and ``delete`` rendered when they validated the
state they commit, stored with it, so that serving replicas serve it instead of each rendering it again. The
writer reads the tables' :class:`Index` once it knows it will write and commits only the difference.

The parts are opaque here: clusters by digest (name, resource version, serialized ``Any``) and proxies (version,
their clusters' digests concatenated). :mod:`kumahc.xds.snapshot` makes them (``parts``) and serves them
(``from_parts``). Invariant kept by :func:`write`: the stored clusters are exactly those some stored proxy refers
to, so a replica holding the parts of revision R needs, to reach revision S, only the rows written after R.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

import kumahc


def _code_digest() -> str:
    """A digest of kumahc's own Python code: two installs with equal code render alike, whatever their version
    string says (a development checkout keeps one version across many changes)."""
    root = Path(kumahc.__file__).parent
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


@functools.cache
def renderer() -> str:
    """Who renders the parts: ``kumahc/<version>+<code digest>``. Parts are served only by replicas running the
    very code that rendered them; others render the rows themselves."""
    return f"kumahc/{kumahc.__version__}+{_code_digest()}"


def __getattr__(name: str) -> str:
    # RENDERER is computed when first read (reading kumahc's code and version costs a command that never needs it).
    if name == "RENDERER":
        return renderer()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

Digest = bytes
Clusters = dict[Digest, tuple[str, str, bytes]]  # digest -> (cluster name, resource version, serialized Any)
Proxies = dict[tuple[str, str], tuple[str, bytes]]  # (mesh, proxy) -> (proxy version, digests concatenated)
DIGEST_BYTES = 32
log = logging.getLogger("kumahc.serve")  # serve's log: only replicas read the clusters themselves


def digest(resource: bytes) -> Digest:
    """The key of a stored cluster: SHA-256 of its serialized ``Any`` (32 bytes)."""
    return hashlib.sha256(resource).digest()


@dataclass(slots=True)
class Stored:
    """The parts a replica holds: the store revision they render, who rendered them, the render's warning lines,
    and the parts themselves (``clusters``, ``proxies``: the shapes of :class:`kumahc.xds.snapshot.Parts`)."""

    revision: int
    renderer: str
    warnings: tuple[str, ...]
    clusters: Clusters = field(default_factory=dict)
    proxies: Proxies = field(default_factory=dict)
    # Read for the connected proxies only (serve --render connected, :func:`read_connected`): every stored proxy
    # with its cluster count; ``proxies`` then holds the connected ones and ``clusters`` what they refer to.
    names: dict[tuple[str, str], int] | None = None


@dataclass(frozen=True, slots=True)
class Index:
    """What the rendered tables hold at one revision, enough to write the difference to new parts: the digests of
    the clusters whose bytes match them, every proxy's (version, digests), and the digests of clusters whose bytes
    do not (altered after they were written: the writer deletes and writes them again)."""

    digests: frozenset[Digest]
    proxies: Proxies
    tampered: frozenset[Digest] = frozenset()


def index(conn: psycopg.Connection) -> Index:
    """The rendered tables' :class:`Index`, read in one snapshot (REPEATABLE READ, read only). Every cluster's
    bytes are checked against its digest by the server (``sha256``: no bytes travel)."""
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        rows = [(bytes(d), ok) for d, ok in
                cur.execute("SELECT digest, digest = sha256(resource) FROM kumahc_rendered_clusters")]
        proxies = {(m, n): (v, bytes(c)) for m, n, v, c in
                   cur.execute("SELECT mesh, name, version, clusters FROM kumahc_rendered_proxies")}
    return Index(frozenset(d for d, ok in rows if ok), proxies, frozenset(d for d, ok in rows if not ok))


@dataclass(frozen=True, slots=True)
class Change:
    """The rows that turn the rendered tables of one :class:`Index` into new parts (:func:`change`), with the new
    parts' warning lines and renderer."""

    new_clusters: list[tuple[Digest, str, str, bytes]]
    gone_clusters: list[Digest]
    proxies: list[tuple[str, str, str, bytes]]  # created or changed: (mesh, name, version, digests)
    gone_proxies: list[tuple[str, str]]
    warnings: list[str]
    renderer: str = field(default_factory=renderer)


def change(held: Index, clusters: Clusters, proxies: Proxies, warnings: list[str]) -> Change:
    """Only the clusters not stored yet and the proxies whose version or clusters changed are written; clusters
    no proxy refers to any more and proxies gone are deleted. A stored cluster whose bytes no longer match its
    digest (:attr:`Index.tampered`) is deleted and, when still rendered, written again: an apply repairs it."""
    return Change([(d, *c) for d, c in clusters.items() if d not in held.digests],
                  [d for d in held.digests if d not in clusters] + sorted(held.tampered),
                  [(m, n, v, keys) for (m, n), (v, keys) in proxies.items() if held.proxies.get((m, n)) != (v, keys)],
                  [k for k in held.proxies if k not in proxies], warnings)


def advance(held: Index, delta: Change) -> Index:
    """The :class:`Index` of the tables once ``delta`` (made from ``held``) is written: what a writer that keeps
    the index in memory knows without reading it again."""
    digests = (held.digests - set(delta.gone_clusters)) | {d for d, *_ in delta.new_clusters}
    proxies = dict(held.proxies)
    for key in delta.gone_proxies:
        proxies.pop(key, None)
    proxies.update(((m, n), (v, keys)) for m, n, v, keys in delta.proxies)
    return Index(frozenset(digests), proxies)


def write(conn: psycopg.Connection, revision: int, delta: Change) -> None:
    """Write ``delta`` as the parts rendering ``revision`` (inside the caller's transaction, which has checked
    that the store is still at the revision whose :class:`Index` ``delta`` was made from)."""
    with conn.cursor() as cur:
        if delta.gone_clusters:
            cur.execute("DELETE FROM kumahc_rendered_clusters WHERE digest = ANY(%s)", (delta.gone_clusters,))
        if delta.new_clusters:
            with cur.copy("COPY kumahc_rendered_clusters (digest, name, version, resource, revision) FROM STDIN") \
                    as copy:
                for d, name, version, resource in delta.new_clusters:
                    copy.write_row((d, name, version, resource, revision))
        gone = delta.gone_proxies + [(m, n) for m, n, _, _ in delta.proxies]
        if gone:
            cur.execute("DELETE FROM kumahc_rendered_proxies WHERE (mesh, name) IN (SELECT * FROM unnest(%s::text[], "
                        "%s::text[]))", ([m for m, _ in gone], [n for _, n in gone]))
        if delta.proxies:
            with cur.copy("COPY kumahc_rendered_proxies (mesh, name, version, clusters, revision) FROM STDIN") \
                    as copy:
                for m, n, v, keys in delta.proxies:
                    copy.write_row((m, n, v, keys, revision))
        cur.execute("INSERT INTO kumahc_rendered (id, revision, renderer, warnings) VALUES (1, %s, %s, %s) "
                    "ON CONFLICT (id) DO UPDATE SET revision = EXCLUDED.revision, renderer = EXCLUDED.renderer, "
                    "warnings = EXCLUDED.warnings", (revision, delta.renderer, delta.warnings))


STATE = "SELECT revision, renderer, warnings FROM kumahc_rendered WHERE id = 1"
CLUSTERS = "SELECT digest, name, version, resource FROM kumahc_rendered_clusters WHERE revision > %s"
PROXIES = "SELECT mesh, name, version, clusters, revision FROM kumahc_rendered_proxies WHERE revision > %s"
COUNT = "SELECT count(*) FROM kumahc_rendered_proxies"
KEYS = "SELECT mesh, name FROM kumahc_rendered_proxies"


def usable(head: tuple | None, revision: int, renderer: str) -> bool:
    """The stored parts (``head`` = the :data:`STATE` row, or None) render the store's ``revision`` and were
    rendered by this kumahc (``renderer``)."""
    return head is not None and head[0] == revision and head[1] == renderer


def read(conn: psycopg.Connection, revision: int, renderer: str, held: Stored | None) -> Stored | None:
    """The parts of ``revision`` (inside the caller's REPEATABLE READ transaction, which read ``revision``), from
    ``held`` plus what was written since it; None when the store holds no usable parts (:func:`usable`)."""
    with conn.cursor() as cur:
        head = cur.execute(STATE).fetchone()
        if not usable(head, revision, renderer):
            return None
        since = held.revision if held is not None and held.renderer == renderer else 0
        clusters = cur.execute(CLUSTERS, (since,)).fetchall()
        proxies = cur.execute(PROXIES, (since,)).fetchall()
        count = cur.execute(COUNT).fetchone()[0]
        keys = None
        if since and count != _count_after(held, proxies):
            keys = cur.execute(KEYS).fetchall()
    return merge(held if since else None, head, clusters, proxies, keys)


async def read_async(conn: psycopg.AsyncConnection, revision: int, renderer: str, held: Stored | None
                     ) -> Stored | None:
    """:func:`read` on an asyncio connection (serve's LISTEN connection)."""
    cur = await conn.execute(STATE)
    head = await cur.fetchone()
    if not usable(head, revision, renderer):
        return None
    since = held.revision if held is not None and held.renderer == renderer else 0
    clusters = await (await conn.execute(CLUSTERS, (since,))).fetchall()
    proxies = await (await conn.execute(PROXIES, (since,))).fetchall()
    count = (await (await conn.execute(COUNT)).fetchone())[0]
    keys = None
    if since and count != _count_after(held, proxies):
        keys = await (await conn.execute(KEYS)).fetchall()
    return merge(held if since else None, head, clusters, proxies, keys)


TAMPERED = "SELECT name FROM kumahc_rendered_clusters WHERE digest <> sha256(resource)"
NAMES = "SELECT mesh, name, octet_length(clusters) / 32 FROM kumahc_rendered_proxies WHERE revision > %s"
LISTS_OF = ("SELECT mesh, name, version, clusters FROM kumahc_rendered_proxies WHERE (mesh, name) IN "
            "(SELECT * FROM unnest(%s::text[], %s::text[]))")
CLUSTERS_OF = "SELECT digest, name, version, resource FROM kumahc_rendered_clusters WHERE digest = ANY(%s)"


def read_connected(conn: psycopg.Connection, revision: int, renderer: str, held: Stored | None,
                   keys: Iterable[tuple[str, str]]) -> Stored | None:
    """The parts of ``revision`` for the proxies ``keys`` only (inside the caller's REPEATABLE READ transaction,
    which read ``revision``): every stored proxy's name and cluster count, the lists of ``keys``' proxies and the
    clusters they refer to. From ``held`` (read the same way), only what was written since it is read: the names
    and counts of the proxies written since, and the lists and clusters of those among ``keys`` (plus the keys
    ``held`` did not hold). None as :func:`merge` (no usable parts, a missing or altered cluster)."""
    with conn.cursor() as cur:
        head = cur.execute(STATE).fetchone()
        if not usable(head, revision, renderer):
            return None
        partial = held is not None and held.renderer == renderer and held.names is not None
        since = held.revision if partial else 0
        names = dict(held.names) if partial else {}
        if not partial:
            # A first read fetches few clusters: the server checks every one's bytes against its digest (no bytes
            # travel), so altered parts are found at start as a full read finds them.
            bad = [name for (name,) in cur.execute(TAMPERED)]
            if bad:
                _tampered(bad)
                return None
        written = cur.execute(NAMES, (since,)).fetchall()
        names.update(((m, n), count) for m, n, count in written)
        if since and cur.execute(COUNT).fetchone()[0] != len(names):  # some were deleted
            present = set(cur.execute(KEYS).fetchall())
            names = {k: c for k, c in names.items() if k in present}
        changed = {(m, n) for m, n, _ in written}
        kept = held.proxies if partial else {}
        wanted = {k for k in keys if k in names}
        proxies = {k: v for k, v in kept.items() if k in wanted and k not in changed}
        need = sorted(wanted - proxies.keys())
        if need:
            for m, n, version, digests in cur.execute(LISTS_OF, ([m for m, _ in need], [n for _, n in need])):
                proxies[(m, n)] = (version, bytes(digests))
        referenced = {ks[i:i + DIGEST_BYTES] for _, ks in proxies.values() for i in range(0, len(ks), DIGEST_BYTES)}
        old = held.clusters if partial else {}
        clusters = {d: old[d] for d in referenced if d in old}
        missing = sorted(referenced - clusters.keys())
        fetched = cur.execute(CLUSTERS_OF, (missing,)).fetchall() if missing else []
    out = merge(None, head, fetched, [], None, keep_unreferenced=True)
    if out is None:
        return None
    clusters.update(out.clusters)
    if not referenced <= clusters.keys():
        return None
    return Stored(head[0], head[1], tuple(head[2]), clusters, proxies, names)


def _tampered(bad: list[str]) -> None:
    more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
    log.error('store: rendered cluster "%s" does not match its SHA-256 digest%s; rendering the stored '
              "resources here", bad[0], more)


def _count_after(held: Stored | None, proxies: list) -> int:
    known = held.proxies if held is not None else {}
    return len(known) + sum(1 for m, n, *_ in proxies if (m, n) not in known)


def merge(held: Stored | None, head: tuple, clusters: list, proxies: list, keys: list | None,
          keep_unreferenced: bool = False) -> Stored | None:
    """``held`` (None: nothing) brought to the parts of ``head`` by the rows written since: ``clusters`` and
    ``proxies`` rows, and ``keys`` (every stored proxy) when some proxy was deleted. Clusters no proxy refers to
    are dropped, as the writer drops them. None when some proxy refers to a cluster that is not there (parts not
    written by this kumahc's rules), or when a cluster read does not match its digest (SHA-256 of its bytes:
    altered after it was written; one ERROR line): the replica then renders the resources itself rather than
    serve a hole or bytes Envoy may not decode."""
    out = Stored(head[0], head[1], tuple(head[2]), dict(held.clusters) if held else {},
                 dict(held.proxies) if held else {})
    bad: list[str] = []
    for d, name, version, resource in clusters:
        d, resource = bytes(d), bytes(resource)
        if digest(resource) != d:
            bad.append(name)
        out.clusters[d] = (name, version, resource)
    if bad:
        _tampered(bad)
        return None
    for m, n, version, digests, _ in proxies:
        out.proxies[(m, n)] = (version, bytes(digests))
    if keys is not None:
        present = {(m, n) for m, n in keys}
        out.proxies = {k: v for k, v in out.proxies.items() if k in present}
    if keep_unreferenced:  # the caller checks the references (read_connected)
        return out
    lists = {keys_ for _, keys_ in out.proxies.values()}  # proxies of one class share one list: few to walk
    referenced = {ks[i:i + DIGEST_BYTES] for ks in lists for i in range(0, len(ks), DIGEST_BYTES)}
    if not referenced <= out.clusters.keys():
        return None
    if len(referenced) != len(out.clusters):
        out.clusters = {d: c for d, c in out.clusters.items() if d in referenced}
    return out

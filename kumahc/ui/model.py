"""What the operator pages show, read from the state ``/status`` and ``inspect`` use: the xDS server's streams
(:mod:`kumahc.xds.streams`), the served snapshot and the pipeline result it was built from. Plain data, no HTML.

A node's state (one of :data:`STATES`) is decided over every type URL its streams watch: ``nacking`` when the last
version sent on one of them was rejected and nothing newer was accepted, ``in sync`` when every type's last sent
version is acknowledged, ``pending`` while a response awaits its ACK, ``unknown`` when the node id names no proxy
of the snapshot (it is served an empty set). A proxy of the snapshot that no stream resolves to is ``never
connected``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from kumahc.xds.snapshot import CLUSTER_TYPE, Snapshot
from kumahc.xds.streams import ADS, CDS, DELTA, SOTW, Event, Stream

IN_SYNC = "in sync"
PENDING = "pending"
NACKING = "nacking"
UNKNOWN = "unknown"
NEVER = "never connected"
STATES = (NACKING, PENDING, UNKNOWN, IN_SYNC, NEVER)  # worst first: the order of "sort by state"
PROTOCOL = {(SOTW, ADS): "SotW ADS", (SOTW, CDS): "SotW CDS", (DELTA, ADS): "Delta ADS", (DELTA, CDS): "Delta CDS"}


@dataclass(slots=True)
class NodeRow:
    """One row of the proxies table: a node id with its open streams, or a proxy no stream serves (``node`` is
    then its ``MESH.NAME`` id and ``since`` None). The columns after ``since`` are filled by :func:`fill` (only
    for the rows shown: at 10,000 proxies, making every row whole cost more than the rest of the page).
    Versions are the Cluster type's."""

    node: str
    mesh: str
    proxy: str  # MESH/NAME, or "" for an unknown node
    state: str
    since: datetime | None = None
    peer: str = ""
    user_agent: str = ""
    protocols: list[str] = field(default_factory=list)
    sent: str = ""
    acked: str = ""
    nack_version: str = ""
    nack_message: str | None = None
    streams: list[Stream] = field(default_factory=list, repr=False)


def node_rows(streams: Iterable[Stream], snapshot: Snapshot | None) -> list[NodeRow]:
    """Every node with a stream that named its node id, then every proxy of ``snapshot`` none of them resolves
    to, in no particular order (the page sorts). Only the columns up to ``since`` are set: see :func:`fill`."""
    by_node: dict[str, list[Stream]] = {}
    for s in list(streams):  # a copy: streams open and close while the page is made (the page runs on the loop)
        if s.node is not None:
            by_node.setdefault(s.node, []).append(s)
    rows = []
    served: set[tuple[str, str]] = set()
    for node, group in by_node.items():
        proxy = next((s.proxy for s in group if s.proxy is not None), None)
        since = min(s.opened_at for s in group)
        if proxy is None:
            rows.append(NodeRow(node, "", "", UNKNOWN, since, streams=group))
            continue
        served.add(proxy)
        rows.append(NodeRow(node, proxy[0], f"{proxy[0]}/{proxy[1]}", _state(group), since, streams=group))
    if snapshot is not None:
        for mesh, name in snapshot.names:
            if (mesh, name) not in served:
                rows.append(NodeRow(f"{mesh}.{name}", mesh, f"{mesh}/{name}", NEVER))
    return rows


def _state(group: list[Stream]) -> str:
    synced = True
    for s in group:
        for w in s.watches.values():
            st = w.status
            if st.nacked_version is not None and st.nacked_version == st.sent_version != st.acked_version:
                return NACKING
            if st.sent_version is None or st.acked_version != st.sent_version:
                synced = False
    return IN_SYNC if synced and any(s.watches for s in group) else PENDING


def fill(row: NodeRow) -> NodeRow:
    """Set the columns after ``since`` from the row's streams (first stream's client address and Envoy build;
    the Cluster type's versions; the last NACK, the Cluster type's first). Returns ``row``."""
    if not row.streams:
        return row
    first = min(row.streams, key=lambda s: s.opened_at)
    row.peer, row.user_agent = first.peer, first.user_agent
    row.protocols = sorted({PROTOCOL[(s.api, s.service)] for s in row.streams})
    for s in row.streams:
        for w in s.watches.values():
            st = w.status
            if st.nack_message is not None and (row.nack_message is None or st.type_url == CLUSTER_TYPE):
                row.nack_version, row.nack_message = st.nacked_version or "", st.nack_message
            if st.type_url == CLUSTER_TYPE:
                row.sent, row.acked = st.sent_version or "", st.acked_version or ""
    return row


def counts(rows: Iterable[NodeRow]) -> dict[str, int]:
    """Rows per state, every state of :data:`STATES` present."""
    out = dict.fromkeys(STATES, 0)
    for r in rows:
        out[r.state] += 1
    return out


def snapshot_version(snapshot: Snapshot) -> str:
    """First 16 hex digits of SHA-256 over every proxy's ``MESH/NAME VERSION`` line, sorted: it changes when any
    proxy's served clusters change."""
    h = hashlib.sha256()
    for (mesh, name), res in sorted(snapshot.proxies.items()):
        h.update(f"{mesh}/{name} {res.version}\n".encode())
    return h.hexdigest()[:16]


def history(streams: Iterable[Stream]) -> list[tuple[Event, str]]:
    """The last events of ``streams`` (one node's), newest first, each with its stream's protocol."""
    out = [(e, PROTOCOL[(s.api, s.service)]) for s in list(streams) for e in s.history]
    return sorted(out, key=lambda p: p[0].at, reverse=True)


def streams_of(streams: Iterable[Stream], node: str) -> list[Stream]:
    return [s for s in list(streams) if s.node == node]


SORTS = {
    "node": lambda r: r.node,
    "mesh": lambda r: (r.mesh, r.node),
    "state": lambda r: (STATES.index(r.state), r.node),
    "since": lambda r: (r.since is None, r.since.timestamp() if r.since else 0.0, r.node),
}


@dataclass(frozen=True, slots=True)
class Page:
    rows: list[NodeRow]
    total: int  # rows after the search and filter
    page: int  # 1-based
    pages: int


def select(rows: list[NodeRow], q: str = "", state: str = "", sort: str = "state", desc: bool = False,
           page: int = 1, per: int = 50) -> Page:
    """Search (``q``: a substring of node id, mesh or proxy, case-insensitive), filter (``state``), sort
    (:data:`SORTS`) and cut one page of ``per`` rows, made whole (:func:`fill`). Sorting is O(n log n) on the
    filtered rows; only the page's rows are filled and become HTML."""
    needle = q.strip().lower()
    kept = [r for r in rows if (not state or r.state == state)
            and (not needle or needle in r.node.lower() or needle in r.proxy.lower())]
    kept.sort(key=SORTS.get(sort, SORTS["state"]), reverse=desc)
    pages = max(1, -(-len(kept) // per))
    page = min(max(1, page), pages)
    return Page([fill(r) for r in kept[(page - 1) * per: page * per]], len(kept), page, pages)

"""Immutable snapshots of every proxy's clusters, serialized once (spec 06 §3–§4).

Proxies whose rendered clusters are identical share one :class:`ProxyResources`; its SotW response body and the
delta ``Resource`` entries are serialized when the snapshot is built, so a push to N streams costs N nonces, not
N serializations.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf import any_pb2

from kumahc import __version__, gcpause
from kumahc.envoy import cluster as envoy_cluster
from kumahc.jsontext import dumps_indent2, list_text, shift
from kumahc.pipeline import LazyClusters, Result
from kumahc.render import ClusterJson, document, load_assignment_json

CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
ENDPOINT_TYPE = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
CONTROL_PLANE = f"kumahc/{__version__}"


def text_version(text: str) -> str:
    """First 16 hex digits of SHA-256 of ``text`` (UTF-8)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def content_version(value: Any) -> str:
    """First 16 hex digits of SHA-256 of ``json.dumps(value, indent=2, ensure_ascii=False)`` (06 §4)."""
    return text_version(dumps_indent2(value))




def len_field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field: lets responses be assembled from pre-serialized parts."""
    return varint((number << 3) | 2) + varint(len(payload)) + payload


def varint(n: int) -> bytes:
    """Protobuf base-128 varint."""
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


@dataclass(frozen=True, slots=True, eq=False)
class ProxyResources:
    """One cluster set. ``version`` = proxy version; ``versions`` = cluster name → resource version;
    ``delta_entries`` = cluster name → serialized ``Resource`` field (field 2 of DeltaDiscoveryResponse);
    ``sotw_body`` = a serialized DiscoveryResponse of type Cluster without nonce."""

    version: str
    names: tuple[str, ...]
    versions: dict[str, str]
    delta_entries: dict[str, bytes]
    sotw_body: bytes
    clusters: int

    def sotw(self, nonce: str) -> bytes:
        """The full SotW response with ``nonce`` appended (protobuf fields may come in any order)."""
        return self.sotw_body + len_field(5, nonce.encode())

    def delta(self, names: list[str], removed: list[str], nonce: str, type_url: str = CLUSTER_TYPE) -> bytes:
        msg = discovery_pb2.DeltaDiscoveryResponse(system_version_info=self.version, type_url=type_url,
                                                   removed_resources=removed, nonce=nonce)
        msg.control_plane.identifier = CONTROL_PLANE
        return msg.SerializeToString() + b"".join(self.delta_entries[n] for n in names)


@dataclass(frozen=True, slots=True, eq=False)
class _Packed:
    """One distinct cluster, prepared once per snapshot: its render JSON text shifted for a list (None when it
    came from stored parts, which carry the versions instead), its resource version, its serialized ``Any``, its
    SotW ``resources`` field and its Delta ``Resource`` field."""

    name: str
    shifted: str | None
    version: str
    resource: bytes
    sotw_field: bytes
    delta_field: bytes


def _pack(name: str, as_json: dict[str, Any], any_bytes: bytes) -> _Packed:
    text = dumps_indent2(as_json)
    return _fields(name, shift(text), text_version(text), any_bytes)


def _fields(name: str, shifted: str | None, version: str, any_bytes: bytes) -> _Packed:
    # Resource{name=3, version=1, resource=2}
    resource = len_field(3, name.encode()) + len_field(1, version.encode()) + len_field(2, any_bytes)
    return _Packed(name, shifted, version, any_bytes, len_field(2, any_bytes), len_field(2, resource))


def _resources(clusters: list[_Packed], type_url: str = CLUSTER_TYPE, version: str | None = None
               ) -> ProxyResources:
    """``clusters`` sorted by name; ``version`` when known (stored parts), else hashed from their JSON texts."""
    if version is None:
        version = text_version(list_text([c.shifted for c in clusters]))
    resp = discovery_pb2.DiscoveryResponse(version_info=version, type_url=type_url)
    resp.control_plane.identifier = CONTROL_PLANE
    body = resp.SerializeToString() + b"".join(c.sotw_field for c in clusters)
    return ProxyResources(version, tuple(c.name for c in clusters), {c.name: c.version for c in clusters},
                          {c.name: c.delta_field for c in clusters}, body, len(clusters))


def empty_resources(type_url: str) -> ProxyResources:
    """The empty set for unknown nodes and for non-Cluster types on ADS (06 §2–§3)."""
    return _resources([], type_url)


EMPTY = empty_resources(CLUSTER_TYPE)
EMPTY_ENDPOINTS = empty_resources(ENDPOINT_TYPE)


@dataclass(frozen=True, slots=True, eq=False)
class Snapshot:
    """Every proxy's resources, keyed by (mesh, proxy name); the render document for ``/config_dump``."""

    proxies: dict[tuple[str, str], ProxyResources]
    meshes: tuple[str, ...]  # longest name first, for node resolution
    # The render document, or a function making it: /config_dump is rare, a reload is not, so a reload only
    # keeps what the document needs and the first request builds it (see the ``document`` property).
    made_document: Any
    loaded_at: datetime
    # For the next build: per cluster (keyed by its serialized Any, so content decides) its JSON and packed form;
    # per distinct cluster list (keyed by the ids of its packed items, which these dicts keep alive) its resources.
    packed: dict[bytes, tuple[dict[str, Any], _Packed]] = field(default_factory=dict, repr=False)
    shared: dict[tuple[int, ...], tuple[tuple[_Packed, ...], ProxyResources]] = field(default_factory=dict,
                                                                                       repr=False)
    # --endpoints eds: every proxy's ClusterLoadAssignments (one per cluster), versioned apart from its clusters,
    # so an endpoint-only change pushes EDS and no CDS. Empty with static endpoints.
    endpoints: dict[tuple[str, str], ProxyResources] = field(default_factory=dict)
    mode: str = envoy_cluster.STATIC
    # The pipeline result this snapshot was built from: a reload whose source hands back the very same result
    # (nothing changed) reuses the snapshot instead of walking every proxy again (see build).
    result: Any = field(default=None, repr=False)
    # Per cluster list of the result (keyed by the id of the proxy's clusters tuple, which the value keeps alive):
    # its shared key and resources (clusters; assignments with EDS). A reload or a materialization handing the
    # very same tuple for a proxy takes its resources from here without packing anything.
    lists: dict[int, tuple[tuple, tuple[int, ...], ProxyResources, tuple[int, ...], ProxyResources | None]] = \
        field(default_factory=dict, repr=False)
    # ``serve --render connected``: every proxy of the mesh (``proxies`` holds the materialized ones only); None
    # when every proxy is materialized.
    known: Any = field(default=None, repr=False)

    @property
    def lazy(self) -> bool:
        """Only connected proxies are materialized (``serve --render connected``)."""
        return self.known is not None

    @property
    def names(self) -> Any:
        """Every proxy of the mesh (a container of (mesh, proxy name)), materialized or not."""
        return self.proxies if self.known is None else self.known

    def materialized(self, key: tuple[str, str] | None) -> bool:
        """Whether ``key``'s resources are in this snapshot: an unknown node (None, or no such proxy) is served
        the empty set and counts as materialized; a known proxy of a lazy snapshot is only once materialized."""
        return key is None or key in self.proxies or key not in self.names

    @property
    def document(self) -> dict[str, Any]:
        """The render document of every proxy (spec 05 §2; /config_dump), built on first use. A lazy snapshot's
        document holds every proxy too (the others built for it and dropped after): it is not kept."""
        if not callable(self.made_document):
            return self.made_document
        doc = self.made_document()
        if not self.lazy:
            object.__setattr__(self, "made_document", doc)
        return doc

    @property
    def from_parts(self) -> bool:
        """Made from stored parts (:func:`from_parts`), not rendered here."""
        return self.result is _PARTS

    @property
    def cluster_count(self) -> int:
        """Clusters over every proxy, materialized or not (a lazy snapshot counts one per destination, as a
        proxy gets)."""
        if self.known is not None:
            return self.known.cluster_total
        return sum(r.clusters for r in self.proxies.values())

    @property
    def materialized_clusters(self) -> int:
        """Clusters over the materialized proxies (every proxy unless lazy)."""
        return sum(r.clusters for r in self.proxies.values())

    def resolve(self, node_id: str) -> tuple[str, str] | None:
        """06 §3 as amended: the one proxy :meth:`candidates` finds, or None (no proxy, or more than one: an
        ambiguous id is refused rather than served whichever proxy a rule happens to prefer)."""
        found = self.candidates(node_id)
        return found[0] if len(found) == 1 else None

    def candidates(self, node_id: str) -> list[tuple[str, str]]:
        """Every proxy a plain (no client certificate) node id names, in 06 §3's order: ``<mesh>.<proxy>`` for
        each split at a dot, longest mesh first, then the whole id in mesh ``default``. ``a.b.c`` names ``a.b/c``,
        ``a/b.c`` and ``default/a.b.c`` when they exist. Only dots within the longest mesh name's length are
        tried, so a hostile id of a million dots costs as little as a short one."""
        out = []
        names = self.names
        dot = min(len(node_id), max(map(len, self.meshes), default=-1) + 1)
        while (dot := node_id.rfind(".", 0, dot)) > 0:
            key = (node_id[:dot], node_id[dot + 1:])
            if key in names:
                out.append(key)
        if ("default", node_id) in names:
            out.append(("default", node_id))
        return out

    def resources(self, key: tuple[str, str] | None) -> ProxyResources:
        return self.proxies.get(key, EMPTY) if key is not None else EMPTY

    def load_assignments(self, key: tuple[str, str] | None) -> ProxyResources | None:
        """The proxy's ClusterLoadAssignments with EDS (empty set for an unknown node); None with static
        endpoints (the type is then answered like any type kumahc does not serve)."""
        if self.mode != envoy_cluster.EDS:
            return None
        return self.endpoints.get(key, EMPTY_ENDPOINTS) if key is not None else EMPTY_ENDPOINTS


def build(result: Result, previous: Snapshot | None = None, endpoints: str = envoy_cluster.STATIC) -> Snapshot:
    """Snapshot of a pipeline result. Each distinct cluster is packed, turned into JSON and hashed once; identical
    cluster lists share one ProxyResources. With ``previous`` (a reload), clusters and cluster lists whose content
    is unchanged reuse its work, whichever objects carry them. ``endpoints`` = ``eds``: clusters in their EDS form
    and every proxy's ClusterLoadAssignments beside them (:func:`kumahc.envoy.cluster.eds`). A reload whose
    source handed back the very result ``previous`` was built from (nothing changed) gets ``previous`` itself."""
    if previous is not None and previous.result is result and previous.mode == endpoints:
        return previous
    with gcpause.paused():
        return _build(result, previous, endpoints)


def _packed(message: Any, name: str, to_json: Any, packed: dict[bytes, tuple[dict[str, Any], _Packed]],
            old_packed: dict[bytes, tuple[dict[str, Any], _Packed]]) -> tuple[dict[str, Any], _Packed]:
    """``message``'s JSON and packed form, keyed by its serialized Any so that content decides: reused from this
    build or the previous one, else converted once (``to_json``) and recorded in ``packed``."""
    a = any_pb2.Any()
    a.Pack(message)
    data = a.SerializeToString()
    item = packed.get(data) or old_packed.get(data)
    if item is None:
        as_json = to_json(message)
        item = (as_json, _pack(name, as_json, data))
    packed[data] = item
    return item


def _build(result: Result, previous: Snapshot | None, endpoints: str = envoy_cluster.STATIC) -> Snapshot:
    old_packed = previous.packed if previous is not None else {}
    old_shared = previous.shared if previous is not None else {}
    old_lists = previous.lists if previous is not None and previous.mode == endpoints else {}
    lazy = isinstance(result.clusters, LazyClusters)
    # A lazy result's materialized proxies only: the others are built when a stream for them opens.
    source = result.clusters.materialized if isinstance(result.clusters, LazyClusters) else result.clusters
    convert = ClusterJson()
    packed: dict[bytes, tuple[dict[str, Any], _Packed]] = {}
    by_result: dict[int, tuple[dict[str, Any], _Packed]] = {}
    eds = endpoints == envoy_cluster.EDS
    la_by_result: dict[int, tuple[dict[str, Any], _Packed]] = {}
    shared: dict[tuple[int, ...], tuple[tuple[_Packed, ...], ProxyResources]] = {}
    proxies: dict[tuple[str, str], ProxyResources] = {}
    assignments: dict[tuple[str, str], ProxyResources] = {}
    lists: dict[int, tuple[tuple, tuple[int, ...], ProxyResources, tuple[int, ...], ProxyResources | None]] = {}
    carried: list[tuple[int, ...]] = []  # shared keys taken over from ``previous`` as they were

    def shared_resources(items: tuple[_Packed, ...], type_url: str) -> tuple[tuple[int, ...], ProxyResources]:
        ids = tuple(id(p) for p in items)
        entry = shared.get(ids) or old_shared.get(ids)
        if entry is None:
            entry = (items, _resources(list(items), type_url))
        shared[ids] = entry
        return ids, entry[1]

    for key, results in source.items():
        kept = lists.get(id(results)) or old_lists.get(id(results))
        if kept is None or kept[0] is not results:
            for cr in results:
                if id(cr) in by_result:
                    continue
                cluster = cr.cluster
                if eds:
                    cluster, la = envoy_cluster.eds(cluster)
                    la_by_result[id(cr)] = _packed(la, la.cluster_name, load_assignment_json, packed, old_packed)
                by_result[id(cr)] = _packed(cluster, cluster.name, convert, packed, old_packed)
            ids, res = shared_resources(tuple(by_result[id(cr)][1] for cr in results), CLUSTER_TYPE)
            la_ids, la_res = (shared_resources(tuple(la_by_result[id(cr)][1] for cr in results), ENDPOINT_TYPE)
                              if eds else ((), None))
            kept = (results, ids, res, la_ids, la_res)
        elif kept[1] not in shared:
            # The same cluster list as before: its resources (and its assignments') carry over, unpacked.
            shared[kept[1]] = old_shared[kept[1]]
            carried.append(kept[1])
            if eds:
                shared[kept[3]] = old_shared[kept[3]]
                carried.append(kept[3])
        lists[id(results)] = kept
        proxies[key] = kept[2]
        if eds:
            assignments[key] = kept[4]
    if carried:
        # The packed clusters of carried-over lists stay known by content too (one pass over the distinct
        # clusters, not over the proxies): a later reload that brings one of them back in a new list reuses it.
        used = {id(item) for k in carried for item in shared[k][0]}
        for data, item in old_packed.items():
            if id(item[1]) in used and data not in packed:
                packed[data] = item

    def doc() -> dict[str, Any]:
        # A lazy result's document walks every proxy: a fresh mapping builds the others and drops them after.
        whole = replace(result, clusters=result.clusters.fresh()) if lazy else result
        return document(whole, cache={k: v[0] for k, v in by_result.items()}, endpoints=endpoints,
                        la_cache={k: v[0] for k, v in la_by_result.items()})

    known = result.clusters if lazy else None
    # A lazy result's meshes are those of its view: computed once, not on every materializing batch.
    meshes = known.meshes if known is not None else _meshes(proxies)
    return Snapshot(proxies, meshes, doc, datetime.now(UTC), packed, shared, assignments, endpoints, result, lists,
                    known)


def _meshes(keys: Any) -> tuple[str, ...]:
    """The meshes of ``keys`` (mesh, proxy name), longest name first (node resolution's order)."""
    return tuple(sorted({m for m, _ in keys}, key=lambda m: (-len(m), m)))


# --- stored parts: a snapshot rendered once by the writer of a store, served by every replica -----------------

Digest = bytes  # SHA-256 of a cluster's serialized Any: names one distinct cluster in stored parts


@dataclass(frozen=True, slots=True)
class Parts:
    """A static-endpoints snapshot reduced to what serving needs, for storing: ``clusters`` = digest → (name,
    resource version, serialized ``Any``), ``proxies`` = (mesh, proxy name) → (proxy version, its clusters'
    digests concatenated in name order). Rebuilding a snapshot from parts gives the same versions and the same
    response bytes as the snapshot they were taken from."""

    clusters: dict[Digest, tuple[str, str, bytes]]
    proxies: dict[tuple[str, str], tuple[str, bytes]]
    # Parts read for some proxies only (serve --render connected): every proxy with its cluster count; ``proxies``
    # holds the materialized ones.
    names: dict[tuple[str, str], int] | None = None


class Catalog(dict):
    """Every proxy of a lazy snapshot made from parts (key → its cluster count): ``Snapshot.known``."""

    @property
    def cluster_total(self) -> int:
        return sum(self.values())


def digest(resource: bytes) -> Digest:
    return hashlib.sha256(resource).digest()


def parts(snap: Snapshot, memo: dict | None = None) -> Parts:
    """The :class:`Parts` of a snapshot built with static endpoints (``build(result)``). ``memo``: a dict the caller
    keeps from one call to the next (the store's writer): a cluster list carried over from the previous snapshot
    (the same object) and a cluster seen before (the same serialized bytes) are not walked or hashed again; it
    keeps what this call used."""
    if snap.mode != envoy_cluster.STATIC:
        raise ValueError("only a static-endpoints snapshot has stored parts")
    old_lists = memo.get("lists", {}) if memo is not None else {}
    old_digests = memo.get("digests", {}) if memo is not None else {}
    clusters: dict[Digest, tuple[str, str, bytes]] = {}
    lists: dict[int, tuple[str, bytes]] = {}
    kept_lists: dict[int, tuple[Any, tuple[str, bytes], dict[Digest, tuple[str, str, bytes]]]] = {}
    digests: dict[bytes, Digest] = {}  # by serialized cluster: lists share most of theirs
    for items, res in snap.shared.values():
        hit = old_lists.get(id(res))
        if hit is None or hit[0] is not res:
            own: dict[Digest, tuple[str, str, bytes]] = {}
            keys = []
            for p in items:
                d = digests.get(p.resource) or old_digests.get(p.resource) or digest(p.resource)
                digests[p.resource] = d
                own[d] = (p.name, p.version, p.resource)
                keys.append(d)
            hit = (res, (res.version, b"".join(keys)), own)
        else:
            digests.update((c[2], d) for d, c in hit[2].items())
        kept_lists[id(res)] = hit
        clusters.update(hit[2])
        lists[id(res)] = hit[1]
    if memo is not None:
        memo["lists"], memo["digests"] = kept_lists, digests
    return Parts(clusters, {key: lists[id(res)] for key, res in snap.proxies.items()})


def from_parts(stored: Parts, previous: Snapshot | None = None,
               whole: Callable[[], Parts | None] | None = None) -> Snapshot:
    """The snapshot of stored parts (static endpoints). With ``previous`` (itself made from parts), clusters and
    cluster lists already prepared are reused. Its render document is made from the clusters on first use. Parts
    with ``names`` give a lazy snapshot (only ``proxies`` materialized); its document is made from ``whole()``
    (every proxy's parts, read for it; None: the materialized proxies only)."""
    old = previous.shared if previous is not None and previous.result is _PARTS else {}
    packed: dict[Digest, _Packed] = {}
    shared: dict[Any, Any] = {}
    proxies: dict[tuple[str, str], ProxyResources] = {}

    def item(d: Digest) -> _Packed:
        found = packed.get(d)
        if found is None:
            name, version, resource = stored.clusters[d]
            found = packed[d] = _fields(name, None, version, resource)
        return found

    for key, (version, keys) in stored.proxies.items():
        entry = shared.get(keys) or old.get(keys)
        if entry is None:
            items = tuple(item(keys[i:i + 32]) for i in range(0, len(keys), 32))
            entry = (items, _resources(list(items), CLUSTER_TYPE, version))
        shared[keys] = entry
        proxies[key] = entry[1]
    ordered = dict(sorted(proxies.items()))

    def doc() -> dict[str, Any]:
        convert = ClusterJson()
        as_json: dict[bytes, dict[str, Any]] = {}
        out = []
        for (mesh, name), res in ordered.items():
            clusters = []
            for p in shared_items[id(res)]:
                found = as_json.get(p.resource)
                if found is None:
                    a = any_pb2.Any.FromString(p.resource)
                    cluster = cluster_pb2.Cluster.FromString(a.value)
                    found = as_json[p.resource] = convert(cluster)
                clusters.append(found)
            out.append({"mesh": mesh, "name": name, "clusters": clusters})
        return {"proxies": out}

    shared_items = {id(res): items for items, res in shared.values()}
    known = Catalog(stored.names) if stored.names is not None else None
    meshes = _meshes(known if known is not None else proxies)
    made: Any = doc
    if known is not None:
        def made() -> dict[str, Any]:
            every = whole() if whole is not None else None
            return from_parts(every).document if every is not None else doc()
    return Snapshot(ordered, meshes, made, datetime.now(UTC), {}, shared, {}, envoy_cluster.STATIC, _PARTS,
                    known=known)


_PARTS = object()  # Snapshot.result of a snapshot made from stored parts

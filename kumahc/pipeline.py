"""The pipeline facade: load → validate → mesh view → match/merge per family → combine → Envoy clusters.

Pure except for :func:`kumahc.resources.loader.load` reading files. Used by ``render``, ``validate``,
``golden``, ``inspect`` and ``serve``; the same inputs in the same order always give the same clusters.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2

from kumahc import gcpause, incremental, memo
from kumahc.diagnostics import Diagnostic, InputError, Report, Severity
from kumahc.envoy import cluster as cluster_builder
from kumahc.mesh import build as mesh_build
from kumahc.mesh.model import Destination, MeshView, Proxy
from kumahc.policies.combine import Combined, combine
from kumahc.policies.contract import PolicyFamily
from kumahc.policies.registry import FAMILIES
from kumahc.resources import core, gateways
from kumahc.resources.files import Limits
from kumahc.resources.loader import FileCache, Loaded, load
from kumahc.resources.model import Resource


@dataclass(frozen=True, slots=True)
class Options:
    """``protocol``: ``--protocol`` (01 §6.3); ``strict``: ``--strict`` (warnings are errors);
    ``keep_documents``: keep typed Dataplanes' documents (``Resource.body``) for the caller; by default they are
    released once typed, which halves the memory of a large mesh (their lines stay available for messages);
    ``limits``: reading bounds (``--max-file-size``, ``--max-documents``)."""

    protocol: str | None = None
    strict: bool = False
    keep_documents: bool = False
    limits: Limits = Limits()


@dataclass(frozen=True, slots=True)
class ClusterResult:
    cluster: cluster_pb2.Cluster
    groups: Combined


@dataclass(frozen=True, slots=True)
class Result:
    """A successful run: the inputs, the mesh view, the families (for ``inspect``), every proxy's clusters
    sorted by name (keyed by (mesh, proxy name)) and the report (warnings and notes only)."""

    loaded: Loaded
    view: MeshView
    families: tuple[PolicyFamily, ...]
    clusters: Mapping[tuple[str, str], tuple[ClusterResult, ...]]
    report: Report


def _proxy_clusters(proxy: Proxy, view: MeshView, families: list[PolicyFamily],
                    combined: dict, built: dict, assignments: dict, by_content: dict, previous: dict
                    ) -> tuple[tuple[ClusterResult, ...], list[tuple[str, str]]]:
    """One proxy's clusters (sorted by name) and its precedence warnings as (cluster, message). The dicts are
    caches: combine results by contribution ids, clusters by (destination, contribution ids), load assignments by
    destination (this run); clusters by (destination, family destination keys) (this run: ``by_content``; the
    previous one, same view: ``previous``)."""
    results = []
    warnings: list[tuple[str, str]] = []
    for name in proxy.destinations:
        dest = view.destinations[(proxy.mesh, name)]
        content = (dest.mesh, name, tuple(f.destination_key(proxy, dest) for f in families))
        hit = by_content.get(content) or previous.get(content)
        if hit is not None:
            by_content[content] = hit
            results.append(hit[0])
            warnings.extend((name, m) for m in hit[1])
            continue
        contributions = [c for f in families if (c := f.contribute(proxy, dest)) is not None]
        # Families share contribution objects between equal inputs: equal ids → equal groups and clusters.
        ids = tuple(id(c) for c in contributions)
        found = combined.get(ids)
        if found is None:
            found = combined[ids] = combine(contributions)
        groups, messages = found
        warnings.extend((name, m) for m in messages)
        key = (dest.mesh, dest.name, ids)
        result = built.get(key)
        if result is None:
            assignment = assignments.get((dest.mesh, dest.name), False)
            if assignment is False:
                assignment = assignments[(dest.mesh, dest.name)] = cluster_builder.load_assignment(
                    dest.name, dest.endpoints)
            result = built[key] = ClusterResult(cluster_builder.build(dest.name, dest.protocol, assignment, groups),
                                                groups)
        by_content[content] = (result, messages)
        results.append(result)
    return tuple(results), warnings


class Classes:
    """One run's proxy classes: proxies whose clusters depend on equal inputs (same mesh and destinations, equal
    family keys) share their clusters and precedence warnings, computed once for the first proxy of the class.
    ``previous_classes`` / ``previous_clusters``: what the run before kept (same view), reused by key."""

    def __init__(self, view: MeshView, families: list[PolicyFamily], previous_classes: dict,
                 previous_clusters: dict, kept: dict | None = None, affected: frozenset | None = None):
        self.view = view
        # The dependency index's answer (kumahc.incremental): the previous run's clusters of each proxy, reused as
        # they are for every proxy not ``affected``; ``kept`` is None when every proxy must be recomputed.
        self.kept = kept if affected is not None else None
        self.affected = affected
        self.done: dict[tuple[str, str], tuple[tuple[ClusterResult, ...], list[tuple[str, str]]]] = {}
        self.recomputed = 0  # proxies whose clusters this run computed (or found by class key): not kept
        self.families = families
        self.previous = previous_classes
        self.previous_clusters = previous_clusters
        self.classes: dict[tuple, tuple[tuple[ClusterResult, ...], list[tuple[str, str]]]] = {}
        self.by_content: dict[tuple, tuple[ClusterResult, list[str]]] = {}
        self.built: dict[tuple, ClusterResult] = {}
        self.combined: dict[tuple[int, ...], tuple[Combined, list[str]]] = {}
        self.assignments: dict[tuple[str, str], object] = {}
        # Materializing (serve's event loop side) and a transient full walk (/config_dump) may run in threads.
        self.lock = threading.Lock()
        self.total: int | None = None  # clusters over every proxy (LazyClusters.cluster_total)
        self.meshes: tuple[str, ...] | None = None  # LazyClusters.meshes

    def key(self, proxy: Proxy) -> tuple:
        return (proxy.mesh, proxy.destinations, tuple(f.proxy_key(proxy) for f in self.families))

    def proxy(self, proxy: Proxy) -> tuple[tuple[ClusterResult, ...], list[tuple[str, str]]]:
        """``proxy``'s clusters (sorted by name) and precedence warnings as (cluster, message), kept."""
        name = (proxy.mesh, proxy.name)
        if self.kept is not None and name not in self.affected:  # type: ignore[operator]
            found = self.kept.get(name)
            if found is not None:
                self.done[name] = found
                return found
        self.recomputed += 1
        key = self.key(proxy)
        found = self.classes.get(key) or self.previous.get(key)
        if found is None:
            found = _proxy_clusters(proxy, self.view, self.families, self.combined, self.built, self.assignments,
                                    self.by_content, self.previous_clusters)
        self.classes[key] = found
        self.done[name] = found
        return found

    def transient(self, proxy: Proxy, scratch: dict) -> tuple[tuple[ClusterResult, ...], list[tuple[str, str]]]:
        """As :meth:`proxy`, but what is computed goes to ``scratch`` (the caller's, dropped with it), not to the
        classes kept for serving."""
        key = self.key(proxy)
        found = self.classes.get(key) or scratch.get(key) or self.previous.get(key)
        if found is None:
            caches = scratch.setdefault(None, ({}, {}, {}, {}))
            combined, built, assignments, by_content = caches
            found = _proxy_clusters(proxy, self.view, self.families, combined, built, assignments, by_content,
                                    _Chain(self.by_content, self.previous_clusters))
        scratch[key] = found
        return found


class _Chain:
    """``get`` from the first of two dicts that has the key (the kept clusters, then the previous run's)."""

    __slots__ = ("first", "second")

    def __init__(self, first: dict, second: dict):
        self.first, self.second = first, second

    def get(self, key: Any) -> Any:
        found = self.first.get(key)
        return found if found is not None else self.second.get(key)


class LazyClusters(Mapping[tuple[str, str], tuple[ClusterResult, ...]]):
    """``Result.clusters`` of a lazy run (``serve --render connected``): a mapping over every proxy of the view,
    in the view's order, whose :attr:`materialized` proxies hold their clusters; any other proxy's are computed
    when read and kept in this mapping only (so a whole walk, e.g. ``/config_dump``, should use :meth:`fresh`
    and drop it after). :meth:`materialize` gives the mapping with a different materialized set."""

    def __init__(self, classes: Classes, materialized: dict[tuple[str, str], tuple[ClusterResult, ...]],
                 index: dict[tuple[str, str], Proxy] | None = None):
        self.classes = classes
        self.materialized = materialized
        self.index = index if index is not None else {(p.mesh, p.name): p for p in classes.view.proxies}
        self._scratch: dict = {}
        self._read: dict[tuple[str, str], tuple[ClusterResult, ...]] = {}

    def __getitem__(self, key: tuple[str, str]) -> tuple[ClusterResult, ...]:
        found = self.materialized.get(key)
        if found is None:
            found = self._read.get(key)
        if found is None:
            proxy = self.index[key]
            with self.classes.lock:
                found = self._read[key] = self.classes.transient(proxy, self._scratch)[0]
        return found

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self.index)

    def __len__(self) -> int:
        return len(self.index)

    def __contains__(self, key: object) -> bool:
        return key in self.index

    @property
    def meshes(self) -> tuple[str, ...]:
        """The meshes with proxies, longest name first (node resolution's order)."""
        found = self.classes.meshes
        if found is None:
            found = self.classes.meshes = tuple(sorted({m for m, _ in self.index}, key=lambda m: (-len(m), m)))
        return found

    @property
    def cluster_total(self) -> int:
        """How many clusters every proxy has (one per destination), materialized or not."""
        total = self.classes.total
        if total is None:
            total = self.classes.total = sum(len(p.destinations) for p in self.index.values())
        return total

    def fresh(self) -> LazyClusters:
        """The same mapping without the proxies read so far (a walk's scratch is dropped with the copy)."""
        return LazyClusters(self.classes, self.materialized, self.index)

    def materialize(self, keys: Iterable[tuple[str, str]]
                    ) -> tuple[LazyClusters, list[tuple[tuple[str, str], list[tuple[str, str]]]]]:
        """The mapping whose materialized proxies are ``keys`` (those of the view; others are ignored), and the
        newly materialized proxies' precedence warnings as (proxy key, [(cluster, message)]) in key order."""
        out: dict[tuple[str, str], tuple[ClusterResult, ...]] = {}
        warnings = []
        with self.classes.lock:
            for key in sorted(k for k in keys if k in self.index):
                found = self.materialized.get(key)
                if found is None:
                    found, warned = self.classes.proxy(self.index[key])
                    if warned:
                        warnings.append((key, warned))
                out[key] = found
        return LazyClusters(self.classes, out, self.index), warnings


def _warn(report: Report, proxy: Proxy, warnings: list[tuple[str, str]]) -> None:
    for name, message in warnings:
        report.add(Severity.WARNING, message, ("proxy", proxy.mesh, proxy.name, name))


@dataclass(slots=True)
class RunCache:
    """What ``serve`` keeps between runs so that a change costs what it touches: unchanged files are not read
    (:class:`FileCache`), unchanged resources are not validated again, the mesh view is reused while Dataplanes,
    MeshServices and Services are the same objects, a proxy class whose key is unchanged keeps its clusters, and a
    proxy that no changed policy can affect keeps its clusters without its key being computed (the dependency
    index, :mod:`kumahc.incremental`). Keys hold the Resource objects themselves (compared by identity): a
    changed document gives a new object, so new keys. Only what the last run used is kept. (The mesh-wide reach
    warnings are kept per policy on the view itself: ``MeshView.reach``.)"""

    files: FileCache = field(default_factory=FileCache)
    typed: dict[Resource, tuple[object, tuple[Diagnostic, ...]]] = field(default_factory=dict)
    view_inputs: tuple | None = None
    view: MeshView | None = None
    view_diagnostics: tuple[Diagnostic, ...] = ()
    classes: dict[tuple, tuple[tuple[ClusterResult, ...], list[tuple[str, str]]]] = field(default_factory=dict)
    clusters: dict[tuple, tuple[ClusterResult, list[str]]] = field(default_factory=dict)
    # A no-op reload (nothing read, same options and laziness) returns this result as it is.
    last: tuple[tuple[Options, bool], Result] | None = None
    # The dependency index (kumahc.incremental): what the last run's clusters came from, and each proxy's clusters
    # and warnings as built (eagerly, or when materialized); a proxy no changed input can affect keeps them.
    inputs: incremental.Inputs | None = None
    proxies: dict[tuple[str, str], tuple[tuple[ClusterResult, ...], list[tuple[str, str]]]] = field(
        default_factory=dict)


def _typed(kind_check: Callable[[Resource, Report], Any], items: list[tuple[int, Resource]], report: Report,
           cache: RunCache | None, kept: dict, tick: Callable[[int], None] | None = None) -> list:
    """Validate and type core resources, reusing earlier results (and replaying their diagnostics) per object.
    ``tick(1)`` after each one."""
    out = []
    for _, res in items:
        hit = cache.typed.get(res) if cache is not None else None
        if hit is None:
            sub = Report()
            hit = (kind_check(res, sub), tuple(sub.items))
        kept[res] = hit
        report.extend(hit[1])
        if hit[0] is not None:
            out.append(hit[0])
        if tick is not None:
            tick(1)
    return out


Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: stages "files read", "resources validated", "proxies rendered" (counts)."""


def _counter(progress: Progress | None, stage: str, total: int) -> Callable[[int], None] | None:
    """``tick(n)``: ``n`` more items of ``stage`` are done, told to ``progress``; None without progress."""
    if progress is None:
        return None
    done = 0

    def tick(n: int) -> None:
        nonlocal done
        done += n
        progress(stage, done, total)

    return tick


Loader = Callable[[Report], Loaded]
"""A source other than PATH arguments (the store): adds its load diagnostics to the report and returns the
resources, structurally valid, in input order."""


def run(paths: list[str] | Loader, options: Options = Options(), cache: RunCache | None = None,
        lazy: bool = False, progress: Progress | None = None) -> Result:
    """Run the whole pipeline on PATH arguments, or on what a :data:`Loader` gives (already loaded resources:
    no file reading, no YAML, no schema). ``cache`` (serve's reloads) makes a run reuse what the previous one
    computed from unchanged inputs; the result is the same as without it. ``lazy`` (``serve --render
    connected``): everything is loaded and validated, but no proxy's clusters are built; ``Result.clusters`` is
    a :class:`LazyClusters` whose proxies are built when asked for (their precedence warnings then come from
    :meth:`LazyClusters.materialize`, not the report). ``progress`` (:data:`Progress`) is told how far each stage
    is (for the command line's progress bars); it changes nothing else.

    Raises :class:`InputError` (carrying every error, and the warnings found before) when the inputs are invalid,
    or when ``options.strict`` and any warning was reported."""
    with gcpause.paused():
        return _run(paths, options, cache, lazy, progress)


def _run(paths: list[str] | Loader, options: Options, cache: RunCache | None, lazy: bool = False,
         progress: Progress | None = None) -> Result:
    report = Report()
    if callable(paths):
        loaded = paths(report)
    else:
        loaded = load(paths, report, cache.files if cache is not None else None, options.limits,
                      progress=progress)
        if cache is not None:
            if cache.files.unchanged and cache.last is not None and cache.last[0] == (options, lazy):
                return cache.last[1]  # same files, same contents, same options: the same result
    if cache is not None:
        cache.last = None
    memo.next_run()
    by_kind: dict[str, list] = {}
    for order, res in enumerate(loaded.resources):
        by_kind.setdefault(res.kind, []).append((order, res))
    kept: dict = {}
    tick = _counter(progress, "resources validated", len(loaded.resources))
    dataplanes = _typed(core.dataplane, by_kind.get("Dataplane", []), report, cache, kept, tick)
    if not options.keep_documents:
        for dp in dataplanes:
            dp.res.src.doc.release()
    preview = not by_kind.get("Dataplane")
    mesh_services = _typed(core.mesh_service, by_kind.get("MeshService", []), report, cache, kept, tick)
    services = _typed(core.service, by_kind.get("Service", []), report, cache, kept, tick)
    mesh_gateways = _typed(gateways.mesh_gateway, by_kind.get("MeshGateway", []), report, cache, kept, tick)
    routes = _typed(gateways.route, sorted(by_kind.get("MeshHTTPRoute", []) + by_kind.get("MeshTCPRoute", []),
                                           key=lambda item: item[0]), report, cache, kept, tick)
    if cache is not None:
        cache.typed = kept
    families: list[PolicyFamily] = []
    for f in FAMILIES:
        families.append(f.load(by_kind.get(f.KIND, []), report, preview, services))
        if tick is not None:
            tick(len(by_kind.get(f.KIND, ())))
    if progress is not None:
        progress("resources validated", len(loaded.resources), len(loaded.resources))  # Mesh resources too
    if report.has_errors(options.strict):
        raise InputError(report, options.strict)

    preview_proxies = sorted((req for f in families for req in f.preview_proxies()), key=lambda r: r[0])
    preview_dests = sorted((req for f in families for req in f.preview_destinations()), key=lambda r: r[0])

    def preview_protocol(dest: Destination) -> str:
        if options.protocol is not None:
            return options.protocol
        votes = set().union(*(f.preview_votes(dest) for f in families))
        return "grpc" if "grpc" in votes else "http" if "http" in votes else "tcp"

    # Outside preview mode the view depends only on the core resources (and --protocol).
    view_inputs = None if preview else (tuple(dp.res for dp in dataplanes), tuple(m.res for m in mesh_services),
                                        tuple(s.res for s in services), options.protocol,
                                        tuple(g.res for g in mesh_gateways), tuple(r.res for r in routes))
    if cache is not None and view_inputs is not None and cache.view_inputs == view_inputs:
        view = cache.view
        report.extend(cache.view_diagnostics)
    else:
        sub = Report()
        view = mesh_build.build(dataplanes, mesh_services, services, options.protocol, sub,
                               [r for _, r in preview_proxies], [r for _, r in preview_dests], preview_protocol,
                               mesh_gateways, routes)
        report.extend(sub.items)
        if cache is not None:
            cache.view_inputs, cache.view, cache.view_diagnostics = view_inputs, view, tuple(sub.items)
            cache.classes, cache.clusters = {}, {}  # both hold the old view's destinations
            if view_inputs is not None:
                view.index_users()  # the dependency index's reverse index, ready for the next reload
    # Proxies whose clusters depend on equal inputs (same mesh and destinations, equal family keys) form a class:
    # its clusters and precedence warnings are computed once, for its first proxy (and kept across runs).
    reuse = cache is not None and view_inputs is not None
    now = incremental.inputs(options, view, loaded.resources, families) if reuse else None
    affected = incremental.affected(cache.inputs, now) if cache is not None and now is not None else None
    classes = Classes(view, families, cache.classes if reuse else {}, cache.clusters if reuse else {},
                      cache.proxies if cache is not None else None, affected)
    clusters: Mapping[tuple[str, str], tuple[ClusterResult, ...]]
    if lazy:
        clusters = LazyClusters(classes, {})
    else:
        clusters = {}
        for number, proxy in enumerate(view.proxies, 1):
            results, warnings = classes.proxy(proxy)
            _warn(report, proxy, warnings)
            clusters[(proxy.mesh, proxy.name)] = results
            if progress is not None:
                progress("proxies rendered", number, len(view.proxies))
    if reuse:
        # Lazily materialized proxies add to these same dicts later: the next run reuses what was materialized.
        cache.classes, cache.clusters = classes.classes, classes.by_content
        cache.inputs, cache.proxies = now, classes.done
    elif cache is not None:
        cache.inputs, cache.proxies = None, {}
    for f in families:
        f.mesh_warnings(view, report)
    if not preview:
        _mesh_typos(loaded.resources, {p.mesh for p in view.proxies}, report)
    if report.has_errors(options.strict):
        raise InputError(report, options.strict)
    result = Result(loaded, view, tuple(families), clusters, report)
    if cache is not None:
        cache.last = ((options, lazy), result)
    return result


_MESH_TYPOS = frozenset(f.KIND for f in FAMILIES if f.MESH_TYPOS)


def _mesh_typos(resources: tuple[Resource, ...], meshes: set[str], report: Report) -> None:
    """A policy that names a mesh no proxy is in, while other meshes have proxies, is likely a typo: warn at its
    ``mesh`` field with the closest mesh that has proxies (a mistyped mesh otherwise only shows as "matches no
    proxy"). Policies that leave the mesh to its default are not reported."""
    if not meshes:
        return
    from kumahc.resources.kinds import did_you_mean

    for res in resources:
        if res.kind not in _MESH_TYPOS or res.mesh in meshes:
            continue
        value = res.src.doc.value
        path = ("mesh",)
        if "mesh" not in value:
            labels = (value.get("metadata") or {}).get("labels") or {}
            if "kuma.io/mesh" not in labels:
                continue
            path = ("metadata", "labels", "kuma.io/mesh")
        hint = did_you_mean(res.mesh, sorted(meshes)) or f" (meshes with proxies: {', '.join(sorted(meshes))})"
        res.src.warning(report, path, f'mesh "{res.mesh}" has no proxies{hint}')

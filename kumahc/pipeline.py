"""The pipeline facade: load → validate → mesh view → match/merge per family → combine → Envoy clusters.

Pure except for :func:`kumahc.resources.loader.load` reading files. Used by ``render``, ``validate``,
``golden``, ``inspect`` and ``serve``; the same inputs in the same order always give the same clusters.
"""

from __future__ import annotations

from dataclasses import dataclass

from envoy.config.cluster.v3 import cluster_pb2

from kumahc.combine import Combined, combine
from kumahc.diagnostics import InputError, Report, Severity
from kumahc.envoy import cluster as cluster_builder
from kumahc.family import PolicyFamily
from kumahc.healthcheck.family import Family as HealthCheckFamily
from kumahc.kong.family import Family as KongFamily
from kumahc.mesh import view as mesh_view
from kumahc.meshhealthcheck.family import Family as MeshHealthCheckFamily
from kumahc.resources import core
from kumahc.resources.loader import Loaded, load

# Precedence order (03 §5) is combine's business; this is only the order families are loaded and asked.
FAMILIES: tuple[type[PolicyFamily], ...] = (MeshHealthCheckFamily, KongFamily, HealthCheckFamily)


@dataclass(frozen=True, slots=True)
class Options:
    """``protocol``: ``--protocol`` (01 §6.3); ``strict``: ``--strict`` (warnings are errors)."""

    protocol: str | None = None
    strict: bool = False


@dataclass(frozen=True, slots=True)
class ClusterResult:
    cluster: cluster_pb2.Cluster
    groups: Combined


@dataclass(frozen=True, slots=True)
class Result:
    """A successful run: the inputs, the mesh view, the families (for ``inspect``), every proxy's clusters
    sorted by name (keyed by (mesh, proxy name)) and the report (warnings and notes only)."""

    loaded: Loaded
    view: mesh_view.MeshView
    mhc: MeshHealthCheckFamily
    families: tuple[PolicyFamily, ...]
    clusters: dict[tuple[str, str], tuple[ClusterResult, ...]]
    report: Report


def _proxy_clusters(proxy: mesh_view.Proxy, view: mesh_view.MeshView, families: list[PolicyFamily],
                    combined: dict, built: dict, assignments: dict
                    ) -> tuple[tuple[ClusterResult, ...], list[tuple[str, str]]]:
    """One proxy's clusters (sorted by name) and its precedence warnings as (cluster, message). The dicts are
    caches shared by the whole run: combine results by contribution ids, clusters by (destination, contribution
    ids), load assignments by destination."""
    results = []
    warnings: list[tuple[str, str]] = []
    for name in proxy.destinations:
        dest = view.destinations[(proxy.mesh, name)]
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
        results.append(result)
    return tuple(results), warnings


def run(paths: list[str], options: Options = Options()) -> Result:
    """Run the whole pipeline on PATH arguments.

    Raises :class:`InputError` (carrying every error, and the warnings found before) when the inputs are invalid,
    or when ``options.strict`` and any warning was reported."""
    report = Report()
    loaded = load(paths, report)
    by_kind: dict[str, list] = {}
    for order, res in enumerate(loaded.resources):
        by_kind.setdefault(res.kind, []).append((order, res))
    dataplanes = [dp for _, r in by_kind.get("Dataplane", []) if (dp := core.dataplane(r, report)) is not None]
    preview = not by_kind.get("Dataplane")
    mesh_services = [m for _, r in by_kind.get("MeshService", []) if (m := core.mesh_service(r, report)) is not None]
    services = [s for _, r in by_kind.get("Service", []) if (s := core.service(r, report)) is not None]
    families: list[PolicyFamily] = [f.load(by_kind.get(f.KIND, []), report, preview, services) for f in FAMILIES]
    mhc = families[0]
    if report.has_errors(options.strict):
        raise InputError(report, options.strict)

    preview_proxies = sorted((req for f in families for req in f.preview_proxies()), key=lambda r: r[0])
    preview_dests = sorted((req for f in families for req in f.preview_destinations()), key=lambda r: r[0])

    def preview_protocol(dest: mesh_view.Destination) -> str:
        if options.protocol is not None:
            return options.protocol
        votes = set().union(*(f.preview_votes(dest) for f in families))
        return "grpc" if "grpc" in votes else "http" if "http" in votes else "tcp"

    view = mesh_view.build(dataplanes, mesh_services, services, options.protocol, report,
                           [r for _, r in preview_proxies], [r for _, r in preview_dests], preview_protocol)
    clusters: dict[tuple[str, str], tuple[ClusterResult, ...]] = {}
    built: dict[tuple, ClusterResult] = {}
    combined: dict[tuple[int, ...], tuple[Combined, list[str]]] = {}
    assignments: dict[tuple[str, str], object] = {}
    # Proxies whose clusters depend on equal inputs (same mesh and destinations, equal family keys) form a class:
    # its clusters and precedence warnings are computed once, for its first proxy.
    classes: dict[tuple, tuple[tuple[ClusterResult, ...], list[tuple[str, str]]]] = {}
    for proxy in view.proxies:
        key = (proxy.mesh, proxy.destinations, tuple(f.proxy_key(proxy) for f in families))
        found_class = classes.get(key)
        if found_class is None:
            found_class = classes[key] = _proxy_clusters(proxy, view, families, combined, built, assignments)
        results, warnings = found_class
        for name, message in warnings:
            report.add(Severity.WARNING, message, ("proxy", proxy.mesh, proxy.name, name))
        clusters[(proxy.mesh, proxy.name)] = results
    for f in families:
        f.mesh_warnings(view, report)
    if report.has_errors(options.strict):
        raise InputError(report, options.strict)
    return Result(loaded, view, mhc, tuple(families), clusters, report)

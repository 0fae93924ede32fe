"""Builtin gateways' clusters (issue 20, Kuma's ``pkg/plugins/runtime/gateway``): which MeshGateway serves a gateway
Dataplane, the tags of each of its listeners, and one cluster per distinct backend the MeshHTTPRoutes and
MeshTCPRoutes attached to a listener reach.

Cluster names follow Kuma's ``DestinationClusterName``: the destination's ``kuma.io/service`` value, ``-``, then
the first 8 bytes (16 hex digits) of SHA-256 over the destination tags and then the listener's tags, each map's
keys sorted, each pair written as key then value. The destination tags are the route's service
(``{kuma.io/service: backend}``, plus a MeshServiceSubset's tags) or, for a MeshService resource,
``<mesh>_<name>_<namespace>_<zone>_msvc_<port>`` (zone empty: kumahc models one zone).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from kumahc.diagnostics import Report
from kumahc.mesh import protocol as proto
from kumahc.mesh.model import Destination
from kumahc.resources.core import Dataplane, MeshService
from kumahc.resources.gateways import BackendRef, Listener, MeshGateway, Route
from kumahc.resources.model import KUBERNETES
from kumahc.resources.tags import PROTOCOL, SERVICE, selector_matches


def select_gateway(tags: Mapping[str, str], mesh: str, gateways: Sequence[MeshGateway]) -> MeshGateway | None:
    """The MeshGateway of a builtin gateway Dataplane tagged ``tags`` (Kuma's ``SelectGateway``): the best rank of
    a matching selector (exact tags, then ``*`` tags); ties go to the later ``creationTime``, then to the first
    name in sorted order."""
    best: tuple | None = None
    found: MeshGateway | None = None
    for gw in sorted(gateways, key=lambda g: g.res.name):
        if gw.res.mesh != mesh:
            continue
        rank = gw.rank(tags)
        if rank is None:
            continue
        created = gw.res.creation_time
        key = (rank, (0,) if created is None else (1, created))
        if best is None or key > best:
            best, found = key, gw
    return found


def listener_tags(dp_tags: Mapping[str, str], gateway: MeshGateway, listener: Listener) -> dict[str, str]:
    """A listener's tags: the gateway Dataplane's, overridden by the MeshGateway's, overridden by the
    listener's own (Kuma merges them in that order)."""
    return {**dp_tags, **gateway.tags, **listener.tags}


def cluster_name(destination_tags: Mapping[str, str], host_tags: Mapping[str, str]) -> str:
    """Kuma's gateway cluster name of a destination reached from a listener tagged ``host_tags``."""
    h = hashlib.sha256()
    for tags in (destination_tags, host_tags):
        for k in sorted(tags):
            h.update(k.encode())
            h.update(tags[k].encode())
    return f"{destination_tags[SERVICE]}-{h.hexdigest()[:16]}"


def route_attaches(route: Route, gateway: MeshGateway, listener: Listener, host_tags: Mapping[str, str]) -> bool:
    """Does ``route`` give clusters to ``listener``: it names the gateway, the listener's protocol is one its kind
    serves, and its listener ``tags`` (if any) match the listener's tags."""
    if route.gateway != gateway.res.name or route.res.mesh != gateway.res.mesh:
        return False
    if listener.protocol not in route.protocols:
        return False
    return route.tags is None or selector_matches(route.tags, host_tags)


@dataclass(frozen=True, slots=True)
class Backend:
    """Where a backendRef leads: the destination tags that name the cluster, the ordinary destination whose
    endpoints and identity it takes (None: none in the mesh), the protocol, and the legacy service name
    (None for a MeshService resource)."""

    tags: dict[str, str]
    dest: Destination | None
    protocol: str
    service: str | None


def resolve(ref: BackendRef, mesh: str, route_protocol: str, services: Mapping[tuple[str, str, str], MeshService],
            destinations: Mapping[tuple[str, str], Destination]) -> Backend | None:
    """The backend of ``ref`` (a route of ``mesh`` whose kind forwards ``route_protocol``), or None when it names a
    MeshService without the port (or needs one: several ports)."""
    ms = services.get((mesh, ref.namespace, ref.name))
    if ms is None or ref.kind == "MeshServiceSubset":
        tags = {SERVICE: ref.name, **ref.tags}
        base = destinations.get((mesh, ref.name))
        written = proto.normalise(tags.get(PROTOCOL))
        protocol = route_protocol if written == proto.UNKNOWN else written
        return Backend(tags, base, protocol, ref.name)
    if ref.port is None:
        if len(ms.ports) != 1:
            return None
        port = ms.ports[0]
    else:
        port = next((p for p in ms.ports if p.port == ref.port), None)
        if port is None:
            return None
    res = ms.res
    if res.format == KUBERNETES:
        local = f"{res.name}_{res.namespace}_svc_{port.port}"
    else:
        local = res.name if len(ms.ports) == 1 else f"{res.name}_{port.port}"
    written = proto.normalise(port.app_protocol)
    protocol = route_protocol if written == proto.UNKNOWN else written
    service = f"{mesh}_{res.name}_{res.namespace}__msvc_{port.port}"
    return Backend({SERVICE: service}, destinations.get((mesh, local)), protocol, None)


def gateway_clusters(dp_tags: Mapping[str, str], gateway: MeshGateway, routes: Iterable[Route],
                     services: Mapping[tuple[str, str, str], MeshService],
                     destinations: Mapping[tuple[str, str], Destination],
                     dataplanes: Sequence[Dataplane] = ()) -> list[Destination]:
    """The clusters of a builtin gateway tagged ``dp_tags`` served by ``gateway``: per listener (written order),
    per attached route (input order), per backendRef, one destination; the first of equal names is kept."""
    mesh = gateway.res.mesh
    routes = list(routes)
    out: dict[str, Destination] = {}
    for listener in gateway.listeners:
        host = listener_tags(dp_tags, gateway, listener)
        for route in routes:
            if not route_attaches(route, gateway, listener, host):
                continue
            route_protocol = "http" if route.res.kind == "MeshHTTPRoute" else "tcp"
            for ref in route.backends:
                backend = resolve(ref, mesh, route_protocol, services, destinations)
                if backend is None:
                    continue
                name = cluster_name(backend.tags, host)
                if name not in out:
                    dest = _destination(mesh, name, ref, backend, host)
                    if backend.service is not None and len(backend.tags) > 1:
                        dest = replace(dest, endpoints=subset_endpoints(dataplanes, mesh, backend.tags))
                    out[name] = dest
    return list(out.values())


def _destination(mesh: str, name: str, ref: BackendRef, backend: Backend, host: dict[str, str]) -> Destination:
    base = backend.dest
    if base is None:
        labels = {"kuma.io/mesh": mesh, "kuma.io/display-name": ref.name}
        base = Destination(mesh, name, ref.name, ref.namespace, ref.port, None, labels, backend.protocol,
                           "gateway route", (), (), None)
    # A KongUpstreamPolicy configures Kong's upstreams, not a Kuma gateway's clusters.
    return replace(base, name=name, protocol=backend.protocol, protocol_source="gateway route",
                   upstream_policies=(), host_tags=host, backend=backend.service)


def subset_endpoints(dataplanes: Iterable[Dataplane], mesh: str, tags: Mapping[str, str]
                     ) -> tuple[tuple[str, int], ...]:
    """Endpoints of the inbounds of ``mesh`` carrying every tag of ``tags`` (a MeshServiceSubset backend)."""
    out: list[tuple[str, int]] = []
    for dp in sorted(dataplanes, key=lambda d: d.proxy_name):
        if dp.res.mesh != mesh:
            continue
        for ib in dp.inbounds:
            if all(ib.tags.get(k) == v for k, v in tags.items()) and (ib.address, ib.port) not in out:
                out.append((ib.address, ib.port))
    return tuple(out)


def route_warnings(routes: Iterable[Route], gateways: Sequence[MeshGateway],
                   services: Mapping[tuple[str, str, str], MeshService], report: Report) -> None:
    """Warn about a route naming a MeshGateway the inputs lack, and a backendRef to a MeshService resource without
    a port it needs (several ports) or with a port it lacks: no cluster comes of them (as for Dataplane outbounds,
    01 §6.4)."""
    names = {(g.res.mesh, g.res.name) for g in gateways}
    for route in routes:
        res = route.res
        if route.gateway is None:
            continue
        if (res.mesh, route.gateway) not in names:
            res.src.warning(report, res.at("targetRef", "name"), f'references unknown MeshGateway "{route.gateway}"')
        for ref in route.backends:
            ms = services.get((res.mesh, ref.namespace, ref.name))
            if ms is None or ref.kind != "MeshService":
                continue
            shown = f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name
            if ref.port is None and len(ms.ports) != 1:
                res.src.warning(report, (*ref.path, "port"),
                                f'must be set when MeshService "{shown}" has several ports; skipped')
            elif ref.port is not None and all(p.port != ref.port for p in ms.ports):
                res.src.warning(report, (*ref.path, "port"), f'MeshService "{shown}" has no port {ref.port}; skipped')

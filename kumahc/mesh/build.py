"""Building the mesh view (spec 01 §5–§7): built once from the validated core resources; pure. Destinations come
from MeshServices, Services and the Dataplanes' inbounds and outbounds; each proxy is assembled with the
destinations it reaches; without Dataplanes (preview mode) the requested ones are synthesised."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kumahc.diagnostics import Report, Severity
from kumahc.mesh.destinations import DestinationDraft, add_mesh_service_port, finish
from kumahc.mesh.endpoints import Inbounds
from kumahc.mesh.gateways import gateway_clusters, listener_tags, route_warnings, select_gateway
from kumahc.mesh.model import Destination, MeshView, PreviewDestination, PreviewProxy, Proxy, union_tags
from kumahc.mesh.preview import synthesise_destinations, synthesise_proxies
from kumahc.resources.core import Dataplane, MeshService, Service
from kumahc.resources.gateways import MeshGateway, Route
from kumahc.resources.model import KUBERNETES, UNIVERSAL
from kumahc.resources.tags import SERVICE


def build(
    dataplanes: Iterable[Dataplane],
    mesh_services: Iterable[MeshService],
    services: Iterable[Service],
    protocol_override: str | None,
    report: Report,
    preview_proxies: Iterable[PreviewProxy] = (),
    preview_destinations: Iterable[PreviewDestination] = (),
    preview_protocol: Callable[[Destination], str] | None = None,
    gateways: Iterable[MeshGateway] = (),
    routes: Iterable[Route] = (),
) -> MeshView:
    """Build the view. Without Dataplanes this is preview mode: the requested proxies and destinations are
    synthesised (and one builtin gateway proxy per MeshGateway) and ``info: preview mode…`` is reported when any
    proxy is. Warnings for skipped outbounds (01 §6.4) go to ``report``. Builtin gateway proxies get the
    clusters their MeshGateway's routes reach (:mod:`kumahc.mesh.gateways`)."""
    dataplanes = list(dataplanes)
    gateways = list(gateways)
    routes = list(routes)
    mesh_services = list(mesh_services)
    services = list(services)
    preview = not dataplanes
    dests: dict[tuple[str, str], DestinationDraft] = {}

    def dest(mesh: str, name: str) -> DestinationDraft:
        d = dests.get((mesh, name))
        if d is None:
            d = dests[(mesh, name)] = DestinationDraft(mesh, name)
        return d

    universal_ms = {(m.res.mesh, m.res.name) for m in mesh_services if m.res.format == UNIVERSAL}
    for ms in mesh_services:
        for port in ms.ports:
            add_mesh_service_port(dest, ms, port)
    for svc in services:
        for port in svc.ports:
            d = dest(svc.res.mesh, f"{svc.res.name}_{svc.res.namespace}_svc_{port.port}")
            if svc.upstream_policy is not None and (svc.res.namespace, svc.upstream_policy) not in d.upstream:
                d.upstream.append((svc.res.namespace, svc.upstream_policy))
            if d.svc_protocol is None:
                d.svc_protocol = port.app_protocol
            if d.identity_from < 2:
                d.id_name, d.namespace, d.port, d.section = svc.res.name, svc.res.namespace, port.port, port.name
                d.labels, d.identity_from = svc.res.labels, 2
    for dp in dataplanes:
        for ib in dp.inbounds:
            svc_name = ib.tags[SERVICE]
            if (dp.res.mesh, svc_name) not in universal_ms:
                dest(dp.res.mesh, svc_name)
        for ob in dp.outbounds or ():
            if ob.service is not None:
                dest(dp.res.mesh, ob.service)

    synthetic_proxies: list[Proxy] = []
    if preview:
        synthesise_destinations(dests, dest, preview_destinations)
    inbounds = None if preview else Inbounds(dataplanes)
    built = {key: finish(d, inbounds, protocol_override, preview, preview_protocol) for key, d in dests.items()}
    by_mesh: dict[str, list[str]] = {}
    for m, n in built:
        by_mesh.setdefault(m, []).append(n)
    services_by_name = {(m.res.mesh, m.res.namespace, m.res.name): m for m in mesh_services}
    proxies = [_proxy(dp, by_mesh, services_by_name, report) for dp in dataplanes if dp.gateway is None
               or dp.gateway.type != "BUILTIN"]
    ordinary = dict(built)
    route_warnings(routes, gateways, services_by_name, report)
    for dp in dataplanes:
        if dp.gateway is not None and dp.gateway.type == "BUILTIN":
            proxies.append(_builtin(dp, dp.gateway.tags, gateways, routes, services_by_name, ordinary, dataplanes,
                                    built, report))
    if preview:
        synthetic_proxies = synthesise_proxies(preview_proxies, built)
        for gw in gateways:
            tags = {k: (gw.res.name if v == "*" else v) for k, v in gw.selectors[0].items()}
            synthetic_proxies.append(_builtin(None, tags, [gw], routes, services_by_name, ordinary, dataplanes,
                                              built, report, gw))
        proxies.extend(synthetic_proxies)
        if synthetic_proxies:
            names = ", ".join(sorted(f"{p.mesh}/{p.name}" for p in synthetic_proxies))
            report.add(Severity.INFO, f"preview mode: no Dataplane in the inputs; synthesised proxies: {names}",
                       ("preview",))
    proxies.sort(key=lambda p: (p.mesh, p.name))
    ordered = dict(sorted(built.items()))
    return MeshView(tuple(proxies), ordered, preview)


def _proxy(dp: Dataplane, by_mesh: dict[str, list[str]], services: dict[tuple[str, str, str], MeshService],
           report: Report) -> Proxy:
    res = dp.res
    mesh = res.mesh
    if dp.outbounds is None:
        names = by_mesh.get(mesh, [])
    else:
        names = []
        for ob in dp.outbounds:
            if ob.service is not None:
                names.append(ob.service)
                continue
            name = _backend_destination(dp, ob, services, report)
            if name is not None:
                names.append(name)
    inbound_tags = tuple(ib.tags for ib in dp.inbounds)
    labels = dict(res.labels)
    labels.setdefault("kuma.io/mesh", mesh)
    labels.setdefault("kuma.io/display-name", res.name)
    if res.format == KUBERNETES:
        labels.setdefault("k8s.kuma.io/namespace", res.namespace)
    gateway_type = None
    if dp.gateway is not None:  # a delegated gateway: selected by its gateway tags, like a sidecar's inbound
        gateway_type = dp.gateway.type
        inbound_tags = (dp.gateway.tags,) if dp.gateway.tags else ()
    return Proxy(mesh, dp.proxy_name, res.name, res.namespace, res.format, inbound_tags, union_tags(inbound_tags),
                 labels, tuple(sorted(set(names))), gateway_type=gateway_type)


def _builtin(dp: Dataplane | None, tags: dict[str, str], gateways: list[MeshGateway], routes: list[Route],
             services: dict[tuple[str, str, str], MeshService], ordinary: dict[tuple[str, str], Destination],
             dataplanes: list[Dataplane], built: dict[tuple[str, str], Destination], report: Report,
             synthetic: MeshGateway | None = None) -> Proxy:
    """A builtin gateway proxy: the MeshGateway selecting it, its listeners' tags and its clusters (added to
    ``built``). ``dp`` None: the preview proxy of MeshGateway ``synthetic``."""
    res = dp.res if dp is not None else synthetic.res
    mesh = res.mesh
    gw = synthetic if dp is None else select_gateway(tags, mesh, gateways)
    names: list[str] = []
    listeners: list[dict[str, str]] = []
    if gw is None:
        res.src.warning(report, res.at("networking", "gateway"), "no MeshGateway selects this builtin gateway; "
                                                                 "it gets no clusters")
    else:
        for listener in gw.listeners:
            merged = listener_tags(tags, gw, listener)
            if merged not in listeners:
                listeners.append(merged)
        for d in gateway_clusters(tags, gw, routes, services, ordinary, dataplanes):
            built.setdefault((mesh, d.name), d)
            names.append(d.name)
    name = res.name if dp is None else dp.proxy_name
    namespace = "" if dp is None else res.namespace
    fmt = UNIVERSAL if dp is None else res.format
    labels = {} if dp is None else dict(res.labels)
    labels.setdefault("kuma.io/mesh", mesh)
    labels.setdefault("kuma.io/display-name", res.name)
    if fmt == KUBERNETES:
        labels.setdefault("k8s.kuma.io/namespace", namespace)
    return Proxy(mesh, name, res.name, namespace, fmt, tuple(listeners), union_tags([tags]), labels,
                 tuple(sorted(set(names))), synthetic=dp is None, gateway_type="BUILTIN",
                 gateway=gw.res.name if gw is not None else "")


def _backend_destination(dp: Dataplane, ob, services: dict[tuple[str, str, str], MeshService],
                         report: Report) -> str | None:
    ref = ob.backend
    path = dp.res.at("networking", "outbound", ob.index)
    shown = f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name
    ms = services.get((dp.res.mesh, ref.namespace, ref.name))
    if ms is None:
        dp.res.src.warning(report, path, f'references unknown MeshService "{shown}"; skipped')
        return None
    if ref.port is None:
        if len(ms.ports) != 1:
            dp.res.src.warning(report, (*path, "backendRef", "port"),
                               f'must be set when MeshService "{shown}" has several ports; skipped')
            return None
        port = ms.ports[0].port
    else:
        port = ref.port
        if all(p.port != port for p in ms.ports):
            dp.res.src.warning(report, (*path, "backendRef", "port"),
                               f'MeshService "{shown}" has no port {port}; skipped')
            return None
    if ms.res.format == KUBERNETES:
        return f"{ms.res.name}_{ms.res.namespace}_svc_{port}"
    return ms.res.name if len(ms.ports) == 1 else f"{ms.res.name}_{port}"

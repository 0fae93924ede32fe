"""The mesh view: proxies, destinations, endpoints and protocols (spec 01 §5–§7).

Built once from the validated core resources; pure. Policy families never look at raw Dataplanes: they select
:class:`Proxy` values and match :class:`Destination` values. In preview mode (no Dataplane in the inputs) the
proxies and destinations asked for by the policy families (:class:`PreviewProxy`, :class:`PreviewDestination`)
are synthesised here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from kumahc.diagnostics import Report, Severity
from kumahc.mesh import protocol as proto
from kumahc.resources.core import Dataplane, MeshService, Service
from kumahc.resources.model import KUBERNETES, UNIVERSAL
from kumahc.resources.tags import PROTOCOL, SERVICE

# A Kubernetes MeshService known by its tag name ``<name>_<namespace>_svc_<port>`` (also how targetRefs name it).
K8S_NAME = re.compile(r"^([^_]+)_([^_]+)_svc_([0-9]+)$")


@dataclass(frozen=True, slots=True, eq=False)
class Destination:
    """One (service, port) → one cluster named ``name`` (01 §6). Identity fields (01 §6.1): ``id_name``,
    ``namespace``, ``port`` (None when unknown), ``section`` (port name), ``labels`` (implicit ones included).
    ``protocol_source`` says which rule of 01 §6.3 chose ``protocol`` (used by ``inspect``).
    ``upstream_policies``: (namespace, name) of the KongUpstreamPolicy named by each backing Service (04 §1)."""

    mesh: str
    name: str
    id_name: str
    namespace: str
    port: int | None
    section: str | None
    labels: dict[str, str]
    protocol: str
    protocol_source: str
    endpoints: tuple[tuple[str, int], ...]
    upstream_policies: tuple[tuple[str, str], ...]
    mesh_service: MeshService | None


@dataclass(frozen=True, slots=True, eq=False)
class Proxy:
    """One Envoy (01 §5.1) or a synthetic preview proxy (01 §7). ``dp_name`` is ``metadata.name`` (Kubernetes)
    or ``name``; ``namespace`` is ``""`` for Universal. ``tags`` = union of inbound tags, values sorted.
    ``destinations`` = cluster names, sorted."""

    mesh: str
    name: str
    dp_name: str
    namespace: str
    format: str
    inbound_tags: tuple[dict[str, str], ...]
    tags: dict[str, tuple[str, ...]]
    labels: dict[str, str]
    destinations: tuple[str, ...]
    synthetic: bool = False


@dataclass(frozen=True, slots=True)
class PreviewProxy:
    """A policy's top-level selector, asking for a synthetic proxy (01 §7). ``cls`` ∈ mesh, tags, labels, name,
    kong; ``selector`` = tags or labels (``*`` allowed in tags); ``name``/``namespace`` for class ``name``."""

    mesh: str
    cls: str
    selector: tuple[tuple[str, str], ...] = ()
    name: str = ""
    namespace: str = ""


@dataclass(frozen=True, slots=True)
class PreviewDestination:
    """A policy reference that needs a destination in preview mode (01 §7). ``kind``: ``meshservice`` (``name``,
    ``namespace``, ``port``, ``section``), ``tag`` (``name``), ``service`` (Service ``name``/``namespace``
    port 80 annotated with ``policy``), ``any-service``. ``matches`` tells whether an existing destination
    already satisfies the reference."""

    mesh: str
    kind: str
    matches: Callable[[Destination], bool] = field(compare=False)
    name: str = ""
    namespace: str = ""
    port: int = 80
    section: str = ""
    policy: str = ""


@dataclass(frozen=True, slots=True)
class MeshView:
    """Every proxy sorted by (mesh, name); destinations by (mesh, name)."""

    proxies: tuple[Proxy, ...]
    destinations: dict[tuple[str, str], Destination]
    preview: bool


@dataclass(slots=True)
class _Dest:
    """Destination under construction."""

    mesh: str
    name: str
    id_name: str = ""
    namespace: str = ""
    port: int | None = None
    section: str | None = None
    labels: dict[str, str] | None = None
    ms: MeshService | None = None
    ms_port: object = None
    upstream: list = field(default_factory=list)
    svc_protocol: str | None = None
    identity_from: int = 0  # 3 = MeshService, 2 = Service, 1 = tag


def build(
    dataplanes: Iterable[Dataplane],
    mesh_services: Iterable[MeshService],
    services: Iterable[Service],
    protocol_override: str | None,
    report: Report,
    preview_proxies: Iterable[PreviewProxy] = (),
    preview_destinations: Iterable[PreviewDestination] = (),
    preview_protocol: Callable[[Destination], str] | None = None,
) -> MeshView:
    """Build the view. Without Dataplanes this is preview mode: the requested proxies and destinations are
    synthesised and ``info: preview mode…`` is reported when any proxy is. Warnings for skipped outbounds
    (01 §6.4) go to ``report``."""
    dataplanes = list(dataplanes)
    mesh_services = list(mesh_services)
    services = list(services)
    preview = not dataplanes
    dests: dict[tuple[str, str], _Dest] = {}

    def dest(mesh: str, name: str) -> _Dest:
        d = dests.get((mesh, name))
        if d is None:
            d = dests[(mesh, name)] = _Dest(mesh, name)
        return d

    universal_ms = {(m.res.mesh, m.res.name) for m in mesh_services if m.res.format == UNIVERSAL}
    for ms in mesh_services:
        for port in ms.ports:
            _add_ms_port(dest, ms, port)
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
        _synthesise_destinations(dests, dest, preview_destinations)
    inbounds = None if preview else _Inbounds(dataplanes)
    built = {key: _finish(d, inbounds, protocol_override, preview, preview_protocol) for key, d in dests.items()}
    by_mesh: dict[str, list[str]] = {}
    for m, n in built:
        by_mesh.setdefault(m, []).append(n)
    services_by_name = {(m.res.mesh, m.res.namespace, m.res.name): m for m in mesh_services}
    proxies = [_proxy(dp, by_mesh, services_by_name, report) for dp in dataplanes]
    if preview:
        synthetic_proxies = _synthesise_proxies(preview_proxies, built)
        proxies.extend(synthetic_proxies)
        if synthetic_proxies:
            names = ", ".join(sorted(f"{p.mesh}/{p.name}" for p in synthetic_proxies))
            report.add(Severity.INFO, f"preview mode: no Dataplane in the inputs; synthesised proxies: {names}",
                       ("preview",))
    proxies.sort(key=lambda p: (p.mesh, p.name))
    ordered = dict(sorted(built.items()))
    return MeshView(tuple(proxies), ordered, preview)


def _add_ms_port(dest: Callable[[str, str], _Dest], ms: MeshService, port) -> None:
    res = ms.res
    if res.format == KUBERNETES:
        name = f"{res.name}_{res.namespace}_svc_{port.port}"
    else:
        name = res.name if len(ms.ports) == 1 else f"{res.name}_{port.port}"
    d = dest(res.mesh, name)
    if d.identity_from < 3:
        d.id_name, d.namespace, d.port, d.section = res.name, res.namespace, port.port, port.name
        d.labels, d.ms, d.ms_port, d.identity_from = res.labels, ms, port, 3


def _finish(d: _Dest, inbounds: _Inbounds | None, override: str | None, preview: bool,
            preview_protocol: Callable[[Destination], str] | None) -> Destination:
    if not d.identity_from:
        m = K8S_NAME.match(d.name)
        if m:
            d.id_name, d.namespace, d.port, d.section = m.group(1), m.group(2), int(m.group(3)), m.group(3)
        else:
            d.id_name = d.name
    labels = dict(d.labels or {})
    labels.setdefault("kuma.io/mesh", d.mesh)
    labels.setdefault("kuma.io/display-name", d.id_name)
    if d.namespace:
        labels.setdefault("k8s.kuma.io/namespace", d.namespace)
    endpoints, protocols = ([], []) if inbounds is None else inbounds.endpoints(d)
    if d.ms_port is not None and d.ms_port.app_protocol is not None:
        protocol, source = proto.normalise(d.ms_port.app_protocol), "MeshService appProtocol"
    elif d.svc_protocol is not None:
        protocol, source = proto.normalise(d.svc_protocol), "Service appProtocol"
    elif preview:
        protocol, source = proto.UNKNOWN, "preview"
    else:
        protocol, source = proto.of_endpoints(protocols), "kuma.io/protocol tags"
        if protocol == proto.UNKNOWN:
            source = "unknown"
    if protocol == proto.UNKNOWN and override is not None:
        protocol, source = override, "--protocol"
    out = Destination(d.mesh, d.name, d.id_name, d.namespace, d.port, d.section, labels, protocol, source,
                      tuple(endpoints), tuple(d.upstream), d.ms)
    if source == "preview" and preview_protocol is not None:
        out = replace(out, protocol=preview_protocol(out))
    return out


class _Inbounds:
    """Every inbound of the mesh's Dataplanes, indexed by (mesh, tag key, tag value), in (proxy name, inbound
    index) order: endpoint lookups cost the matching inbounds, not every Dataplane (01 §6.2)."""

    def __init__(self, dataplanes: Iterable[Dataplane]):
        self.by_tag: dict[tuple[str, str, str], list[tuple[str, int, object]]] = {}
        self.by_mesh: dict[str, list[tuple[str, int, object]]] = {}
        for dp in sorted(dataplanes, key=lambda dp: dp.proxy_name):
            for ib in dp.inbounds:
                item = (dp.proxy_name, ib.index, ib)
                self.by_mesh.setdefault(dp.res.mesh, []).append(item)
                for k, v in ib.tags.items():
                    self.by_tag.setdefault((dp.res.mesh, k, v), []).append(item)

    def endpoints(self, d: _Dest) -> tuple[list[tuple[str, int]], list[str | None]]:
        """01 §6.2: inbounds tagged with the destination name, plus the MeshService selector's inbounds on the
        port's targetPort; duplicates dropped; ordered by proxy name then inbound index."""
        found = list(self.by_tag.get((d.mesh, SERVICE, d.name), ()))
        selector = d.ms.selector if d.ms is not None else None
        if selector is not None:
            target = d.ms_port.target_port
            first = next(iter(sorted(selector.items())), None)
            pool = self.by_tag.get((d.mesh, *first), ()) if first else self.by_mesh.get(d.mesh, ())
            for item in pool:
                ib = item[2]
                if ib.tags[SERVICE] != d.name and all(ib.tags.get(k) == v for k, v in selector.items()) and (
                        ib.port == target if isinstance(target, int) else ib.name == target):
                    found.append(item)
            found.sort(key=lambda f: (f[0], f[1]))
        endpoints, protocols = [], []
        seen: set[tuple[str, int]] = set()
        for _, _, ib in found:
            ep = (ib.address, ib.port)
            if ep not in seen:
                seen.add(ep)
                endpoints.append(ep)
                protocols.append(ib.tags.get(PROTOCOL))
        return endpoints, protocols


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
    return Proxy(mesh, dp.proxy_name, res.name, res.namespace, res.format, inbound_tags, union_tags(inbound_tags),
                 labels, tuple(sorted(set(names))))


def union_tags(inbound_tags: Iterable[dict[str, str]]) -> dict[str, tuple[str, ...]]:
    """Proxy tags: every inbound's tags, multi-valued, values sorted (01 §5.1)."""
    acc: dict[str, set[str]] = {}
    for tags in inbound_tags:
        for k, v in tags.items():
            acc.setdefault(k, set()).add(v)
    return {k: tuple(sorted(v)) for k, v in sorted(acc.items())}


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


# --- preview mode (01 §7) -------------------------------------------------------------------------------------


def _synthesise_destinations(dests: dict[tuple[str, str], _Dest], dest: Callable[[str, str], _Dest],
                             requests: Iterable[PreviewDestination]) -> None:
    """Add a destination for every request that no destination (declared or synthesised before) matches."""
    for req in requests:
        existing = [_finish(d, None, None, True, None) for (m, _), d in dests.items() if m == req.mesh]
        if any(req.matches(e) for e in existing):
            continue
        if req.kind == "meshservice":
            name = f"{req.name}_{req.namespace}_svc_{req.port}" if req.namespace else req.name
            d = dest(req.mesh, name)
            d.id_name, d.namespace, d.port, d.section, d.identity_from = (
                req.name, req.namespace, req.port, req.section or str(req.port), 3)
        elif req.kind == "service":
            d = dest(req.mesh, f"{req.name}_{req.namespace}_svc_80")
            d.id_name, d.namespace, d.port, d.section, d.identity_from = req.name, req.namespace, 80, "80", 2
            d.upstream.append((req.namespace, req.policy))
        elif req.kind == "tag":
            dest(req.mesh, req.name)
        else:
            dest(req.mesh, "any-service")


_SEED_KEYS = ("kuma.io/service", "app", "app.kubernetes.io/name")


def seed_of(selector: Iterable[tuple[str, str]]) -> str:
    """N(map) of 01 §7: ``kuma.io/service``, else ``app``, else ``app.kubernetes.io/name`` (``*`` ignored), else
    the non-``*`` values sorted by key joined by ``-``, else ``any-proxy``."""
    m = dict(selector)
    for k in _SEED_KEYS:
        if m.get(k) not in (None, "*"):
            return m[k]
    rest = [v for _, v in sorted(m.items()) if v != "*"]
    return "-".join(rest) if rest else "any-proxy"


def _synthesise_proxies(requests: Iterable[PreviewProxy], built: dict[tuple[str, str], Destination]) -> list[Proxy]:
    taken: dict[tuple[str, str], PreviewProxy] = {}
    out: list[Proxy] = []
    for req in requests:
        key = _identity(req)
        if any(_identity(r) == key for (m, _), r in taken.items() if m == req.mesh):
            continue
        base = {"mesh": "any-proxy", "kong": "kong", "name": req.name}.get(req.cls) or seed_of(req.selector)
        name, n = base, 1
        namespace = req.namespace if req.cls == "name" else ""
        proxy_name = f"{name}.{namespace}" if namespace else name
        while (req.mesh, proxy_name) in taken:
            n += 1
            name = f"{base}-{n}"
            proxy_name = f"{name}.{namespace}" if namespace else name
        taken[(req.mesh, proxy_name)] = req
        out.append(_synthetic(req, name, proxy_name, built))
    return out


def _identity(req: PreviewProxy) -> tuple:
    return (req.cls, req.selector, req.name, req.namespace)


def _synthetic(req: PreviewProxy, name: str, proxy_name: str, built: dict[tuple[str, str], Destination]) -> Proxy:
    labels: dict[str, str] = {}
    if req.cls == "tags":
        tags = {k: (proxy_name if v == "*" else v) for k, v in req.selector}
        tags.setdefault(SERVICE, proxy_name)
    else:
        tags = {SERVICE: proxy_name if req.cls != "name" else req.name}
        if req.cls == "labels":
            labels = dict(req.selector)
    fmt = KUBERNETES if req.namespace and req.cls == "name" else UNIVERSAL
    labels.setdefault("kuma.io/mesh", req.mesh)
    labels.setdefault("kuma.io/display-name", name)
    if fmt == KUBERNETES:
        labels.setdefault("k8s.kuma.io/namespace", req.namespace)
    inbound = (tags,)
    names = tuple(sorted(n for (m, n) in built if m == req.mesh))
    return Proxy(req.mesh, proxy_name, name, req.namespace if fmt == KUBERNETES else "", fmt, inbound,
                 union_tags(inbound), labels, names, synthetic=True)

"""Destinations under construction and their completion (spec 01 §6): identity from a MeshService port, a Service
port or the tag name; labels; endpoints; the protocol and which rule of 01 §6.3 chose it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace

from kumahc.mesh import protocol as proto
from kumahc.mesh.endpoints import Inbounds
from kumahc.mesh.model import K8S_NAME, Destination
from kumahc.resources.core import MeshService
from kumahc.resources.model import KUBERNETES


@dataclass(slots=True)
class DestinationDraft:
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


def add_mesh_service_port(dest: Callable[[str, str], DestinationDraft], ms: MeshService, port) -> None:
    """The destination of one MeshService ``port`` (named ``<name>_<namespace>_svc_<port>`` on Kubernetes, else
    ``<name>``, or ``<name>_<port>`` when the MeshService has several ports) takes its identity from it."""
    res = ms.res
    if res.format == KUBERNETES:
        name = f"{res.name}_{res.namespace}_svc_{port.port}"
    else:
        name = res.name if len(ms.ports) == 1 else f"{res.name}_{port.port}"
    d = dest(res.mesh, name)
    if d.identity_from < 3:
        d.id_name, d.namespace, d.port, d.section = res.name, res.namespace, port.port, port.name
        d.labels, d.ms, d.ms_port, d.identity_from = res.labels, ms, port, 3


def finish(d: DestinationDraft, inbounds: Inbounds | None, override: str | None, preview: bool,
           preview_protocol: Callable[[Destination], str] | None) -> Destination:
    """The finished :class:`Destination` of ``d``: endpoints from ``inbounds`` (none when None), the protocol by
    01 §6.3 (``override``: ``--protocol`` for an unknown one; ``preview_protocol`` decides a preview one)."""
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

"""Mesh, Dataplane, MeshService and Service: typed views and semantic checks (spec 01 §5)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

from kumahc.diagnostics import Report
from kumahc.resources.checker import DocumentChecker
from kumahc.resources.model import UNIVERSAL, Resource
from kumahc.resources.tags import PROTOCOL, SERVICE, tag_problems

PORT_RANGE = "port must be in the range [1, 65535]"


@dataclass(frozen=True, slots=True)
class Inbound:
    """``networking.inbound[index]``; ``address`` already falls back to ``networking.address``."""

    index: int
    port: int
    address: str
    name: str | None
    tags: dict[str, str]


@dataclass(frozen=True, slots=True)
class BackendRef:
    name: str
    namespace: str
    port: int | None


@dataclass(frozen=True, slots=True)
class Outbound:
    """Exactly one of ``service`` (``tags.kuma.io/service``) and ``backend`` is set."""

    index: int
    service: str | None
    backend: BackendRef | None


@dataclass(frozen=True, slots=True)
class Gateway:
    """``networking.gateway``: ``type`` is ``BUILTIN`` or ``DELEGATED`` (Kuma's default when absent), ``tags`` as
    written (may be empty)."""

    type: str
    tags: dict[str, str]


@dataclass(frozen=True, slots=True, eq=False)
class Dataplane:
    """One proxy (01 §5.1). ``outbounds`` None = absent or null (every destination of the mesh); ``()`` = none.
    ``gateway``: set for a gateway proxy (then ``inbounds`` is empty)."""

    res: Resource
    proxy_name: str
    inbounds: tuple[Inbound, ...]
    outbounds: tuple[Outbound, ...] | None
    gateway: Gateway | None = None


@dataclass(frozen=True, slots=True)
class ServicePort:
    """A MeshService or Service port. ``target_port`` (MeshService only): int port or inbound name; ``name``
    defaults to the number as a string."""

    port: int
    name: str
    app_protocol: str | None
    target_port: int | str


@dataclass(frozen=True, slots=True, eq=False)
class MeshService:
    """01 §5.2; ``selector`` None = selects no inbound."""

    res: Resource
    selector: dict[str, str] | None
    ports: tuple[ServicePort, ...]


@dataclass(frozen=True, slots=True, eq=False)
class Service:
    """core/v1 Service (01 §5.3); ``upstream_policy`` = annotation ``konghq.com/upstream-policy``."""

    res: Resource
    ports: tuple[ServicePort, ...]
    upstream_policy: str | None


def _is_ip(text: Any) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def dataplane(res: Resource, report: Report) -> Dataplane | None:
    """Validate and type a Dataplane (01 §5.1); None when it has errors (added to ``report``)."""
    check = DocumentChecker(res, report, res.at("networking"))
    net = res.fields()["networking"]
    if not _is_ip(net["address"]):
        check.error(("address",), "must be a valid IP address")
    gateway = _gateway(check, net)
    if gateway is None:
        if "inbound" not in net:
            check.error(("inbound",), "must be defined")
        elif not net["inbound"]:
            check.error(("inbound",), "must have at least one element")
    inbounds = []
    for i, ib in enumerate(net.get("inbound") or ()):
        if not 1 <= ib["port"] <= 65535:
            check.error(("inbound", i, "port"), PORT_RANGE)
        if "servicePort" in ib and not 1 <= ib["servicePort"] <= 65535:
            check.error(("inbound", i, "servicePort"), PORT_RANGE)
        if "address" in ib and not _is_ip(ib["address"]):
            check.error(("inbound", i, "address"), "must be a valid IP address")
        _check_tags(check, ("inbound", i, "tags"), ib["tags"])
        inbounds.append(Inbound(i, ib["port"], ib.get("address", net["address"]), ib.get("name"), dict(ib["tags"])))
    outbounds: list[Outbound] | None = None
    if net.get("outbound") is not None:
        outbounds = []
        for i, ob in enumerate(net["outbound"]):
            tags, ref = ob.get("tags"), ob.get("backendRef")
            if (tags is None) == (ref is None):
                check.error(("outbound", i), "must have exactly one defined: tags, backendRef")
            elif tags is not None:
                _check_tags(check, ("outbound", i, "tags"), tags)
                outbounds.append(Outbound(i, tags.get(SERVICE), None))
            elif ref["kind"] != "MeshService":
                check.error(("outbound", i, "backendRef", "kind"),
                            f"value '{ref['kind']}' is not supported (allowed: MeshService)")
            else:
                outbounds.append(Outbound(i, None, BackendRef(ref["name"], ref.get("namespace", res.namespace),
                                                             ref.get("port"))))
    if check.failed:
        return None
    name = res.name if res.format == UNIVERSAL else f"{res.name}.{res.namespace}"
    return Dataplane(res, name, tuple(inbounds), None if outbounds is None else tuple(outbounds), gateway)


GATEWAY_TYPES = ("BUILTIN", "DELEGATED")


def _gateway(check: DocumentChecker, net: dict) -> Gateway | None:
    """``networking.gateway`` checked as Kuma's Dataplane validator does (``dataplane_validator.go``): a builtin
    gateway has no inbound nor outbound, a delegated one no inbound; tags need ``kuma.io/service`` once any is
    given and ``kuma.io/protocol`` may only be ``tcp``."""
    raw = net.get("gateway")
    if raw is None:
        return None
    kind = raw.get("type", "DELEGATED")
    if kind not in GATEWAY_TYPES:
        check.error(("gateway", "type"), f"value '{kind}' is not supported (allowed: {', '.join(GATEWAY_TYPES)})")
    word = "builtin" if kind == "BUILTIN" else "delegated"
    if net.get("inbound"):
        check.error(("inbound",), f"inbound cannot be defined for {word} gateways")
    if kind == "BUILTIN" and net.get("outbound"):
        check.error(("outbound",), "outbound cannot be defined for builtin gateways")
    tags = dict(raw.get("tags") or {})
    protocol = tags.get(PROTOCOL)
    if protocol is not None and protocol.lower() != "tcp":
        check.error(("gateway", "tags", PROTOCOL),
                    f'other values than tcp are not allowed, provided value "{protocol}"')
    for key, message in tag_problems(tags, require_service=bool(tags)):
        path = ("gateway", "tags")
        check.error(path if key is None else (*path, key), message)
    return Gateway(kind, tags)


def _check_tags(check: DocumentChecker, path: tuple, tags: dict[str, str]) -> None:
    # Thousands of outbounds per mesh: the path of a tag is built only when it has a problem.
    for key, message in tag_problems(tags, require_service=True):
        check.error(path if key is None else (*path, key), message)


def mesh_service(res: Resource, report: Report) -> MeshService | None:
    """Validate and type a MeshService (01 §5.2); None when it has errors."""
    check = DocumentChecker(res, report, res.base)
    spec = res.fields()
    selector = spec.get("selector") or {}
    for unsupported in ("dataplaneRef", "dataplaneLabels"):
        if unsupported in selector:
            check.error(("selector", unsupported), "not supported by kumahc; use dataplaneTags")
    tags = selector.get("dataplaneTags")
    if tags is not None:
        for key, message in tag_problems(tags, require_service=False):
            path = ("selector", "dataplaneTags")
            check.error(path if key is None else (*path, key), message)
    ports = _ports(check, spec["ports"], with_target=True)
    if check.failed:
        return None
    return MeshService(res, None if tags is None else dict(tags), ports)


def service(res: Resource, report: Report) -> Service | None:
    """Validate and type a core/v1 Service (01 §5.3); None when it has errors."""
    check = DocumentChecker(res, report, res.base)
    ports = _ports(check, (res.fields().get("ports") or []), with_target=False)
    if check.failed:
        return None
    return Service(res, ports, res.annotations.get("konghq.com/upstream-policy"))


def _ports(check: DocumentChecker, items: list[dict], with_target: bool) -> tuple[ServicePort, ...]:
    if with_target and not items:
        check.error(("ports",), "must have at least one element")
    out: list[ServicePort] = []
    numbers: set[int] = set()
    names: set[str] = set()
    for i, p in enumerate(items):
        number = p["port"]
        if not 1 <= number <= 65535:
            check.error(("ports", i, "port"), PORT_RANGE)
        elif with_target and number in numbers:
            check.error(("ports", i, "port"), f"duplicate port {number}")
        numbers.add(number)
        name = p.get("name", str(number))
        if with_target and name in names:
            check.error(("ports", i, "name"), f'duplicate port name "{name}"')
        names.add(name)
        target = p.get("targetPort", number) if with_target else number
        # Only a targetPort the user wrote is checked: the default (= port) already has its own error, and a
        # Service's targetPort is ignored (01 §5.3).
        if with_target and "targetPort" in p:
            if isinstance(target, int) and not 1 <= target <= 65535:
                check.error(("ports", i, "targetPort"), PORT_RANGE)
            elif target == "":
                check.error(("ports", i, "targetPort"), "must not be empty")
        out.append(ServicePort(number, name, p.get("appProtocol"), target))
    return tuple(out)

"""MeshGateway, MeshHTTPRoute and MeshTCPRoute: typed views and the semantic checks of the fields that shape a
builtin gateway's clusters (issue 20). Rules and messages restate Kuma v2.14's validators
(``gateway_validator.go``, ``meshtcproute/api/v1alpha1/validator.go``, ``validators.go``); fields that do not
shape clusters (matches, filters, hostnames of routes, TLS certificates, ...) are accepted as written and not
applied."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kumahc.diagnostics import Report
from kumahc.resources.checker import DocumentChecker
from kumahc.resources.model import Resource
from kumahc.resources.tags import MISSING_SERVICE, PROTOCOL, SERVICE, selector_matches, selector_problems

PROTOCOLS = ("HTTP", "HTTPS", "TCP", "TLS")
HTTP_PROTOCOLS = ("HTTP", "HTTPS")  # listeners a MeshHTTPRoute attaches to; MeshTCPRoute: all of them
# Tags a MeshGateway and its listeners must not set: they are properties of the Dataplanes themselves.
RESERVED_TAGS = ("kuma.io/external-service", PROTOCOL, SERVICE, "kuma.io/zone")
BACKEND_KINDS = ("MeshService", "MeshServiceSubset", "MeshExternalService", "MeshMultiZoneService")
ROUTE_TOP_KINDS = ("Mesh", "MeshSubset", "MeshGateway", "MeshService", "MeshServiceSubset", "Dataplane")
PORT_RANGE = "port must be in the range [1, 65535]"
_DOMAIN = re.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)*"
                     r"[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")


@dataclass(frozen=True, slots=True)
class Listener:
    """``conf.listeners[index]``: ``hostname`` is ``*`` when unset; ``tags`` as written."""

    index: int
    port: int
    protocol: str
    hostname: str
    tags: dict[str, str]


@dataclass(frozen=True, slots=True, eq=False)
class MeshGateway:
    """A validated MeshGateway: ``selectors`` (each a ``match`` map), gateway-wide ``tags``, ``listeners``."""

    res: Resource
    selectors: tuple[dict[str, str], ...]
    tags: dict[str, str]
    listeners: tuple[Listener, ...]

    def rank(self, tags: Mapping[str, str]) -> tuple[int, int] | None:
        """How well this gateway's selectors match a gateway Dataplane's ``tags`` (Kuma's TagSelectorRank: exact
        matches, then ``*`` matches, of the best selector); None when none matches."""
        best: tuple[int, int] | None = None
        for match in self.selectors:
            if selector_matches(match, tags):
                score = (sum(v != "*" for v in match.values()), sum(v == "*" for v in match.values()))
                best = score if best is None or score > best else best
        return best


@dataclass(frozen=True, slots=True)
class BackendRef:
    """``rules[].default.backendRefs[index]`` of kind MeshService (by ``name``, with optional ``namespace``,
    ``port``) or MeshServiceSubset (``tags`` also narrow the backend); ``weight`` is kept for display only."""

    index: int
    kind: str
    name: str
    namespace: str
    port: int | None
    tags: dict[str, str]
    weight: int
    path: tuple = ()  # from the document root, for messages


@dataclass(frozen=True, slots=True, eq=False)
class Route:
    """A validated MeshHTTPRoute or MeshTCPRoute attached to a MeshGateway: ``gateway`` (its name), listener
    ``tags`` narrowing the listeners (None = every listener), ``backends`` in written order. A route whose
    ``targetRef`` is not a MeshGateway has ``gateway`` None (sidecar routing is not modelled)."""

    res: Resource
    gateway: str | None
    tags: dict[str, str] | None
    backends: tuple[BackendRef, ...]

    @property
    def protocols(self) -> tuple[str, ...]:
        """The listener protocols this route's kind attaches to."""
        return HTTP_PROTOCOLS if self.res.kind == "MeshHTTPRoute" else ("TCP", "TLS", "HTTP", "HTTPS")


def mesh_gateway(res: Resource, report: Report) -> MeshGateway | None:
    """Validate and type a MeshGateway; None when it has errors (added to ``report``)."""
    check = DocumentChecker(res, report, res.base)
    body = res.fields()
    selectors = body.get("selectors") or []
    if not selectors:
        check.error(("selectors",), "must have at least one element")
    for i, sel in enumerate(selectors):
        match = sel.get("match") or {}
        path = ("selectors", i, "match")
        if not match:
            check.error(path, "must have at least one tag")
        elif SERVICE not in match:
            check.error(path, MISSING_SERVICE)
        _selector(check, path, match, reserved=False)
    tags = dict(body.get("tags") or {})
    _selector(check, ("tags",), tags, reserved=True)
    listeners = _listeners(check, body.get("conf"))
    if check.failed:
        return None
    return MeshGateway(res, tuple(dict(s.get("match") or {}) for s in selectors), tags, listeners)


def _selector(check: DocumentChecker, path: tuple, match: dict[str, str], reserved: bool) -> None:
    if reserved:
        for key in sorted(match):
            if key in RESERVED_TAGS:
                check.error((*path, key), f'tag name must not be "{key}"')
    for key, message in selector_problems(match):
        check.error(path if key is None else (*path, key), message)


def _listeners(check: DocumentChecker, conf: dict | None) -> tuple[Listener, ...]:
    if not conf:
        check.error(("conf",), "cannot be empty")
        return ()
    items = conf.get("listeners") or []
    if not items:
        check.error(("conf", "listeners"), "cannot be empty")
    out = []
    for i, raw in enumerate(items):
        path = ("conf", "listeners", i)
        hostname = raw.get("hostname") or "*"
        if hostname != "*":
            _hostname(check, (*path, "hostname"), hostname)
        port = raw.get("port", 0)
        if not 1 <= port <= 65535:
            check.error((*path, "port"), PORT_RANGE)
        protocol = raw.get("protocol") or ""
        if not protocol:
            check.error((*path, "protocol"), "cannot be empty")
        elif protocol not in PROTOCOLS:
            check.error((*path, "protocol"), f"value '{protocol}' is not supported (allowed: {', '.join(PROTOCOLS)})")
        elif protocol == "HTTPS" and not raw.get("crossMesh") and raw.get("tls") is None:
            check.error((*path, "tls"), "cannot be empty")
        tags = dict(raw.get("tags") or {})
        _selector(check, (*path, "tags"), tags, reserved=True)
        out.append(Listener(i, port, protocol, hostname, tags))
    _collapsible(check, out)
    return tuple(out)


def _hostname(check: DocumentChecker, path: tuple, hostname: str) -> None:
    if len(hostname) > 253:
        check.error(path, "must be at most 253 characters")
    if hostname.startswith("*."):
        if not _DOMAIN.match(hostname[2:]):
            check.error(path, "invalid wildcard domain")
    elif not _DOMAIN.match(hostname):
        check.error(path, "invalid hostname")


def _collapsible(check: DocumentChecker, listeners: list[Listener]) -> None:
    """Listeners sharing a port must share its protocol and differ in hostname (Kuma collapses them into one
    Envoy listener)."""
    by_port: dict[int, list[Listener]] = {}
    for listener in listeners:
        by_port.setdefault(listener.port, []).append(listener)
    for group in by_port.values():
        if len({x.protocol for x in group}) > 1:
            for x in group:
                check.error(("conf", "listeners", x.index), "protocol conflicts with other listeners on this port")
        hostnames: dict[str, list[Listener]] = {}
        for x in group:
            hostnames.setdefault(x.hostname, []).append(x)
        for same in hostnames.values():
            if len(same) > 1:
                for x in same:
                    check.error(("conf", "listeners", x.index), "multiple listeners for hostname on this port")


def route(res: Resource, report: Report) -> Route | None:
    """Validate and type a MeshHTTPRoute or MeshTCPRoute (the targetRefs and backendRefs); None on errors."""
    check = DocumentChecker(res, report, ("spec",))
    spec = res.fields()
    top = spec.get("targetRef")
    top_kind = (top or {}).get("kind", "Mesh")
    if top is not None:
        _ref(check, ("targetRef",), top, ROUTE_TOP_KINDS)
        if top_kind == "MeshGateway" and "name" not in top:
            check.error(("targetRef", "name"), "must be set when kind is MeshGateway")
    backends: list[BackendRef] = []
    for i, item in enumerate(spec.get("to") or ()):
        to_kinds = ("Mesh",) if top_kind == "MeshGateway" else ("MeshService", "MeshExternalService",
                                                                "MeshMultiZoneService")
        _ref(check, ("to", i, "targetRef"), item.get("targetRef") or {}, to_kinds)
        for j, rule in enumerate(item.get("rules") or ()):
            refs = (rule.get("default") or {}).get("backendRefs") or []
            path = ("to", i, "rules", j, "default", "backendRefs")
            if not refs:
                check.error(path, "must be defined")
            for k, ref in enumerate(refs):
                backend = _backend(check, (*path, k), ref, res.namespace, k, res.at(*path, k))
                if backend is not None:
                    backends.append(backend)
    if check.failed:
        return None
    gateway = top.get("name") if top_kind == "MeshGateway" else None
    tags = dict(top["tags"]) if gateway is not None and top.get("tags") is not None else None
    return Route(res, gateway, tags, tuple(backends))


def _ref(check: DocumentChecker, path: tuple, ref: dict[str, Any], kinds: tuple[str, ...]) -> None:
    kind = ref.get("kind")
    if not kind:
        check.error((*path, "kind"), "must be defined")
    elif kind not in kinds:
        check.error((*path, "kind"), f"value '{kind}' is not supported (allowed: {', '.join(kinds)})")
    elif kind == "MeshGateway":
        for key, message in selector_problems(ref.get("tags") or {}):
            check.error((*path, "tags") if key is None else (*path, "tags", key), message)


def _backend(check: DocumentChecker, path: tuple, ref: dict[str, Any], namespace: str, index: int,
             full: tuple) -> BackendRef | None:
    kind = ref.get("kind")
    if kind not in BACKEND_KINDS:
        check.error((*path, "kind"), f"value '{kind}' is not supported (allowed: {', '.join(BACKEND_KINDS)})")
        return None
    if "name" not in ref and "labels" not in ref:
        check.error(path, f"name or labels must be set when kind is {kind}")
        return None
    port = ref.get("port")
    if port is not None and not 1 <= port <= 65535:
        check.error((*path, "port"), PORT_RANGE)
    weight = ref.get("weight", 1)
    if weight < 0:
        check.error((*path, "weight"), "must be greater or equal to 0")
    if kind not in ("MeshService", "MeshServiceSubset") or "name" not in ref:
        check.warning(path, "not applied by kumahc (only MeshService backends by name give clusters)")
        return None
    return BackendRef(index, kind, ref["name"], ref.get("namespace", namespace), port,
                      dict(ref.get("tags") or {}), weight, full)

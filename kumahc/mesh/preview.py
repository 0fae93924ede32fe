"""Preview mode (spec 01 §7): with no Dataplane in the inputs, the destinations and proxies the policy families ask
for are synthesised, each named from its selector (:func:`seed_of`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kumahc.mesh.destinations import DestinationDraft, finish
from kumahc.mesh.model import Destination, PreviewDestination, PreviewProxy, Proxy, union_tags
from kumahc.resources.model import KUBERNETES, UNIVERSAL
from kumahc.resources.tags import SERVICE


def synthesise_destinations(dests: dict[tuple[str, str], DestinationDraft],
                            dest: Callable[[str, str], DestinationDraft],
                            requests: Iterable[PreviewDestination]) -> None:
    """Add a destination for every request that no destination (declared or synthesised before) matches."""
    for req in requests:
        existing = [finish(d, None, None, True, None) for (m, _), d in dests.items() if m == req.mesh]
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


def synthesise_proxies(requests: Iterable[PreviewProxy], built: dict[tuple[str, str], Destination]) -> list[Proxy]:
    """One synthetic proxy per distinct request, named from its class or selector; a name already taken in
    the mesh gets ``-2``, ``-3``, …."""
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

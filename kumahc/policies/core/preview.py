"""Preview mode (spec 01 §7) for targetRef policies: the synthetic proxy a top-level targetRef asks for and the
synthetic destination a ``to[]`` entry asks for, when the inputs have no Dataplane."""

from __future__ import annotations

from kumahc.mesh.model import K8S_NAME, PreviewDestination, PreviewProxy
from kumahc.policies.core.matching import entry_matches
from kumahc.policies.core.targetref import Entry, TargetRefPolicy
from kumahc.resources.tags import SERVICE


def preview_proxy(p: TargetRefPolicy) -> PreviewProxy | None:
    """The proxy ``p``'s top-level targetRef asks for, or None (shadow, MeshGateway, no Sidecar proxy type)."""
    ref, mesh = p.target_ref, p.res.mesh
    if p.shadow or ref.kind == "MeshGateway":
        return None
    if ref.kind in ("Mesh", "MeshSubset") and ref.proxy_types is not None and "Sidecar" not in ref.proxy_types:
        return None
    if ref.kind == "Mesh" or (ref.kind == "Dataplane" and ref.name is None and ref.labels is None):
        return PreviewProxy(mesh, "mesh")
    if ref.kind == "MeshSubset":
        return PreviewProxy(mesh, "tags", ref.tags) if ref.tags else PreviewProxy(mesh, "mesh")
    if ref.kind == "MeshService":
        return PreviewProxy(mesh, "tags", ((SERVICE, ref.name),))
    if ref.kind == "MeshServiceSubset":
        return PreviewProxy(mesh, "tags", tuple(sorted({**dict(ref.tags or ()), SERVICE: ref.name}.items())))
    if ref.labels is not None:
        return PreviewProxy(mesh, "labels", ref.labels)
    return PreviewProxy(mesh, "name", name=ref.name, namespace=ref.namespace or p.res.namespace)


def preview_destination(e: Entry) -> PreviewDestination | None:
    """The destination entry ``e`` asks for: ``any-service`` for Mesh, a MeshService port for a named
    MeshService (``_port``, else a numeric ``sectionName``, else 80), None otherwise."""
    ref, mesh = e.target_ref, e.policy.res.mesh
    matches = lambda d, e=e: entry_matches(e, d)  # noqa: E731
    if ref.kind == "Mesh":
        return PreviewDestination(mesh, "any-service", matches)
    if ref.kind != "MeshService" or ref.name is None:
        return None
    m = K8S_NAME.match(ref.name)
    if m and ref.section_name is None:
        return PreviewDestination(mesh, "meshservice", matches, m.group(1), m.group(2), int(m.group(3)), m.group(3))
    section = ref.section_name
    if ref.port is not None:
        number = ref.port
    elif section is not None and section.isdigit():
        number = int(section)
    else:
        number = 80
    port_name = section if section is not None and not section.isdigit() else str(number)
    namespace = ref.namespace if ref.namespace is not None else e.policy.res.namespace
    return PreviewDestination(mesh, "meshservice", matches, ref.name, namespace, number, port_name)


def preview_proxies(policies: list[TargetRefPolicy]) -> list[tuple[int, PreviewProxy]]:
    """Every policy's proxy request with its input order."""
    out = []
    for p in policies:
        req = preview_proxy(p)
        if req is not None:
            out.append((p.order, req))
    return out


def preview_destinations(policies: list[TargetRefPolicy]) -> list[tuple[int, PreviewDestination]]:
    """Every applied (not shadow) policy's destination requests with its input order."""
    out = []
    for p in policies:
        if p.shadow:
            continue
        for e in p.entries:
            req = preview_destination(e)
            if req is not None:
                out.append((p.order, req))
    return out

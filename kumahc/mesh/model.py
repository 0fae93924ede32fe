"""The mesh view's values: proxies, destinations, preview requests and the view itself (spec 01 §5–§7).

Policy families never look at raw Dataplanes: they select :class:`Proxy` values and match :class:`Destination`
values. In preview mode (no Dataplane in the inputs) the proxies and destinations a family asks for
(:class:`PreviewProxy`, :class:`PreviewDestination`) are synthesised by :mod:`kumahc.mesh.preview`.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from kumahc.resources.core import MeshService

# A Kubernetes MeshService known by its tag name ``<name>_<namespace>_svc_<port>`` (also how targetRefs name it).
K8S_NAME = re.compile(r"^([^_]+)_([^_]+)_svc_([0-9]+)$")


@dataclass(frozen=True, slots=True, eq=False)
class Destination:
    """One (service, port) → one cluster named ``name`` (01 §6). Identity fields (01 §6.1): ``id_name``,
    ``namespace``, ``port`` (None when unknown), ``section`` (port name), ``labels`` (implicit ones included).
    ``protocol_source`` says which rule of 01 §6.3 chose ``protocol`` (used by ``inspect``).
    ``upstream_policies``: (namespace, name) of the KongUpstreamPolicy named by each backing Service (04 §1).
    A builtin gateway's cluster (issue 20) also has ``host_tags``, its listener's tags (the gateway Dataplane's,
    the MeshGateway's and the listener's, merged) that policies select it by, and ``backend``, the
    ``kuma.io/service`` it forwards to when the route names a service rather than a MeshService resource
    (legacy HealthCheck and CircuitBreaker apply to those only)."""

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
    host_tags: dict[str, str] | None = None
    backend: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class Proxy:
    """One Envoy (01 §5.1) or a synthetic preview proxy (01 §7). ``dp_name`` is ``metadata.name`` (Kubernetes)
    or ``name``; ``namespace`` is ``""`` for Universal. ``tags`` = union of inbound tags, values sorted.
    ``destinations`` = cluster names, sorted. A gateway proxy (issue 20) has ``gateway_type`` ``BUILTIN`` or
    ``DELEGATED``; a builtin one has no inbound: its ``inbound_tags`` are its listeners' tags, ``tags`` the
    gateway Dataplane's, and ``gateway`` names the MeshGateway that selects it (``""`` when none does)."""

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
    gateway_type: str | None = None
    gateway: str | None = None

    @property
    def proxy_type(self) -> str:
        """``Sidecar`` or ``Gateway``: what a targetRef's ``proxyTypes`` names."""
        return "Sidecar" if self.gateway_type is None else "Gateway"


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
    """Every proxy sorted by (mesh, name); destinations by (mesh, name). ``reach``: what the mesh-wide reach
    warnings found per policy resource over this view (:meth:`kumahc.policies.core.selection.Selection.entry_reach`
    keeps it), so a reload that keeps the view recomputes only the policies that changed."""

    proxies: tuple[Proxy, ...]
    destinations: dict[tuple[str, str], Destination]
    preview: bool
    reach: dict = field(default_factory=dict, compare=False, repr=False)
    _users: dict[tuple[str, str], list[Proxy]] = field(default_factory=dict, compare=False, repr=False)

    def users(self, key: tuple[str, str]) -> list[Proxy]:
        """The proxies with an outbound to destination ``key`` ((mesh, name)), in view order. The index is built
        on first use (:meth:`index_users`) and kept with the view."""
        if not self._users:
            self.index_users()
        return self._users.get(key, [])

    def index_users(self) -> None:
        """Build the index :meth:`users` reads (one pass over every proxy's destinations), if not built yet:
        ``serve`` does it with a new view, so that the reloads after it find it ready."""
        if self._users:
            return
        users: dict[tuple[str, str], list[Proxy]] = defaultdict(list)
        for x in self.proxies:
            mesh = x.mesh
            for n in x.destinations:
                users[(mesh, n)].append(x)
        self._users.update(users)
        self._users[("", "")] = []  # built, even when no proxy has an outbound


def union_tags(inbound_tags: Iterable[dict[str, str]]) -> dict[str, tuple[str, ...]]:
    """Proxy tags: every inbound's tags, multi-valued, values sorted (01 §5.1)."""
    acc: dict[str, set[str]] = {}
    for tags in inbound_tags:
        for k, v in tags.items():
            acc.setdefault(k, set()).add(v)
    return {k: tuple(sorted(v)) for k, v in sorted(acc.items())}

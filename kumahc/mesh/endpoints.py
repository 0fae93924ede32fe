"""Endpoints of a destination (spec 01 §6.2): the inbounds of the mesh's Dataplanes, indexed by tag."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from kumahc.resources.core import Dataplane
from kumahc.resources.tags import PROTOCOL, SERVICE

if TYPE_CHECKING:  # the draft's module builds on this one
    from kumahc.mesh.destinations import DestinationDraft


class Inbounds:
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

    def endpoints(self, d: DestinationDraft) -> tuple[list[tuple[str, int]], list[str | None]]:
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

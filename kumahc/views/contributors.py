"""Which policies made one rendered cluster what it is, for ``diff``, ``render -o table`` and
``inspect --policy``.

Reads only what the pipeline produced (the combine step's winners and the families' public questions), so it
cannot disagree with the rendered output. A MeshHealthCheck health check is merged from every matching entry:
each of those policies contributes, in merge order. Only the health check, panic settings and outlier detection
groups are read (not circuit breakers).
"""

from __future__ import annotations

from typing import Any

from kumahc.mesh.model import Destination, Proxy
from kumahc.pipeline import Result
from kumahc.policies.combine import Combined


def family(result: Result, kind: str) -> Any:
    """The family object of ``kind`` in ``result``, or None."""
    return next((f for f in result.families if f.KIND == kind), None)


def contributors(result: Result, proxy: Proxy, dest: Destination, groups: Combined) -> list[str]:
    """``KIND NAME`` of every policy whose settings are in the cluster: the winners of each field group (health
    check, panic settings, outlier detection); for a merging family's group, every policy it merged
    (:meth:`PolicyFamily.merged`)."""
    out: list[str] = []

    def add(kind: str | None, source: str) -> None:
        merged = family(result, kind).merged(proxy, dest) if kind is not None else None
        for n in [f"{kind} {m}" for m in merged or ()] or [f"{kind} {source}"]:
            if n not in out:
                out.append(n)

    for attr in ("health_check", "panic", "outlier"):
        group = getattr(groups, attr)
        if group is not None:
            add(groups.kind_of(attr), group.source)
    return out

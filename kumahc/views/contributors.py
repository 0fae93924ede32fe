"""Which policies made one rendered cluster what it is, for ``diff``, ``render --format table`` and
``inspect --policy``.

Reads only what the pipeline produced (the combine step's winners and the families' public questions), so it
cannot disagree with the rendered output. A MeshHealthCheck health check is merged from every matching entry:
each of those policies contributes, in merge order.
"""

from __future__ import annotations

from typing import Any

from kumahc.mesh.view import Destination, Proxy
from kumahc.pipeline import Result
from kumahc.policies.combine import Combined


def family(result: Result, kind: str) -> Any:
    """The family object of ``kind`` in ``result``, or None."""
    return next((f for f in result.families if f.KIND == kind), None)


def mhc_policies(result: Result, proxy: Proxy, dest: Destination) -> list[str]:
    """Display names of the MeshHealthChecks whose entries matched (proxy, dest), in merge order, once each."""
    mhc = family(result, "MeshHealthCheck")
    if mhc is None:
        return []
    names: list[str] = []
    for e in mhc.outcome(proxy, dest).entries:
        name = e.policy.res.display_name
        if name not in names:
            names.append(name)
    return names


def contributors(result: Result, proxy: Proxy, dest: Destination, groups: Combined) -> list[str]:
    """``KIND NAME`` of every policy whose settings are in the cluster: the winners of each field group (health
    check, panic settings, outlier detection); for a MeshHealthCheck group every merged MeshHealthCheck."""
    out: list[str] = []

    def add(kind: str | None, source: str) -> None:
        if kind == "MeshHealthCheck":
            names = [f"MeshHealthCheck {n}" for n in mhc_policies(result, proxy, dest)] or [f"{kind} {source}"]
        else:
            names = [f"{kind} {source}"]
        for n in names:
            if n not in out:
                out.append(n)

    if groups.health_check is not None:
        add(groups.health_check_kind, groups.health_check.source)
    if groups.panic is not None:
        add(groups.panic_kind, groups.panic.source)
    if groups.outlier is not None:
        add(getattr(groups, "outlier_kind", None) or "KongUpstreamPolicy", groups.outlier.source)
    return out

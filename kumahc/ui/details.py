"""The proxy and policy pages' content, from the pipeline result a snapshot was built from, through the same views
as the command line: ``render -o table`` (:mod:`kumahc.views.table`), ``inspect`` (:mod:`kumahc.views.inspect`)
and ``inspect --policy`` (:mod:`kumahc.views.policyview`). A snapshot made from the store writer's rendered parts
holds no result: the clusters' JSON is read from its document and origins are not available."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from kumahc.diagnostics import Severity
from kumahc.pipeline import LazyClusters, Result
from kumahc.policies.registry import KINDS
from kumahc.render import ClusterJson
from kumahc.views import inspect, policyview, table
from kumahc.views.contributors import family
from kumahc.xds.snapshot import Snapshot


@dataclass(frozen=True, slots=True)
class ClusterDetail:
    """One cluster of a proxy: its ``render -o table`` cells (HEADER order, PROXY left out), its JSON
    (2-space indented, as ``render`` prints it) and ``inspect``'s explanation of its fields ("" when unknown)."""

    name: str
    cells: tuple[str, ...]
    json: str
    origins: str


@dataclass(frozen=True, slots=True)
class PolicyRow:
    """One valid policy: ``where`` is FILE:LINE (or ``store: KIND NAME``), ``warnings`` the report's lines about
    it, ``reach`` what ``inspect --policy`` sums up (``contributes to N clusters on M proxies; ...``)."""

    kind: str
    name: str
    mesh: str
    where: str
    warnings: tuple[str, ...]
    reach: str

    @property
    def selector(self) -> str:
        return f"{self.kind}/{self.name}"


def result_of(snapshot: Snapshot | None) -> Result | None:
    """The pipeline result ``snapshot`` was built from, or None (no snapshot yet, or made from stored parts)."""
    if snapshot is None or not isinstance(snapshot.result, Result):
        return None
    result = snapshot.result
    if isinstance(result.clusters, LazyClusters):
        # serve --render connected: a page may read proxies that are not materialized; they are built for it
        # into a mapping of its own, dropped with the page.
        return replace(result, clusters=result.clusters.fresh())
    return result


def clusters(snapshot: Snapshot, proxy: tuple[str, str]) -> list[ClusterDetail]:
    """Every cluster of ``proxy`` (MESH, NAME) in render order. CPU-bound: call it off the event loop."""
    mesh, name = proxy
    result = result_of(snapshot)
    if result is None:
        found = [p for p in snapshot.document["proxies"] if p["mesh"] == mesh and p["name"] == name]
        return [ClusterDetail(c.get("name", ""), ("-",) * 6, json.dumps(c, indent=2), "")
                for p in found for c in p.get("clusters", [])]
    selector = f"{mesh}/{name}"
    cells = {row[1]: row[2:] for row in table.rows(result, selector)}
    explained = {c.name: c for p in inspect.explain(result, selector) for c in p.clusters}
    convert = ClusterJson()
    out = []
    for cr in result.clusters[proxy]:
        c = cr.cluster.name
        origins = ""
        if c in explained:
            # inspect's text of this one cluster: drop the proxy, tags and labels lines it starts with.
            one = inspect.ProxyExplanation(mesh, name, {}, {}, (explained[c],))
            origins = "\n".join(inspect.text([one]).splitlines()[3:])
        out.append(ClusterDetail(c, cells.get(c, ()), json.dumps(convert(cr.cluster), indent=2), origins))
    return out


def policies(result: Result, reach: bool = True) -> list[PolicyRow]:
    """Every valid policy of the inputs, kind by kind (registry order), then by mesh and name. ``reach``: sum up
    each one's ``inspect --policy`` view (a walk over every proxy per policy; "" without it). CPU-bound: call it
    off the event loop."""
    out = []
    for kind in KINDS:
        fam = family(result, kind)
        for res in sorted(fam.held() if fam is not None else [], key=lambda r: (r.mesh or "", r.display_name)):
            summary = policyview.view(result, f"{kind}/{res.display_name}").summary() if reach else ""
            out.append(PolicyRow(kind, res.display_name, res.mesh or "", res.src.where, _warnings(result, res),
                                 summary))
    return out


def _warnings(result: Result, res: Any) -> tuple[str, ...]:
    """The report's warnings on the policy's own document, and the precedence warnings naming it."""
    label = f" from {res.kind} {res.display_name} ignored: "
    out = []
    for d in result.report.items:
        if d.severity != Severity.WARNING:
            continue
        if (d.scope[0] == "file" and d.scope[1] == res.src.loc) or (d.scope[0] == "proxy" and label in d.message):
            out.append(d.text())
    return tuple(out)


def policy(result: Result, selector: str) -> policyview.PolicyView:
    """``inspect --policy KIND/NAME``'s view. Raises :class:`kumahc.views.policyview.NoPolicy`."""
    return policyview.view(result, selector)


HEADER = table.HEADER[1:]

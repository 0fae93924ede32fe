"""``kumahc diff``: what a policy change does to the rendered clusters, before it is applied.

:func:`compare` takes two pipeline results (BEFORE and AFTER) and returns, per proxy and cluster, the field-level
changes of the rendered Envoy ``Cluster`` (paths in the JSON of ``render``) and the policies responsible (those in
the cluster before or after, :mod:`kumahc.views.contributors`). :func:`text` and :func:`as_json` only format it.

Fast on large meshes: proxies share cluster objects within a result, so clusters are compared by their serialized
bytes once per (before object, after object) pair, and only the pairs that differ are turned into JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from kumahc.pipeline import ClusterResult, Result
from kumahc.render import ClusterJson, matches_proxy, no_proxy_match
from kumahc.views.contributors import contributors

ADDED, REMOVED, CHANGED = "added", "removed", "changed"
_MISSING = object()


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One leaf (or whole subtree, when only one side has it) of the cluster JSON: ``path`` as
    ``health_checks[0].interval``; ``before``/``after`` are None for an added/removed field."""

    path: str
    change: str
    before: Any
    after: Any


@dataclass(frozen=True, slots=True)
class ClusterChange:
    name: str
    change: str
    policies: tuple[str, ...]  # "KIND NAME": in the cluster after, then those only in it before
    fields: tuple[FieldChange, ...]  # empty for an added or removed cluster


@dataclass(frozen=True, slots=True)
class ProxyChange:
    mesh: str
    name: str
    change: str
    clusters: tuple[ClusterChange, ...]


@dataclass(frozen=True, slots=True)
class Diff:
    proxies: tuple[ProxyChange, ...]

    @property
    def cluster_count(self) -> int:
        return sum(len(p.clusters) for p in self.proxies)

    def summary(self) -> str:
        """``12 clusters on 340 proxies change`` (``1 cluster on 1 proxy changes``; ``no cluster changes``)."""
        c, p = self.cluster_count, len(self.proxies)
        if c == 0 and p == 0:
            return "no cluster changes"
        clusters = "1 cluster" if c == 1 else f"{c} clusters"
        proxies = "1 proxy" if p == 1 else f"{p} proxies"
        return f"{clusters} on {proxies} change" + ("s" if c == 1 else "")


def compare(before: Result, after: Result, proxy: str | None = None) -> Diff:
    """Every proxy (sorted by mesh, name) whose clusters differ between ``before`` and ``after``; with ``proxy``
    (``NAME`` or ``MESH/NAME``, as ``render --proxy``) only those. Raises :class:`kumahc.render.NoProxyMatch`
    when ``proxy`` matches no proxy on either side."""
    sides = []
    for result in (before, after):
        sides.append({(p.mesh, p.name): p for p in result.view.proxies
                      if proxy is None or matches_proxy(p.mesh, p.name, proxy)})
    if proxy is not None and not sides[0] and not sides[1]:
        raise no_proxy_match(after, proxy)
    cmp = _Comparer(before, after)
    out = []
    for key in sorted(sides[0].keys() | sides[1].keys()):
        pb, pa = sides[0].get(key), sides[1].get(key)
        cb = {cr.cluster.name: cr for cr in before.clusters[key]} if pb is not None else {}
        ca = {cr.cluster.name: cr for cr in after.clusters[key]} if pa is not None else {}
        clusters = []
        for name in sorted(cb.keys() | ca.keys()):
            b, a = cb.get(name), ca.get(name)
            if b is not None and a is not None:
                fields = cmp.fields(b, a)
                if fields is None:
                    continue
                change = CHANGED
            else:
                fields, change = (), ADDED if b is None else REMOVED
            clusters.append(ClusterChange(name, change, cmp.policies(pb, b, pa, a), fields))
        if clusters or pb is None or pa is None:
            change = ADDED if pb is None else REMOVED if pa is None else CHANGED
            out.append(ProxyChange(key[0], key[1], change, tuple(clusters)))
    return Diff(tuple(out))


class _Comparer:
    """Comparisons and JSON shared between proxies: keyed by the ClusterResult objects (alive in the results)."""

    def __init__(self, before: Result, after: Result):
        self.results = (before, after)
        self._bytes: dict[int, bytes] = {}
        self._pairs: dict[tuple[int, int], tuple[FieldChange, ...] | None] = {}
        self._json = (ClusterJson(), ClusterJson())

    def _serialized(self, cr: ClusterResult) -> bytes:
        found = self._bytes.get(id(cr))
        if found is None:
            found = self._bytes[id(cr)] = cr.cluster.SerializeToString(deterministic=True)
        return found

    def fields(self, b: ClusterResult, a: ClusterResult) -> tuple[FieldChange, ...] | None:
        """The field changes from ``b`` to ``a``, or None when they render the same."""
        key = (id(b), id(a))
        if key in self._pairs:
            return self._pairs[key]
        if b is a or self._serialized(b) == self._serialized(a):
            found = None
        else:
            changes: list[FieldChange] = []
            _walk(self._json[0](b.cluster), self._json[1](a.cluster), "", changes)
            found = tuple(changes) or None
        self._pairs[key] = found
        return found

    def policies(self, pb: Any, b: ClusterResult | None, pa: Any, a: ClusterResult | None) -> tuple[str, ...]:
        names: list[str] = []
        for result, p, cr in ((self.results[1], pa, a), (self.results[0], pb, b)):
            if cr is None:
                continue
            dest = result.view.destinations[(p.mesh, cr.cluster.name)]
            for n in contributors(result, p, dest, cr.groups):
                if n not in names:
                    names.append(n)
        return tuple(names)


def _walk(b: Any, a: Any, path: str, out: list[FieldChange]) -> None:
    if b == a:
        return
    if isinstance(b, dict) and isinstance(a, dict):
        for k in [*b, *(k for k in a if k not in b)]:
            if k == "@type":
                continue
            sub = f"{path}.{k}" if path else k
            vb, va = b.get(k, _MISSING), a.get(k, _MISSING)
            if vb is _MISSING:
                out.append(FieldChange(sub, ADDED, None, va))
            elif va is _MISSING:
                out.append(FieldChange(sub, REMOVED, vb, None))
            else:
                _walk(vb, va, sub, out)
        return
    if isinstance(b, list) and isinstance(a, list):
        for i in range(max(len(b), len(a))):
            sub = f"{path}[{i}]"
            if i >= len(b):
                out.append(FieldChange(sub, ADDED, None, a[i]))
            elif i >= len(a):
                out.append(FieldChange(sub, REMOVED, b[i], None))
            else:
                _walk(b[i], a[i], sub, out)
        return
    out.append(FieldChange(path, CHANGED, b, a))


def _value(v: Any) -> str:
    return json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def text(diff: Diff) -> str:
    """For people: a ``proxy MESH/NAME`` line per proxy, a ``cluster NAME`` line per cluster with the policies
    responsible in brackets, a line per field (``~ path: before -> after``, ``+ path: value``, ``- path: value``),
    then the summary line. Ends with a newline."""
    lines: list[str] = []
    blocks: dict[int, list[str]] = {}
    for p in diff.proxies:
        head = f"proxy {p.mesh}/{p.name}"
        if p.change != CHANGED:
            head += f": {p.change}"
        lines.append(head)
        for c in p.clusters:
            block = blocks.get(id(c))
            if block is None:
                block = blocks[id(c)] = _cluster_lines(c)
            lines.extend(block)
    lines.append(diff.summary())
    return "\n".join(lines) + "\n"


def _cluster_lines(c: ClusterChange) -> list[str]:
    policies = f" [{', '.join(c.policies)}]" if c.policies else ""
    status = f": {c.change}" if c.change != CHANGED else ""
    out = [f"  cluster {c.name}{status}{policies}"]
    for f in c.fields:
        if f.change == CHANGED:
            out.append(f"    ~ {f.path}: {_value(f.before)} -> {_value(f.after)}")
        elif f.change == ADDED:
            out.append(f"    + {f.path}: {_value(f.after)}")
        else:
            out.append(f"    - {f.path}: {_value(f.before)}")
    return out


def as_json(diff: Diff) -> str:
    """For tools: ``{"proxies": [...], "summary": {"clusters": N, "proxies": M}}`` with the dataclass fields
    (``before``/``after`` null where a side has no value), 2-space indented."""
    doc = {"proxies": [asdict(p) for p in diff.proxies],
           "summary": {"clusters": diff.cluster_count, "proxies": len(diff.proxies)}}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

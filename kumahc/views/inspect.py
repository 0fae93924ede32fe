"""``kumahc inspect``: why a proxy gets the health check it gets (spec 07 §4).

:func:`explain` turns a pipeline result into plain data (one :class:`ClusterExplanation` per cluster); ``text`` and
``as_json`` only format it. Nothing here decides anything: every fact comes from the families and the combine step
that produced the rendered clusters, so the explanation cannot drift from the output.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, is_dataclass
from typing import Any

from kumahc.mesh.model import Destination, Proxy
from kumahc.pipeline import Result
from kumahc.policies.combine import GROUPS, Combined
from kumahc.policies.core.explain import ConfLine, EntryLine
from kumahc.policies.registry import FAMILIES
from kumahc.render import matches_proxy

__all__ = ["ClusterExplanation", "ConfLine", "EntryLine", "NoCluster", "ProxyExplanation", "as_json", "explain",
           "text"]

# The order of a cluster's keys in ``--output json``, as it was before families described themselves; the fields
# of a family not listed here follow, in registry order.
_JSON_ORDER = ("entries", "merged", "checker", "checker_reason", "kong", "healthcheck", "health_check_from",
               "panic_from", "outlier_from", "circuit_breaker_entries", "circuit_breaker_merged",
               "circuit_breakers_from", "circuitbreaker")


class NoCluster(LookupError):
    """``--cluster C`` names no cluster of the proxy; ``str()`` is the message after ``error: ``."""


@dataclass(frozen=True, slots=True)
class ClusterExplanation:
    """One cluster: its destination, then ``fields``: every family's (:meth:`PolicyFamily.explain`) and, per field
    group, ``<group>_from`` = ``KIND NAME`` of the winner or None."""

    name: str
    protocol: str
    protocol_source: str
    endpoints: int
    fields: dict[str, Any]
    listener_tags: dict[str, str] | None = None  # a builtin gateway's cluster: its listener's merged tags

    def as_dict(self) -> dict[str, Any]:
        rank = {k: i for i, k in enumerate(_JSON_ORDER)}
        ordered = sorted(self.fields, key=lambda k: rank.get(k, len(rank)))
        gateway = {} if self.listener_tags is None else {"listener_tags": self.listener_tags}
        return {"name": self.name, "protocol": self.protocol, "protocol_source": self.protocol_source,
                "endpoints": self.endpoints, **gateway, **{k: _plain(self.fields[k]) for k in ordered}}


@dataclass(frozen=True, slots=True)
class ProxyExplanation:
    mesh: str
    name: str
    tags: dict[str, list[str]]  # values sorted
    labels: dict[str, str]  # implicit labels included
    clusters: tuple[ClusterExplanation, ...]
    gateway: dict[str, str] | None = None  # a gateway proxy: {"type": BUILTIN|DELEGATED[, "mesh_gateway": NAME]}


def explain(result: Result, proxy: str, cluster: str | None = None) -> list[ProxyExplanation]:
    """Every proxy matching ``proxy`` (as ``render --proxy``), in render order, with all its clusters or only
    ``cluster``. Raises :class:`kumahc.render.NoProxyMatch` / :class:`NoCluster`."""
    from kumahc.render import no_match_message, no_proxy_match

    found = [p for p in result.view.proxies if matches_proxy(p.mesh, p.name, proxy)]
    if not found:
        raise no_proxy_match(result, proxy)
    out = []
    for p in found:
        names = [n for n in p.destinations if cluster is None or n == cluster]
        if cluster is not None and not names:
            message = no_match_message("cluster", cluster, list(p.destinations))
            raise NoCluster(message.replace(f'"{cluster}"', f'"{cluster}" in proxy {p.mesh}/{p.name}', 1))
        results = dict(zip(p.destinations, result.clusters[(p.mesh, p.name)], strict=True))
        clusters = tuple(_cluster(result, p, result.view.destinations[(p.mesh, n)], results[n].groups)
                         for n in names)
        gateway = None
        if p.gateway_type is not None:
            gateway = {"type": p.gateway_type}
            if p.gateway is not None:
                gateway["mesh_gateway"] = p.gateway
        out.append(ProxyExplanation(p.mesh, p.name, {k: list(v) for k, v in p.tags.items()}, dict(p.labels),
                                    clusters, gateway))
    return out


def _pairs(m: dict[str, str]) -> str:
    """``key=v1,v2`` sorted by key, space-separated; ``(none)`` when empty (07 §4)."""
    return " ".join(f"{k}={v}" for k, v in sorted(m.items())) or "(none)"


def _cluster(result: Result, proxy: Proxy, dest: Destination, groups: Combined) -> ClusterExplanation:
    fields: dict[str, Any] = {}
    for family in result.families:
        fields.update(family.explain(proxy, dest))
    for attr, _ in GROUPS:
        group = getattr(groups, attr)
        fields[f"{attr}_from"] = f"{groups.kind_of(attr)} {group.source}" if group is not None else None
    return ClusterExplanation(dest.name, dest.protocol, dest.protocol_source, len(dest.endpoints), fields,
                              dest.host_tags)


def _plain(value: Any) -> Any:
    """Dataclasses (entry and conf lines) as dicts, for JSON."""
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return asdict(value) if is_dataclass(value) and not isinstance(value, type) else value


def text(explanations: list[ProxyExplanation]) -> str:
    """The human-readable form of 07 §4 (two-space indents), ending with a newline."""
    lines: list[str] = []
    for p in explanations:
        tags = _pairs({k: ",".join(v) for k, v in p.tags.items()})
        lines += [f"proxy {p.mesh}/{p.name}", f"  tags: {tags}", f"  labels: {_pairs(p.labels)}"]
        if p.gateway is not None:
            served = p.gateway.get("mesh_gateway")
            by = "" if served is None else f" (MeshGateway {served or '(none)'})"
            lines.append(f"  gateway: {p.gateway['type']}{by}")
        for c in p.clusters:
            lines.append(f"cluster {c.name}")
            plural = "endpoint" if c.endpoints == 1 else "endpoints"
            lines.append(f"  destination: protocol {c.protocol} ({c.protocol_source}), {c.endpoints} {plural}")
            if c.listener_tags is not None:
                lines.append(f"  listener tags: {_pairs(c.listener_tags)}")
            for family in FAMILIES:
                lines += family.explain_lines(c.fields)
            lines.append("  result: " + "; ".join(f"{words} <- {c.fields[f'{attr}_from'] or 'none'}"
                                                  for attr, words in GROUPS))
    return "\n".join(lines) + "\n"


def as_json(explanations: list[ProxyExplanation]) -> str:
    """The same facts for tools: ``{"proxies": [...]}`` with the dataclass fields, 2-space indented."""
    proxies = [{"mesh": p.mesh, "name": p.name, "tags": p.tags, "labels": p.labels,
                **({} if p.gateway is None else {"gateway": p.gateway}),
                "clusters": [c.as_dict() for c in p.clusters]} for p in explanations]
    return json.dumps({"proxies": proxies}, indent=2, ensure_ascii=False) + "\n"

"""``kumahc inspect``: why a proxy gets the health check it gets (spec 07 §4).

:func:`explain` turns a pipeline result into plain data (one :class:`ClusterExplanation` per cluster); ``text`` and
``as_json`` only format it. Nothing here decides anything: every fact comes from the families and the combine step
that produced the rendered clusters, so the explanation cannot drift from the output.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from kumahc.mesh.view import Destination, Proxy
from kumahc.pipeline import Result
from kumahc.policies.meshhealthcheck import match as mhc_match
from kumahc.render import matches_proxy

# 02 §2 field order, then each block's keys in their 02 §2 order.
_FIELDS = ("interval", "timeout", "unhealthyThreshold", "healthyThreshold", "initialJitter", "intervalJitter",
           "intervalJitterPercent", "healthyPanicThreshold", "failTrafficOnPanic", "noTrafficInterval",
           "eventLogPath", "alwaysLogHealthCheckFailures", "reuseConnection", "tcp", "http", "grpc")
_BLOCK_KEYS = {"tcp": ("disabled", "send", "receive"),
               "http": ("disabled", "path", "requestHeadersToAdd", "expectedStatuses"),
               "requestHeadersToAdd": ("set", "add"),
               "grpc": ("disabled", "serviceName", "authority")}
_BLOCK_FOR_RULE = {1: "http", 2: "grpc", 3: "tcp", 4: "http", 5: "grpc"}
# MeshCircuitBreaker conf order (Kuma's API order), per object.
_CB_KEYS = {"": ("connectionLimits", "outlierDetection"),
            "connectionLimits": ("maxConnections", "maxConnectionPools", "maxPendingRequests", "maxRetries",
                                 "maxRequests"),
            "outlierDetection": ("disabled", "interval", "baseEjectionTime", "maxEjectionPercent",
                                 "splitExternalAndLocalErrors", "detectors", "healthyPanicThreshold"),
            "detectors": ("totalFailures", "gatewayFailures", "localOriginFailures", "successRate",
                          "failurePercentage"),
            "successRate": ("minimumHosts", "requestVolume", "standardDeviationFactor"),
            "failurePercentage": ("minimumHosts", "requestVolume", "threshold")}


class NoCluster(LookupError):
    """``--cluster C`` names no cluster of the proxy; ``str()`` is the message after ``error: ``."""


@dataclass(frozen=True, slots=True)
class ConfLine:
    path: str
    value: Any
    origin: str  # "<policy> to[<i>]" or "default"


@dataclass(frozen=True, slots=True)
class EntryLine:
    entry: str  # "<policy> to[<i>]"
    target: str  # "Mesh", "MeshService backend section http", ...
    where: str  # FILE:LINE of the to[i] item


@dataclass(frozen=True, slots=True)
class ClusterExplanation:
    name: str
    protocol: str
    protocol_source: str
    endpoints: int
    entries: tuple[EntryLine, ...]
    merged: tuple[ConfLine, ...]
    checker: str | None  # None when no entry matched (no checker line)
    checker_reason: str
    kong: str | None
    healthcheck: str | None
    health_check_from: str | None
    panic_from: str | None
    outlier_from: str | None
    circuit_breaker_entries: tuple[EntryLine, ...] = ()
    circuit_breaker_merged: tuple[ConfLine, ...] = ()  # every leaf with the entry that set it (no defaults)
    circuit_breakers_from: str | None = None
    circuitbreaker: str | None = None  # the legacy CircuitBreaker selected (its aggregate rank), or None


@dataclass(frozen=True, slots=True)
class ProxyExplanation:
    mesh: str
    name: str
    tags: dict[str, list[str]]  # values sorted
    labels: dict[str, str]  # implicit labels included
    clusters: tuple[ClusterExplanation, ...]


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
        out.append(ProxyExplanation(p.mesh, p.name, {k: list(v) for k, v in p.tags.items()}, dict(p.labels),
                                    clusters))
    return out


def _pairs(m: dict[str, str]) -> str:
    """``key=v1,v2`` sorted by key, space-separated; ``(none)`` when empty (07 §4)."""
    return " ".join(f"{k}={v}" for k, v in sorted(m.items())) or "(none)"


def _family(result: Result, kind: str) -> Any:
    return next((f for f in result.families if f.KIND == kind), None)


def _cluster(result: Result, proxy: Proxy, dest: Destination, groups: Any) -> ClusterExplanation:
    mhc = _family(result, "MeshHealthCheck")
    outcome = mhc.outcome(proxy, dest)
    entries = _entry_lines(outcome.entries)
    merged: tuple[ConfLine, ...] = ()
    checker, reason = None, ""
    if outcome.merged is not None:
        merged = tuple(_conf_lines(outcome.merged))
        checker = outcome.checker or "none"
        reason = _reason(outcome.rule, dest.protocol)
    kong = _family(result, "KongUpstreamPolicy")
    kong_policy = kong.attached(dest) if kong is not None else None
    legacy = _family(result, "HealthCheck")
    win = legacy.winner(proxy, dest) if legacy is not None else None

    def named(group: Any, kind: str | None) -> str | None:
        return f"{kind} {group.source}" if group is not None else None

    cb_entries: tuple[EntryLine, ...] = ()
    cb_merged: tuple[ConfLine, ...] = ()
    mcb = _family(result, "MeshCircuitBreaker")
    if mcb is not None:
        cb = mcb.outcome(proxy, dest)
        cb_entries = _entry_lines(cb.entries)
        if cb.merged is not None:
            cb_merged = tuple(_cb_lines(cb.merged))
    legacy_cb = _family(result, "CircuitBreaker")
    cb_win = legacy_cb.winner(proxy, dest) if legacy_cb is not None else None
    return ClusterExplanation(
        dest.name, dest.protocol, dest.protocol_source, len(dest.endpoints), entries, merged, checker, reason,
        kong_policy.summary() if kong_policy is not None else None,
        f"{win.policy.res.display_name} (aggregate rank ({win.aggregate[0]},{win.aggregate[1]}))" if win else None,
        named(groups.health_check, groups.health_check_kind), named(groups.panic, groups.panic_kind),
        named(groups.outlier, groups.outlier_kind), cb_entries, cb_merged,
        named(groups.circuit_breakers, groups.circuit_breakers_kind),
        f"{cb_win.policy.res.display_name} (aggregate rank ({cb_win.aggregate[0]},{cb_win.aggregate[1]}))"
        if cb_win else None)


def _entry_lines(entries: Any) -> tuple[EntryLine, ...]:
    return tuple(EntryLine(e.label, mhc_match.ref_text(e.target_ref),
                           e.policy.res.src.where_of(("spec", "to", e.index)))
                 for e in entries)


def _cb_lines(merged: mhc_match.Merged) -> list[ConfLine]:
    """One line per set leaf of a merged MeshCircuitBreaker conf, in Kuma's field order, with its setter."""
    out: list[ConfLine] = []

    def walk(value: Any, path: tuple[str, ...]) -> None:
        if isinstance(value, dict) and value:
            order = _CB_KEYS.get(path[-1] if path else "", ())
            for k in sorted(value, key=lambda k: (order.index(k) if k in order else len(order), k)):
                walk(value[k], (*path, k))
            return
        out.append(ConfLine(".".join(path), value, merged.origins[path].label))

    walk(merged.conf, ())
    return out


def _reason(rule: int, protocol: str) -> str:
    if rule in (1, 2, 3):
        return f"rule {rule}: protocol {protocol}, {_BLOCK_FOR_RULE[rule]} enabled"
    if rule in (4, 5):
        return f"rule {rule}: protocol {protocol}, {_BLOCK_FOR_RULE[rule]} disabled, tcp enabled (fallback)"
    return f"rule 6: protocol {protocol}, no enabled block for it"


def _conf_lines(merged: mhc_match.Merged) -> list[ConfLine]:
    """One line per set leaf of the merged conf: objects are descended, lists and objects without set fields
    (``tcp: {}``) are leaves; 02 §2 order; origin = the entry that set it last, else ``default``."""
    out: list[ConfLine] = []

    def walk(value: Any, path: tuple[str, ...]) -> None:
        if isinstance(value, dict) and value:
            order = _BLOCK_KEYS.get(path[-1], ())
            for k in sorted(value, key=lambda k: (order.index(k) if k in order else len(order), k)):
                walk(value[k], (*path, k))
            return
        entry = merged.origins.get(path)  # absent: filled in by a 02 §2 default
        out.append(ConfLine(".".join(path), value, entry.label if entry is not None else "default"))

    for field in _FIELDS:
        if field in merged.conf:
            walk(merged.conf[field], (field,))
    return out


def text(explanations: list[ProxyExplanation]) -> str:
    """The human-readable form of 07 §4 (two-space indents), ending with a newline."""
    lines: list[str] = []
    for p in explanations:
        tags = _pairs({k: ",".join(v) for k, v in p.tags.items()})
        lines += [f"proxy {p.mesh}/{p.name}", f"  tags: {tags}", f"  labels: {_pairs(p.labels)}"]
        for c in p.clusters:
            lines.append(f"cluster {c.name}")
            plural = "endpoint" if c.endpoints == 1 else "endpoints"
            lines.append(f"  destination: protocol {c.protocol} ({c.protocol_source}), {c.endpoints} {plural}")
            if not c.entries:
                lines.append("  MeshHealthCheck entries: none")
            else:
                lines.append("  MeshHealthCheck entries (merge order, lowest priority first):")
                lines += [f"    {i}. {e.entry} -> {e.target} ({e.where})" for i, e in enumerate(c.entries, 1)]
                lines.append("  merged conf:")
                lines += [f"    {m.path}: {json.dumps(m.value, separators=(',', ':'), ensure_ascii=False)}"
                          f"  [{m.origin}]" for m in c.merged]
                lines.append(f"  checker: {c.checker} ({c.checker_reason})")
            lines.append(f"  KongUpstreamPolicy: {c.kong or 'none'}")
            lines.append(f"  HealthCheck: {c.healthcheck or 'none'}")
            if not c.circuit_breaker_entries:
                lines.append("  MeshCircuitBreaker entries: none")
            else:
                lines.append("  MeshCircuitBreaker entries (merge order, lowest priority first):")
                lines += [f"    {i}. {e.entry} -> {e.target} ({e.where})"
                          for i, e in enumerate(c.circuit_breaker_entries, 1)]
                lines.append("  merged conf:")
                lines += [f"    {m.path}: {json.dumps(m.value, separators=(',', ':'), ensure_ascii=False)}"
                          f"  [{m.origin}]" for m in c.circuit_breaker_merged]
            lines.append(f"  CircuitBreaker: {c.circuitbreaker or 'none'}")
            lines.append(f"  result: health check <- {c.health_check_from or 'none'}; panic settings <- "
                         f"{c.panic_from or 'none'}; outlier detection <- {c.outlier_from or 'none'}; "
                         f"circuit breakers <- {c.circuit_breakers_from or 'none'}")
    return "\n".join(lines) + "\n"


def as_json(explanations: list[ProxyExplanation]) -> str:
    """The same facts for tools: ``{"proxies": [...]}`` with the dataclass fields, 2-space indented."""
    return json.dumps({"proxies": [asdict(p) for p in explanations]}, indent=2, ensure_ascii=False) + "\n"

"""Which documents are mistakes rather than someone else's resources.

A Universal file holds only Kuma resources, so a ``type`` that is no Kuma kind is a typo. In Kubernetes files,
a ``kind`` in the ``kuma.io`` or ``configuration.konghq.com`` API groups that those projects do not define is a
typo too; every other Kubernetes kind (``ConfigMap``, ``Deployment``, ...) belongs to someone else and is skipped.
Kinds those projects define that kumahc does not read (``MeshTimeout``, ``KongPlugin``, ...) are skipped too.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# Kuma's resource kinds (Universal `type`, and `kind` in the kuma.io group), Kuma 2.x.
KUMA = frozenset({
    "CircuitBreaker", "ContainerPatch", "Dataplane", "DataplaneInsight", "ExternalService", "FaultInjection",
    "GlobalSecret", "HealthCheck", "HostnameGenerator", "Mesh", "MeshAccessLog", "MeshCircuitBreaker",
    "MeshExternalService", "MeshFaultInjection", "MeshGateway", "MeshGatewayConfig", "MeshGatewayInstance",
    "MeshGatewayRoute", "MeshHTTPRoute", "MeshHealthCheck", "MeshIdentity", "MeshInsight",
    "MeshLoadBalancingStrategy", "MeshMetric", "MeshMultiZoneService", "MeshPassthrough", "MeshProxyPatch",
    "MeshRateLimit", "MeshRetry", "MeshService", "MeshTCPRoute", "MeshTLS", "MeshTimeout", "MeshTrace",
    "MeshTrafficPermission", "MeshTrust", "ProxyTemplate", "RateLimit", "Retry", "Secret", "ServiceInsight",
    "Timeout", "TrafficLog", "TrafficPermission", "TrafficRoute", "TrafficTrace", "VirtualOutbound", "Workload",
    "Zone", "ZoneEgress", "ZoneEgressInsight", "ZoneIngress", "ZoneIngressInsight", "ZoneInsight",
})

# Kong's kinds in the configuration.konghq.com group.
KONG = frozenset({
    "IngressClassParameters", "KongClusterPlugin", "KongConsumer", "KongConsumerGroup", "KongCustomEntity",
    "KongIngress", "KongLicense", "KongPlugin", "KongUpstreamPolicy", "KongVault", "TCPIngress", "UDPIngress",
})

KUMA_GROUP = "kuma.io/"
KONG_GROUP = "configuration.konghq.com/"


def close_matches(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Up to ``n`` of ``candidates`` that look like ``word``, best first: difflib's similarity ratio (case
    ignored) at least 0.6 and within 0.1 of the best one, so a shared prefix (``default/``) does not bring in
    every name."""
    folded = word.lower()
    scored = []
    for c in dict.fromkeys(candidates):
        m = difflib.SequenceMatcher(None, folded, c.lower())
        if m.real_quick_ratio() >= 0.6 and m.quick_ratio() >= 0.6 and (r := m.ratio()) >= 0.6:
            scored.append((-r, c))
    scored.sort()
    if not scored:
        return []
    best = -scored[0][0]
    return [c for r, c in scored[:n] if -r >= best - 0.1]


def did_you_mean(word: str, candidates: Iterable[str], n: int = 1) -> str:
    """``; did you mean "X"?`` (up to ``n`` candidates joined by ``or``) when some candidate is close, else ``""``."""
    found = close_matches(word, candidates, n)
    if not found:
        return ""
    return "; did you mean " + " or ".join(f'"{m}"' for m in found) + "?"


def unknown_kind(kind: str, known: Iterable[str], reads: Iterable[str], project: str) -> str | None:
    """The error for a kind ``project`` (``Kuma``, ``Kong``) does not define, or None when it does: the closest
    known kind as a suggestion, else the kinds kumahc reads (``reads``)."""
    known = frozenset(known)
    if kind in known:
        return None
    hint = did_you_mean(kind, sorted(known))
    if not hint:
        read = sorted(set(reads) & known)
        hint = f" (kumahc reads {', '.join(read)})" if read else ""
    return f'unknown kind "{kind}": not a {project} kind{hint}'

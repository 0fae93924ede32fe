"""Precedence between policy kinds on one cluster (spec 03 §5, extended for circuit breakers): each kind
contributes field groups independently; per group the first contributing kind in
MeshCircuitBreaker > MeshHealthCheck > KongUpstreamPolicy > HealthCheck > CircuitBreaker wins, and every loser is
reported. Per group that reads:

- health check: MeshHealthCheck > KongUpstreamPolicy > HealthCheck;
- panic settings: MeshCircuitBreaker (``outlierDetection.healthyPanicThreshold``) > MeshHealthCheck (its deprecated
  ``healthyPanicThreshold``/``failTrafficOnPanic``) > KongUpstreamPolicy (``threshold``) > HealthCheck;
- outlier detection and circuit breakers: MeshCircuitBreaker > KongUpstreamPolicy > CircuitBreaker.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from envoy.config.cluster.v3 import circuit_breaker_pb2, cluster_pb2, outlier_detection_pb2
from envoy.config.core.v3 import base_pb2, health_check_pb2

from kumahc.resources.model import Resource

PRECEDENCE = ("MeshCircuitBreaker", "MeshHealthCheck", "KongUpstreamPolicy", "HealthCheck", "CircuitBreaker")


@dataclass(frozen=True, slots=True)
class HealthCheckGroup:
    """``health_checks[0]`` plus what comes with it: Kong's TLS ``transport_socket``, and whether the check needs
    HTTP/2 upstream options (gRPC). ``source`` = display name of the policy named in messages."""

    source: str
    health_check: health_check_pb2.HealthCheck
    http2: bool = False
    transport_socket: base_pb2.TransportSocket | None = None


@dataclass(frozen=True, slots=True)
class PanicGroup:
    source: str
    panic: cluster_pb2.Cluster.CommonLbConfig


@dataclass(frozen=True, slots=True)
class OutlierGroup:
    source: str
    outlier: outlier_detection_pb2.OutlierDetection


@dataclass(frozen=True, slots=True)
class CircuitBreakersGroup:
    source: str
    circuit_breakers: circuit_breaker_pb2.CircuitBreakers


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one policy kind gives one (proxy, cluster); a None group = no contribution to it."""

    kind: str
    health_check: HealthCheckGroup | None = None
    panic: PanicGroup | None = None
    outlier: OutlierGroup | None = None
    circuit_breakers: CircuitBreakersGroup | None = None


@dataclass(frozen=True, slots=True)
class Combined:
    """The winning group of each kind, and who won (kind) for ``inspect``."""

    health_check: HealthCheckGroup | None = None
    panic: PanicGroup | None = None
    outlier: OutlierGroup | None = None
    health_check_kind: str | None = None
    panic_kind: str | None = None
    circuit_breakers: CircuitBreakersGroup | None = None
    outlier_kind: str | None = None
    circuit_breakers_kind: str | None = None

    def kind_of(self, group: str) -> str | None:
        """The kind that won ``group`` (an attribute name of :data:`GROUPS`), or None."""
        return getattr(self, f"{group}_kind")


GROUPS = (("health_check", "health check"), ("panic", "panic settings"), ("outlier", "outlier detection"),
          ("circuit_breakers", "circuit breakers"))


def combine(contributions: Iterable[Contribution]) -> tuple[Combined, list[str]]:
    """Combine per field group. Returns the winners and the warning messages (without the
    ``proxy … cluster …:`` prefix) for every losing contribution, group by group, in precedence order."""
    ordered = sorted(contributions, key=lambda c: PRECEDENCE.index(c.kind))
    warnings: list[str] = []
    winners: dict[str, tuple[str, object]] = {}
    for group, label in GROUPS:
        for c in ordered:
            g = getattr(c, group)
            if g is None:
                continue
            if group not in winners:
                winners[group] = (c.kind, g)
            else:
                kind, won = winners[group]
                warnings.append(f"{label} from {c.kind} {g.source} ignored: {kind} {won.source} takes precedence")

    def won(group: str) -> tuple[object, str | None]:
        w = winners.get(group)
        return (w[1], w[0]) if w else (None, None)

    hc, hc_kind = won("health_check")
    panic, panic_kind = won("panic")
    outlier, outlier_kind = won("outlier")
    cb, cb_kind = won("circuit_breakers")
    return Combined(hc, panic, outlier, hc_kind, panic_kind, cb, outlier_kind, cb_kind), warnings  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Attachment:
    """What one policy does on one cluster it reaches (``inspect --policy``): what it contributes (field groups,
    or the fields it set; None = nothing) and why what it sets is not applied (None = everything is)."""

    contributes: str | None
    loses: str | None


def attachment(res: Resource, selected: bool, groups: Combined, lost: list[str]) -> Attachment | None:
    """The attachment of a policy that either wins a field group whole or loses it (no merge): the groups it won
    (combine's order), the precedence warnings naming it, or ``sets nothing`` when it was selected for nothing.
    None when it is not selected, won nothing and lost nothing."""
    won = [words for attr, words in GROUPS
           if (g := getattr(groups, attr)) is not None and g.source == res.display_name
           and groups.kind_of(attr) == res.kind]
    if not selected and not won and not lost:
        return None
    if won:
        return Attachment(", ".join(won), "; ".join(lost) or None)
    if lost:
        return Attachment(None, "; ".join(lost))
    return Attachment(None, f"{res.kind} {res.display_name} sets nothing for this cluster")

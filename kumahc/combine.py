"""Precedence between policy kinds on one cluster (spec 03 §5): each kind contributes field groups
independently; per group the first contributing kind in MeshHealthCheck > KongUpstreamPolicy > HealthCheck wins,
and every loser is reported."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from envoy.config.cluster.v3 import cluster_pb2, outlier_detection_pb2
from envoy.config.core.v3 import base_pb2, health_check_pb2

PRECEDENCE = ("MeshHealthCheck", "KongUpstreamPolicy", "HealthCheck")


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
class Contribution:
    """What one policy kind gives one (proxy, cluster); a None group = no contribution to it."""

    kind: str
    health_check: HealthCheckGroup | None = None
    panic: PanicGroup | None = None
    outlier: OutlierGroup | None = None


@dataclass(frozen=True, slots=True)
class Combined:
    """The winning group of each kind, and who won (kind) for ``inspect``."""

    health_check: HealthCheckGroup | None = None
    panic: PanicGroup | None = None
    outlier: OutlierGroup | None = None
    health_check_kind: str | None = None
    panic_kind: str | None = None


def combine(contributions: Iterable[Contribution]) -> tuple[Combined, list[str]]:
    """Combine per field group. Returns the winners and the warning messages (without the
    ``proxy … cluster …:`` prefix) for every losing contribution, in precedence order."""
    ordered = sorted(contributions, key=lambda c: PRECEDENCE.index(c.kind))
    warnings: list[str] = []
    winners: dict[str, tuple[str, object]] = {}
    for group, label in (("health_check", "health check"), ("panic", "panic settings")):
        for c in ordered:
            g = getattr(c, group)
            if g is None:
                continue
            if group not in winners:
                winners[group] = (c.kind, g)
            else:
                kind, won = winners[group]
                warnings.append(f"{label} from {c.kind} {g.source} ignored: {kind} {won.source} takes precedence")
    outlier = next((c.outlier for c in ordered if c.outlier is not None), None)
    hc = winners.get("health_check")
    panic = winners.get("panic")
    return Combined(hc[1] if hc else None, panic[1] if panic else None, outlier,
                    hc[0] if hc else None, panic[0] if panic else None), warnings

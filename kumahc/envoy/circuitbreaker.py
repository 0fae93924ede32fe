"""``Cluster.circuit_breakers`` and ``Cluster.outlier_detection`` builders shared by the circuit-breaker families
(MeshCircuitBreaker, legacy CircuitBreaker). Inputs use Envoy's terms; the families map their own fields."""

from __future__ import annotations

from collections.abc import Mapping

from envoy.config.cluster.v3 import circuit_breaker_pb2, outlier_detection_pb2

from kumahc.durations import to_proto

ENFORCE = 100  # percent: every detected outlier is ejected
# Envoy Thresholds field ← kumahc limit name (Envoy's own names, without the prefix).
THRESHOLD_FIELDS = ("max_connections", "max_connection_pools", "max_pending_requests", "max_retries", "max_requests")


def circuit_breakers(limits: Mapping[str, int], track_remaining: bool = True) -> circuit_breaker_pb2.CircuitBreakers:
    """``circuit_breakers`` with one ``thresholds`` item (priority DEFAULT, left unset so JSON omits it):
    ``limits`` maps :data:`THRESHOLD_FIELDS` names to counts (UInt32Value, written only when given), and
    ``track_remaining`` publishes the ``remaining_*`` gauges (Kuma always turns it on)."""
    cb = circuit_breaker_pb2.CircuitBreakers()
    t = cb.thresholds.add()
    for name in THRESHOLD_FIELDS:
        if name in limits:
            getattr(t, name).value = limits[name]
    if track_remaining:
        t.track_remaining = True
    return cb


def outlier_detection(fields: Mapping[str, int | bool]) -> outlier_detection_pb2.OutlierDetection:
    """``outlier_detection`` from Envoy field names: durations in nanoseconds (``interval``,
    ``base_ejection_time``), ``split_external_local_origin_errors`` (bool), every other field a UInt32Value
    (counts, percents, ``success_rate_stdev_factor`` in thousandths). Fields not given are left unset."""
    od = outlier_detection_pb2.OutlierDetection()
    for name, value in fields.items():
        if name in ("interval", "base_ejection_time"):
            getattr(od, name).CopyFrom(to_proto(int(value)))
        elif name == "split_external_local_origin_errors":
            od.split_external_local_origin_errors = bool(value)
        else:
            getattr(od, name).value = int(value)
    return od

"""A merged MeshCircuitBreaker conf → Envoy, as Kuma v2.14's configurer (``plugin/xds/configurer.go``) does it:

- ``circuit_breakers.thresholds[0]`` (priority DEFAULT) with ``track_remaining: true`` and every
  ``connectionLimits`` field set;
- ``outlier_detection`` unless ``outlierDetection`` is absent or ``disabled``: ``interval``,
  ``base_ejection_time``, ``max_ejection_percent``, ``split_external_local_origin_errors``, and per detector its
  thresholds with ``enforcing_*`` 100 when it is configured, 0 when not (``successRate`` and ``failurePercentage``
  also set their local-origin twins; ``standardDeviationFactor`` becomes thousandths);
- ``common_lb_config.healthy_panic_threshold`` from ``outlierDetection.healthyPanicThreshold`` (only when outlier
  detection is applied).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from envoy.config.cluster.v3 import circuit_breaker_pb2, cluster_pb2, outlier_detection_pb2

from kumahc.durations import parse_duration
from kumahc.envoy import circuitbreaker as cbb
from kumahc.envoy.circuitbreaker import ENFORCE
from kumahc.policies.core.checks import number

# connectionLimits field → Envoy Thresholds field
LIMITS = {"maxConnections": "max_connections", "maxConnectionPools": "max_connection_pools",
          "maxPendingRequests": "max_pending_requests", "maxRetries": "max_retries", "maxRequests": "max_requests"}
# consecutive-count detectors: detector → (Envoy count field, Envoy enforcing field)
CONSECUTIVE = {
    "totalFailures": ("consecutive_5xx", "enforcing_consecutive_5xx"),
    "localOriginFailures": ("consecutive_local_origin_failure", "enforcing_consecutive_local_origin_failure"),
    "gatewayFailures": ("consecutive_gateway_failure", "enforcing_consecutive_gateway_failure"),
}


def field_group(path: Sequence[str]) -> str:
    """The Envoy field group a conf leaf (``("connectionLimits", "maxConnections")``) feeds, in the words of
    :data:`kumahc.policies.combine.GROUPS`: ``circuit breakers`` (``connectionLimits``), ``panic settings``
    (``outlierDetection.healthyPanicThreshold``) or ``outlier detection`` (the rest of ``outlierDetection``)."""
    if path[0] == "connectionLimits":
        return "circuit breakers"
    return "panic settings" if tuple(path) == ("outlierDetection", "healthyPanicThreshold") else "outlier detection"


def circuit_breakers(conf: Mapping[str, Any]) -> circuit_breaker_pb2.CircuitBreakers:
    limits = conf.get("connectionLimits") or {}
    return cbb.circuit_breakers({LIMITS[k]: v for k, v in limits.items()})


def outlier_applies(conf: Mapping[str, Any]) -> bool:
    od = conf.get("outlierDetection")
    return od is not None and not od.get("disabled", False)


def outlier_detection(conf: Mapping[str, Any]) -> outlier_detection_pb2.OutlierDetection | None:
    """None when ``outlierDetection`` is absent or disabled."""
    if not outlier_applies(conf):
        return None
    od = conf["outlierDetection"]
    f: dict[str, int | bool] = {}
    for name, envoy_name in (("interval", "interval"), ("baseEjectionTime", "base_ejection_time")):
        if name in od:
            f[envoy_name] = parse_duration(od[name])
    if "splitExternalAndLocalErrors" in od:
        f["split_external_local_origin_errors"] = od["splitExternalAndLocalErrors"]
    if "maxEjectionPercent" in od:
        f["max_ejection_percent"] = od["maxEjectionPercent"]
    detectors = od.get("detectors") or {}
    for name, (count, enforcing) in CONSECUTIVE.items():
        consecutive = (detectors.get(name) or {}).get("consecutive")
        f[enforcing] = 0 if consecutive is None else ENFORCE
        if consecutive is not None:
            f[count] = consecutive
    if detectors:  # Kuma leaves the two statistical detectors at Envoy's defaults only without any detector
        sr = detectors.get("successRate")
        f["enforcing_success_rate"] = f["enforcing_local_origin_success_rate"] = 0 if sr is None else ENFORCE
        if sr is not None:
            for name, envoy_name in (("minimumHosts", "success_rate_minimum_hosts"),
                                     ("requestVolume", "success_rate_request_volume")):
                if name in sr:
                    f[envoy_name] = sr[name]
            if "standardDeviationFactor" in sr:
                f["success_rate_stdev_factor"] = int(number(sr["standardDeviationFactor"]) * 1000)
        fp = detectors.get("failurePercentage")
        f["enforcing_failure_percentage"] = f["enforcing_failure_percentage_local_origin"] = \
            0 if fp is None else ENFORCE
        if fp is not None:
            for name, envoy_name in (("minimumHosts", "failure_percentage_minimum_hosts"),
                                     ("requestVolume", "failure_percentage_request_volume"),
                                     ("threshold", "failure_percentage_threshold")):
                if name in fp:
                    f[envoy_name] = fp[name]
    return cbb.outlier_detection(f)


def panic_settings(conf: Mapping[str, Any]) -> cluster_pb2.Cluster.CommonLbConfig | None:
    """``common_lb_config`` with ``healthy_panic_threshold`` (percent as a double), or None."""
    if not outlier_applies(conf) or "healthyPanicThreshold" not in conf["outlierDetection"]:
        return None
    lb = cluster_pb2.Cluster.CommonLbConfig()
    lb.healthy_panic_threshold.value = float(Decimal(number(conf["outlierDetection"]["healthyPanicThreshold"])))
    return lb

"""A CircuitBreaker conf → Envoy, as Kuma's legacy configurers (``outlier_detection_configurer.go``,
``circuit_breaker_configurer.go``) do it:

- ``outlier_detection`` whenever the policy applies: ``interval``, ``base_ejection_time``,
  ``max_ejection_percent`` and ``split_external_local_origin_errors`` as written; each consecutive detector
  present → its count (when given) with ``enforcing_*`` 100, absent → ``enforcing_*`` 0; ``standardDeviation`` →
  success-rate fields (``factor`` × 1000, truncated) with ``enforcing_success_rate`` and
  ``enforcing_local_origin_success_rate`` 100, absent → ``enforcing_success_rate`` 0 only; ``failure`` →
  failure-percentage fields with both ``enforcing_failure_percentage*`` 100, absent →
  ``enforcing_failure_percentage`` 0 only;
- ``circuit_breakers.thresholds[0]`` only when a threshold is set (no ``track_remaining``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from envoy.config.cluster.v3 import circuit_breaker_pb2, outlier_detection_pb2

from kumahc.durations import parse_duration
from kumahc.envoy import circuitbreaker as cbb
from kumahc.envoy.circuitbreaker import ENFORCE

THRESHOLDS = {"maxConnections": "max_connections", "maxPendingRequests": "max_pending_requests",
              "maxRetries": "max_retries", "maxRequests": "max_requests"}
CONSECUTIVE = {
    "totalErrors": ("consecutive_5xx", "enforcing_consecutive_5xx"),
    "gatewayErrors": ("consecutive_gateway_failure", "enforcing_consecutive_gateway_failure"),
    "localErrors": ("consecutive_local_origin_failure", "enforcing_consecutive_local_origin_failure"),
}


def outlier_detection(conf: Mapping[str, Any]) -> outlier_detection_pb2.OutlierDetection:
    f: dict[str, int | bool] = {}
    for name, envoy_name in (("interval", "interval"), ("baseEjectionTime", "base_ejection_time")):
        if name in conf:
            f[envoy_name] = parse_duration(conf[name])
    if "maxEjectionPercent" in conf:
        f["max_ejection_percent"] = conf["maxEjectionPercent"]
    if conf.get("splitExternalAndLocalErrors"):
        f["split_external_local_origin_errors"] = True
    detectors = conf.get("detectors") or {}
    for name, (count, enforcing) in CONSECUTIVE.items():
        d = detectors.get(name)
        f[enforcing] = ENFORCE if d is not None else 0
        if d is not None and "consecutive" in d:
            f[count] = d["consecutive"]
    sd = detectors.get("standardDeviation")
    if sd is None:
        f["enforcing_success_rate"] = 0
    else:
        for name, envoy_name in (("requestVolume", "success_rate_request_volume"),
                                 ("minimumHosts", "success_rate_minimum_hosts")):
            if name in sd:
                f[envoy_name] = sd[name]
        if "factor" in sd:
            f["success_rate_stdev_factor"] = int(sd["factor"] * 1000)
        f["enforcing_success_rate"] = f["enforcing_local_origin_success_rate"] = ENFORCE
    fp = detectors.get("failure")
    if fp is None:
        f["enforcing_failure_percentage"] = 0
    else:
        for name, envoy_name in (("requestVolume", "failure_percentage_request_volume"),
                                 ("minimumHosts", "failure_percentage_minimum_hosts"),
                                 ("threshold", "failure_percentage_threshold")):
            if name in fp:
                f[envoy_name] = fp[name]
        f["enforcing_failure_percentage"] = f["enforcing_failure_percentage_local_origin"] = ENFORCE
    return cbb.outlier_detection(f)


def circuit_breakers(conf: Mapping[str, Any]) -> circuit_breaker_pb2.CircuitBreakers | None:
    thresholds = conf.get("thresholds") or {}
    limits = {THRESHOLDS[k]: v for k, v in thresholds.items() if k in THRESHOLDS}
    return cbb.circuit_breakers(limits, track_remaining=False) if limits else None

"""Pieces of ``envoy.config.core.v3.HealthCheck`` and ``Cluster.CommonLbConfig`` that Kuma's two policy kinds
share (spec 02 §8, 03 §4). Confs use Kuma's field names; durations are Go duration strings."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import base_pb2, extension_pb2, health_check_pb2
from envoy.extensions.health_check.event_sinks.file.v3 import file_pb2
from envoy.type.v3 import range_pb2

from kumahc.durations import parse_duration, to_proto

HealthCheck = health_check_pb2.HealthCheck
OVERWRITE = base_pb2.HeaderValueOption.OVERWRITE_IF_EXISTS_OR_ADD
FILE_SINK = "envoy.health_check.event_sinks.file"

# Kuma conf field → HealthCheck duration field.
_DURATIONS = (("interval", "interval"), ("timeout", "timeout"), ("initialJitter", "initial_jitter"),
              ("intervalJitter", "interval_jitter"), ("noTrafficInterval", "no_traffic_interval"))


def common(conf: Mapping[str, Any]) -> health_check_pb2.HealthCheck:
    """A HealthCheck with the fields common to every checker (02 §2, §8): durations, thresholds (always
    written: UInt32Value), jitter percent, reuse (BoolValue, written only when set), always-log (only when set),
    and the ``event_logger`` file sink for ``eventLogPath`` (never the deprecated ``event_log_path``)."""
    hc = HealthCheck()
    for field, envoy_field in _DURATIONS:
        if field in conf:
            getattr(hc, envoy_field).CopyFrom(to_proto(parse_duration(conf[field])))
    hc.unhealthy_threshold.value = conf["unhealthyThreshold"]
    hc.healthy_threshold.value = conf["healthyThreshold"]
    if "intervalJitterPercent" in conf:
        hc.interval_jitter_percent = conf["intervalJitterPercent"]
    if "reuseConnection" in conf:
        hc.reuse_connection.value = conf["reuseConnection"]
    if conf.get("alwaysLogHealthCheckFailures"):
        hc.always_log_health_check_failures = True
    if "eventLogPath" in conf:
        hc.event_logger.append(event_logger(conf["eventLogPath"]))
    return hc


def event_logger(path: str) -> extension_pb2.TypedExtensionConfig:
    """``event_logger[0]``: the file sink writing health-check events to ``path``."""
    ext = extension_pb2.TypedExtensionConfig(name=FILE_SINK)
    ext.typed_config.Pack(file_pb2.HealthCheckEventFileSink(event_log_path=path))
    return ext


def tcp(send: bytes | None, receive: Iterable[bytes]) -> health_check_pb2.HealthCheck.TcpHealthCheck:
    """``tcp_health_check``: payloads as lowercase hex text (Envoy's ``Payload.text``)."""
    check = HealthCheck.TcpHealthCheck()
    if send:
        check.send.text = send.hex()
    for block in receive:
        check.receive.add(text=block.hex())
    return check


def status_ranges(ranges: Iterable[tuple[int, int]]) -> list[range_pb2.Int64Range]:
    """Half-open ``[start, end)`` ranges as ``Int64Range`` (JSON prints int64 as strings)."""
    return [range_pb2.Int64Range(start=s, end=e) for s, e in ranges]


def header(key: str, value: str, overwrite: bool) -> base_pb2.HeaderValueOption:
    """One header option; the default action (APPEND_IF_EXISTS_OR_ADD) is left unset so JSON omits it."""
    opt = base_pb2.HeaderValueOption(header=base_pb2.HeaderValue(key=key, value=value))
    if overwrite:
        opt.append_action = OVERWRITE
    return opt


def panic_settings(conf: Mapping[str, Any]) -> cluster_pb2.Cluster.CommonLbConfig | None:
    """``common_lb_config`` from ``healthyPanicThreshold`` (percent 0–100, int or decimal string → double) and
    ``failTrafficOnPanic``; None when neither is set (02 §8)."""
    if "healthyPanicThreshold" not in conf and "failTrafficOnPanic" not in conf:
        return None
    lb = cluster_pb2.Cluster.CommonLbConfig()
    if "healthyPanicThreshold" in conf:
        lb.healthy_panic_threshold.value = float(Decimal(str(conf["healthyPanicThreshold"])))
    if "failTrafficOnPanic" in conf:
        lb.zone_aware_lb_config.fail_traffic_on_panic = conf["failTrafficOnPanic"]
    return lb

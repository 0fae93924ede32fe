"""KongUpstreamPolicy → Envoy (spec 04 §3–§5): active checks → ``health_checks[0]`` (+ TLS transport socket,
+ HTTP/2 need for gRPC), passive checks → ``outlier_detection``, ``threshold`` → panic settings.

Pure functions of a parsed policy (Kong defaults already applied, :mod:`kumahc.policies.kong.api`) and the destination
protocol. Kong times are integer seconds.
"""

from __future__ import annotations

from collections.abc import Iterable

from envoy.config.cluster.v3 import cluster_pb2, outlier_detection_pb2
from envoy.config.core.v3 import base_pb2, health_check_pb2
from envoy.extensions.transport_sockets.tls.v3 import tls_pb2
from envoy.type.v3 import http_pb2
from google.protobuf.duration_pb2 import Duration

from kumahc.envoy import healthcheck as hcb
from kumahc.envoy.cluster import HTTP2_PROTOCOLS
from kumahc.policies.combine import Contribution, HealthCheckGroup, OutlierGroup, PanicGroup
from kumahc.policies.kong import api

HealthCheck = health_check_pb2.HealthCheck

TLS_SOCKET = "envoy.transport_sockets.tls"
CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"  # must exist where Envoy runs (04 §3.2)
ALPN_H2 = "h2"
GATEWAY_FAILURES = frozenset({502, 503, 504})
EVERY_5XX = frozenset(range(500, 600))
ENVOY_STATUS_END = 600  # status ranges end at 600 (exclusive), as the CRD's 100–599
ALL_STATUSES = ((100, ENVOY_STATUS_END),)
TIMEOUT_STATUS = 504  # Kong reports an upstream 504 as a timeout, never as an HTTP status
ENFORCE = 100  # percent: every detected outlier is ejected
MAX_EJECTION_PERCENT = 100  # Envoy's 10 % default ejects nothing below 10 hosts


def status_ranges(codes: Iterable[int]) -> list[tuple[int, int]]:
    """Codes → sorted half-open ``[start, end)`` ranges, duplicates removed, consecutive
    codes merged: ``[200, 302]`` → ``[(200, 201), (302, 303)]``; ``[500, 501, 502]`` → ``[(500, 503)]`` (04 §3.1)."""
    out: list[tuple[int, int]] = []
    for code in sorted(set(codes)):
        if out and out[-1][1] == code:
            out[-1] = (out[-1][0], code + 1)
        else:
            out.append((code, code + 1))
    return out


def smallest_nonzero(values: Iterable[int]) -> int:
    """The smallest non-zero value, 0 when all are 0 (Envoy has one consecutive-failure counter)."""
    return min((v for v in values if v > 0), default=0)


def _seconds(s: int) -> Duration:
    return Duration(seconds=s)


def probe_interval(active: api.Active) -> int:
    """Envoy ``interval`` (s): H if H > 0, else U (04 §3)."""
    return active.healthy.interval or active.unhealthy.interval


def host_and_headers(active: api.Active) -> tuple[str | None, list[base_pb2.HeaderValueOption]]:
    """04 §3.1 headers: the first value of the first ``Host`` name (any case, names in byte order) becomes the
    host (gRPC: authority); every other name adds its first value with OVERWRITE_IF_EXISTS_OR_ADD and each
    further value with the default APPEND. A name with an empty list adds nothing."""
    host: str | None = None
    options: list[base_pb2.HeaderValueOption] = []
    for name, values in active.headers:
        if name.lower() == "host":
            if host is None and values:
                host = values[0]
            continue
        for i, value in enumerate(values):
            options.append(hcb.header(name, value, overwrite=i == 0))
    return host, options


def health_check(active: api.Active, protocol: str) -> health_check_pb2.HealthCheck:
    """``health_checks[0]`` for active checks that are on, on a destination of ``protocol`` (04 §3)."""
    interval = probe_interval(active)
    u = active.unhealthy.interval
    hc = HealthCheck(timeout=_seconds(active.timeout), interval=_seconds(interval))
    hc.unhealthy_threshold.value = smallest_nonzero(active.counters)
    hc.healthy_threshold.value = active.healthy.successes
    # Always written: an idle cluster is probed at the configured rate (Envoy's default is 60 s), and Kong probes
    # healthy and "mostly healthy" targets at the healthy interval.
    hc.no_traffic_interval.CopyFrom(_seconds(interval))
    hc.no_traffic_healthy_interval.CopyFrom(_seconds(interval))
    hc.unhealthy_edge_interval.CopyFrom(_seconds(interval))
    if u > 0:
        # Kong probes unhealthy and "mostly unhealthy" targets at the unhealthy interval.
        hc.unhealthy_interval.CopyFrom(_seconds(u))
        hc.healthy_edge_interval.CopyFrom(_seconds(u))
    host, headers = host_and_headers(active)
    if active.type == "tcp":
        hc.tcp_health_check.SetInParent()  # connect only
    elif active.type in api.GRPC_TYPES:
        grpc = hc.grpc_health_check
        grpc.SetInParent()  # empty service_name = the whole server
        if host is not None:
            grpc.authority = host
        grpc.initial_metadata.extend(headers)
    else:
        http = hc.http_health_check
        if host is not None:
            http.host = host
        http.path = active.http_path
        http.request_headers_to_add.extend(headers)
        if active.unhealthy.http_failures > 0:
            http.expected_statuses.extend(hcb.status_ranges(status_ranges(active.healthy.http_statuses)))
            http.retriable_statuses.extend(hcb.status_ranges(status_ranges(active.unhealthy.http_statuses)))
        else:
            # Kong never fails a target on a status when httpFailures is 0 (warning K9).
            http.expected_statuses.extend(hcb.status_ranges(ALL_STATUSES))
        if protocol == "http2":
            http.codec_client_type = http_pb2.HTTP2
    return hc


def tls_transport_socket(active: api.Active, http2: bool) -> base_pb2.TransportSocket:
    """04 §3.2: TLS for the whole cluster (``https``/``grpcs``). ``http2`` = the cluster has HTTP/2 options
    (then ALPN ``h2``). The CA bundle is set only when ``httpsVerifyCertificate``; empty parts are omitted."""
    ctx = tls_pb2.UpstreamTlsContext()
    if active.https_verify_certificate:
        ctx.common_tls_context.validation_context.trusted_ca.filename = CA_BUNDLE
    if http2:
        ctx.common_tls_context.alpn_protocols.append(ALPN_H2)
    if active.https_sni:
        ctx.sni = active.https_sni
    socket = base_pb2.TransportSocket(name=TLS_SOCKET)
    socket.typed_config.Pack(ctx)
    return socket


def listed_5xx(passive: api.Passive) -> tuple[int, ...]:
    """The 500–599 codes of ``passive.unhealthy.httpStatuses`` as written (504 included), sorted, unique."""
    return tuple(sorted({c for c in passive.unhealthy.http_statuses if c in EVERY_5XX}))


def passive_5xx(passive: api.Passive) -> tuple[int, ...]:
    """S5 of 04 §4: the 500–599 codes of ``passive.unhealthy.httpStatuses``, sorted, duplicates removed, without
    504: Kong reports an upstream 504 as a timeout, so a 504 in ``httpStatuses`` never adds to ``httpFailures``."""
    return tuple(sorted({c for c in passive.unhealthy.http_statuses if c in EVERY_5XX and c != TIMEOUT_STATUS}))


def local_origin_threshold(passive: api.Passive) -> int:
    """L of 04 §4: the smallest non-zero of (tcpFailures, timeouts), 0 if both are 0."""
    return smallest_nonzero((passive.unhealthy.tcp_failures, passive.unhealthy.timeouts))


def outlier_detection(passive: api.Passive) -> outlier_detection_pb2.OutlierDetection:
    """04 §4 ``outlier_detection`` for passive checks that are on; ``passive.type`` does not change it.
    Everything not written keeps Envoy's defaults (interval 10 s, base_ejection_time 30 s).

    Kong counts an upstream 504 response as a timeout, Envoy as an external (HTTP) failure: a 504 in
    ``httpStatuses`` does not choose the HTTP detector (S5 leaves it out), and no Envoy detector adds 504 responses
    to the local-origin (timeout) counter; K20 and K21 say so. Mapping 504s through ``consecutive_gateway_failure``
    would also eject on 502 and 503, which Kong would not count."""
    od = outlier_detection_pb2.OutlierDetection()
    od.max_ejection_percent.value = MAX_EJECTION_PERCENT
    od.enforcing_success_rate.value = 0
    od.enforcing_local_origin_success_rate.value = 0
    od.split_external_local_origin_errors = True
    n = passive.unhealthy.http_failures
    s5 = set(passive_5xx(passive))
    if n > 0 and s5 and not s5 <= GATEWAY_FAILURES:
        od.consecutive_5xx.value = n
        od.enforcing_consecutive_5xx.value = ENFORCE
    elif n > 0 and s5:
        od.consecutive_gateway_failure.value = n
        od.enforcing_consecutive_gateway_failure.value = ENFORCE
        od.enforcing_consecutive_5xx.value = 0
    else:
        od.enforcing_consecutive_5xx.value = 0
    local = local_origin_threshold(passive)
    if local > 0:
        od.consecutive_local_origin_failure.value = local
        od.enforcing_consecutive_local_origin_failure.value = ENFORCE
    else:
        od.enforcing_consecutive_local_origin_failure.value = 0
    return od


def panic_settings(threshold: int) -> cluster_pb2.Cluster.CommonLbConfig:
    """04 §5: 0 → ``healthy_panic_threshold: {}`` (never route to unhealthy hosts); T > 0 → T % and
    ``fail_traffic_on_panic`` (below T % healthy every request fails, Kong's "whole upstream unhealthy")."""
    lb = cluster_pb2.Cluster.CommonLbConfig()
    lb.healthy_panic_threshold.SetInParent()
    if threshold > 0:
        lb.healthy_panic_threshold.value = float(threshold)
        lb.zone_aware_lb_config.fail_traffic_on_panic = True
    return lb


def needs_http2(active: api.Active, protocol: str) -> bool:
    """The cluster will carry HTTP/2 options (05 §1): HTTP/2 destination, or a gRPC check."""
    return protocol in HTTP2_PROTOCOLS or active.type in api.GRPC_TYPES


def contribution(policy: api.KongUpstreamPolicy, protocol: str) -> Contribution | None:
    """The policy's field groups for a cluster of ``protocol`` (03 §5); None when neither active nor passive
    checks are on."""
    if not policy.contributes:
        return None
    source = policy.res.display_name
    hc_group = None
    active = policy.active
    if active.on:
        socket = tls_transport_socket(active, needs_http2(active, protocol)) if active.type in api.TLS_TYPES else None
        hc_group = HealthCheckGroup(source, health_check(active, protocol), http2=active.type in api.GRPC_TYPES,
                                    transport_socket=socket)
    outlier = OutlierGroup(source, outlier_detection(policy.passive)) if policy.passive.on else None
    return Contribution(api.KIND, hc_group, PanicGroup(source, panic_settings(policy.threshold)), outlier)

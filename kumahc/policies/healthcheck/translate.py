"""HealthCheck → Envoy (spec 03 §4): one ``health_checks`` entry on every destination the policy wins, whatever
its protocol (unknown included), and the panic settings (``common_lb_config``)."""

from __future__ import annotations

from envoy.config.cluster.v3 import cluster_pb2
from envoy.config.core.v3 import health_check_pb2
from envoy.type.v3 import http_pb2

from kumahc.envoy import healthcheck as hcb
from kumahc.policies.healthcheck.api import Conf, Http


def health_check(conf: Conf, protocol: str) -> health_check_pb2.HealthCheck:
    """``health_checks[0]`` for ``conf`` on a destination of ``protocol``: the common fields (02 §8), then HTTP when
    ``http`` is set, else TCP (connect-only without ``tcp``, payloads as lowercase hex of the decoded bytes)."""
    hc = hcb.common(conf.common)
    if conf.http is not None:
        _http(hc.http_health_check, conf.http, protocol)
    else:
        tcp = conf.tcp
        check = hcb.tcp(tcp.send, tcp.receive) if tcp is not None else hcb.tcp(None, ())
        hc.tcp_health_check.SetInParent()  # an empty TcpHealthCheck is the connect-only checker: keep it present
        hc.tcp_health_check.CopyFrom(check)
    return hc


def _http(check: health_check_pb2.HealthCheck.HttpHealthCheck, http: Http, protocol: str) -> None:
    """Headers copied as written (no comma splitting, no ``x-kuma-tags``); ``append: false`` → OVERWRITE, else
    the default action (omitted in JSON). HTTP/2 codec only for ``http2`` destinations (README #2)."""
    check.path = http.path
    for h in http.headers:
        check.request_headers_to_add.append(hcb.header(h.key, h.value, overwrite=not h.append))
    check.expected_statuses.extend(hcb.status_ranges((s, s + 1) for s in http.expected_statuses))
    if protocol == "http2":
        check.codec_client_type = http_pb2.HTTP2


def panic_settings(conf: Conf) -> cluster_pb2.Cluster.CommonLbConfig | None:
    """``common_lb_config`` when ``healthyPanicThreshold`` or ``failTrafficOnPanic`` is set, else None."""
    return hcb.panic_settings(conf.common)

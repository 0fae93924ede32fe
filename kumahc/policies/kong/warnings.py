"""The approximation warnings K1–K23 (spec 04 §6 and Kong's runtime behaviour), once per policy. K11 is gone:
status codes above 599 are now errors, as the KongUpstreamPolicy CRD has it. K20–K23 say where Kong's runtime
differs: a 504 is a timeout to Kong (K20, K21), Kong runs no checks for gRPC upstreams (K3, K22), and Kong sends a
user ``Host`` header next to its own (K23).

Each is ``(severity, path, message)`` with ``path`` relative to ``spec.healthchecks``; the family prints it as
``warning: FILE:LINE: KongUpstreamPolicy ns/name: spec.healthchecks.<PATH>: <MESSAGE>`` (K1 as ``info:``).
:func:`approximations` needs only the policy; K2 needs the protocols of the destinations it is attached to
(:func:`tcp_on_http`).

Decisions where 04 §6 is silent: K2–K4 speak about the check kumahc emits, so they need active checks on (with
active off nothing is emitted and the message would be false); K11, K13 and K18 are about fields that are ignored
whatever else is on, so they need nothing more than their trigger.
"""

from __future__ import annotations

from dataclasses import dataclass

from kumahc.diagnostics import Severity
from kumahc.policies.kong import api
from kumahc.policies.kong.translate import (
    EVERY_5XX,
    GATEWAY_FAILURES,
    TIMEOUT_STATUS,
    host_and_headers,
    listed_5xx,
    local_origin_threshold,
    passive_5xx,
)

HTTP_PROTOCOLS = frozenset({"http", "http2", "grpc"})
NO_GRPC = "Kong itself runs no checks for gRPC upstreams (its health checker supports http, https and tcp)"


@dataclass(frozen=True, slots=True)
class Approximation:
    """One K-warning: ``number`` (1–23), severity, path relative to ``spec.healthchecks``, message."""

    number: int
    severity: Severity
    path: tuple
    message: str


def _w(number: int, path: tuple, message: str) -> Approximation:
    return Approximation(number, Severity.WARNING, path, message)


def approximations(p: api.KongUpstreamPolicy) -> list[Approximation]:
    """Every K-warning of ``p`` except K2, in the order of the 04 §6 table."""
    out: list[Approximation] = []
    a, passive = p.active, p.passive
    out += _active_type(p)
    if a.on:
        h, u = a.healthy.interval, a.unhealthy.interval
        if h > 0 and u == 0:
            out.append(_w(5, ("active", "unhealthy", "interval"),
                          "0: Kong never re-probes unhealthy targets; Envoy keeps probing them every healthy.interval"))
        if h == 0 and u > 0:
            out.append(_w(6, ("active", "healthy", "interval"),
                          "0: Kong probes only unhealthy targets; Envoy probes every target every unhealthy.interval"))
        if a.healthy.successes == 0:
            out.append(_w(7, ("active", "healthy", "successes"),
                          "0: a target marked unhealthy never recovers through probes (healthy_threshold 0)"))
        used = a.counters
        if not any(used):
            out.append(_w(8, ("active", "unhealthy"),
                          "all failure counters are 0: probes never mark a target unhealthy (unhealthy_threshold 0)"))
        if a.type in api.HTTP_TYPES and a.unhealthy.http_failures == 0:
            out.append(_w(9, ("active", "unhealthy", "httpFailures"),
                          "0: HTTP statuses never mark a target unhealthy; every status is accepted"))
        nonzero = {c for c in used if c > 0}
        if len(nonzero) > 1:
            out.append(_w(10, ("active", "unhealthy"),
                          f"Envoy has one consecutive-failure counter: unhealthy_threshold = {min(nonzero)}"))
    out += _host_values(a)
    out += _unused_fields(p)
    if passive.on:
        out += _passive(passive)
    if ("passive", "healthy", "httpStatuses") in p.explicit:
        out.append(_w(18, ("passive", "healthy", "httpStatuses"),
                      "Envoy treats every non-5xx response as a success; ignored"))
    if ("threshold",) in p.explicit and not p.contributes:
        out.append(_w(19, ("threshold",), "no effect: neither active nor passive checks are enabled"))
    if passive.on:
        out += _kong_runtime_passive(passive)
    out += _host_header(a)
    return sorted(out, key=lambda w: w.number)


def _active_type(p: api.KongUpstreamPolicy) -> list[Approximation]:
    """K1, K3, K4."""
    out: list[Approximation] = []
    a = p.active
    if ("active", "concurrency") in p.explicit:
        out.append(Approximation(1, Severity.INFO, ("active", "concurrency"),
                                 "no Envoy equivalent (each host has its own timer); ignored"))
    if a.on and a.type in api.GRPC_TYPES:
        out.append(_w(3, ("active", "type"),
                      f"{NO_GRPC}; kumahc uses the gRPC health checking protocol over HTTP/2"))
    if a.on and a.type in api.TLS_TYPES:
        out.append(_w(4, ("active", "type"), "TLS is enabled for the whole cluster, data traffic included"))
    return out


def _host_values(a: api.Active) -> list[Approximation]:
    """K12: only the first ``Host`` value is used. With several names equal to ``host`` in some case, the first
    in byte order gives the host; every value of the others is unused too."""
    out: list[Approximation] = []
    seen_host = False
    for name, values in a.headers:
        if name.lower() != "host" or not values:
            continue
        if len(values) > 1 or seen_host:
            out.append(_w(12, ("active", "headers", name), "only the first value is used"))
        seen_host = True
    return out


def _unused_fields(p: api.KongUpstreamPolicy) -> list[Approximation]:
    """K13: fields written that the active type does not use, in 04 §2 field order."""
    t = p.active.type
    unused: list[tuple] = []
    if t == "tcp":
        unused = [("active", "httpPath"), ("active", "headers")]
    elif t in api.GRPC_TYPES:
        unused = [("active", "httpPath")]
    if t not in api.TLS_TYPES:
        unused += [("active", "httpsSni"), ("active", "httpsVerifyCertificate")]
    if t == "tcp" or t in api.GRPC_TYPES:
        unused += [("active", "healthy", "httpStatuses"), ("active", "unhealthy", "httpStatuses")]
    order = [("active", f) for f in ("httpPath", "httpsSni", "httpsVerifyCertificate", "headers")] + [
        ("active", "healthy", "httpStatuses"), ("active", "unhealthy", "httpStatuses")]
    return [_w(13, path, f"not used by active type {t}; ignored")
            for path in order if path in unused and path in p.explicit]


def _passive(passive: api.Passive) -> list[Approximation]:
    """K14–K17 (passive checks on)."""
    out: list[Approximation] = []
    u = passive.unhealthy
    if u.http_failures > 0:
        for k, code in enumerate(u.http_statuses):
            if code not in EVERY_5XX:
                out.append(_w(14, ("passive", "unhealthy", "httpStatuses", k),
                              f"{code} cannot be detected by Envoy outlier detection (only 5xx count); ignored"))
        # K15 compares what Envoy's detector counts with the codes as listed; without a code other than 504 there
        # is no detector (K20 says why).
        s5 = listed_5xx(passive) if passive_5xx(passive) else ()
        codes = ", ".join(str(c) for c in s5)
        path = ("passive", "unhealthy", "httpStatuses")
        if s5 and not set(s5) <= GATEWAY_FAILURES and set(s5) != EVERY_5XX:
            out.append(_w(15, path, f"Envoy counts every 5xx response, not only {codes}"))
        elif s5 and set(s5) <= GATEWAY_FAILURES and set(s5) != GATEWAY_FAILURES:
            out.append(_w(15, path, f"Envoy counts every 502, 503 and 504 response, not only {codes}"))
    if u.tcp_failures > 0 and u.timeouts > 0 and u.tcp_failures != u.timeouts:
        local = local_origin_threshold(passive)
        out.append(_w(16, ("passive", "unhealthy"),
                      f"Envoy has one local-origin failure counter: consecutive_local_origin_failure = {local}"))
    if passive.healthy.successes == 0:
        out.append(_w(17, ("passive", "healthy", "successes"),
                      "0: Kong never clears failures on success; Envoy clears them on every successful response"))
    return out


def _kong_runtime_passive(passive: api.Passive) -> list[Approximation]:
    """K20–K22 (passive checks on): Kong's 504-as-timeout, and no passive checks for gRPC upstreams."""
    out: list[Approximation] = []
    u = passive.unhealthy
    if u.http_failures > 0:
        for k, code in enumerate(u.http_statuses):
            if code == TIMEOUT_STATUS:
                out.append(_w(20, ("passive", "unhealthy", "httpStatuses", k),
                              "504: Kong counts an upstream 504 as a timeout (unhealthy.timeouts), never as an HTTP "
                              "failure; ignored"))
                break
    if u.timeouts > 0:
        if u.http_failures > 0 and passive_5xx(passive):
            envoy = f"Envoy counts them with the HTTP failures (httpFailures {u.http_failures})"
        else:
            envoy = "no Envoy detector counts them, so 504 responses never eject a target"
        out.append(_w(21, ("passive", "unhealthy", "timeouts"),
                      f"Kong also counts upstream 504 responses as timeouts; {envoy}"))
    if passive.type in api.GRPC_TYPES:
        out.append(_w(22, ("passive", "type"), f"{NO_GRPC}; kumahc applies Envoy outlier detection anyway"))
    return out


def _host_header(a: api.Active) -> list[Approximation]:
    """K23: an active HTTP check with a user ``Host`` header."""
    if not a.on or a.type not in api.HTTP_TYPES:
        return []
    host, _ = host_and_headers(a)
    if host is None:
        return []
    name = next(n for n, values in a.headers if n.lower() == "host" and values)
    return [_w(23, ("active", "headers", name),
               "Kong sends this Host header in addition to its own Host: <target>; Envoy sends only this one "
               "(http_health_check.host)")]


def tcp_on_http(p: api.KongUpstreamPolicy, protocols: set[str]) -> Approximation | None:
    """K2: an active ``tcp`` check on a policy attached to a destination of protocol http, http2 or grpc."""
    if p.active.on and p.active.type == "tcp" and protocols & HTTP_PROTOCOLS:
        return _w(2, ("active", "type"),
                  "Kong skips active tcp checks on HTTP services; kumahc emits a TCP connect check")
    return None

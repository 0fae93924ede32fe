"""KongUpstreamPolicy (spec 04): Kong defaults (§2), every range and format message (§2), the active mapping (§3:
intervals, statuses → ranges, headers, TLS, gRPC), the passive mapping (§4), threshold (§5), every approximation
warning K1–K19 (§6), attachment and its warnings (§1), preview mode (01 §7) and the worked examples (§7).

Policies are written by :func:`kup` with fixed lines (flow style): ``threshold`` on line 6, ``active`` on line 7,
``passive`` on line 8, so every message's ``FILE:LINE`` is known. Assertions are exact."""

from __future__ import annotations

import json
from typing import Any

import pytest
from helpers import REPO, Workspace, dataplane, docs

from kumahc.diagnostics import Report
from kumahc.pipeline import run as run_pipeline
from kumahc.policies.kong import api, translate
from kumahc.policies.kong.validate import path_problem, sni_problem, validate
from kumahc.resources.loader import load

F = "p.yaml"
SUBJECT = "KongUpstreamPolicy shop/p"
PREVIEW = "info: preview mode: no Dataplane in the inputs; synthesised proxies: default/kong"
CLUSTER = "p_shop_svc_80"  # the synthetic Service of an unreferenced policy (01 §7)


def kup(threshold: str | None = None, active: str | None = None, passive: str | None = None, *, extra: str = "",
        name: str = "p", namespace: str = "shop") -> str:
    """A KongUpstreamPolicy: ``threshold`` on line 6, ``active`` (flow mapping) on line 7, ``passive`` on line 8,
    ``extra`` spec lines from line 9."""
    lines = ["apiVersion: configuration.konghq.com/v1beta1", "kind: KongUpstreamPolicy",
             f"metadata: {{name: {name}, namespace: {namespace}}}", "spec:", "  healthchecks:",
             f"    threshold: {threshold}" if threshold is not None else "    # threshold",
             f"    active: {active}" if active is not None else "    # active",
             f"    passive: {passive}" if passive is not None else "    # passive"]
    return "\n".join(lines) + "\n" + extra


def service(name: str = "api", namespace: str = "shop", policy: str | None = "p", ports: str = "[{port: 80}]",
            mesh: str | None = None) -> str:
    """A core/v1 Service; the annotation sits on line 6 of its document."""
    labels = f"\n  labels: {{kuma.io/mesh: {mesh}}}" if mesh else ""
    annotation = f"konghq.com/upstream-policy: {policy}" if policy else "other: x"
    return (f"apiVersion: v1\nkind: Service\nmetadata:\n  name: {name}\n  namespace: {namespace}\n"
            f"  annotations: {{{annotation}}}{labels}\nspec:\n  ports: {ports}\n")


def at(line: int, path: str) -> str:
    """``p.yaml:LINE: KongUpstreamPolicy shop/p: spec.healthchecks.PATH: `` (the prefix of a message)."""
    return f"{F}:{line}: {SUBJECT}: spec.healthchecks.{path}: "


def warn(line: int, path: str, message: str) -> str:
    return "warning: " + at(line, path) + message


def render(ws: Workspace, text: str, *args: str) -> tuple[dict[str, Any], list[str]]:
    """Render ``p.yaml`` (exit 0 expected): the document and the stderr lines."""
    ws.write(F, text)
    r = ws.ok("render", F, *args)
    return r.json, r.lines


def clusters(doc: dict[str, Any], proxy: str = "kong") -> dict[str, dict[str, Any]]:
    (p,) = [p for p in doc["proxies"] if p["name"] == proxy]
    return {c["name"]: c for c in p["clusters"]}


def cluster(ws: Workspace, text: str, *args: str, name: str = CLUSTER) -> tuple[dict[str, Any], list[str]]:
    doc, lines = render(ws, text, *args)
    return clusters(doc)[name], lines


def parsed(ws: Workspace, text: str) -> api.KongUpstreamPolicy:
    ws.write(F, text)
    report = Report()
    (res,) = load([F], report).resources
    assert validate(res, report), report.lines()
    return api.parse(res, 0)


# --- §2 defaults ----------------------------------------------------------------------------------------------------


def test_kong_defaults(ws: Workspace) -> None:
    p = parsed(ws, kup())
    assert p.threshold == 0
    a = p.active
    assert (a.type, a.concurrency, a.http_path, a.https_sni, a.https_verify_certificate, a.timeout, a.headers) == (
        "http", 10, "/", None, True, 1, ())
    assert a.healthy == api.Healthy(0, 0, (200, 302))
    assert a.unhealthy == api.Unhealthy(0, 0, 0, 0, (429, 404, 500, 501, 502, 503, 504, 505))
    assert p.passive.type == "http"
    assert p.passive.healthy == api.Healthy(0, 0, (200, 201, 202, 203, 204, 205, 206, 207, 208, 226,
                                                   300, 301, 302, 303, 304, 305, 306, 307, 308))
    assert len(p.passive.healthy.http_statuses) == 19
    assert p.passive.unhealthy == api.Unhealthy(0, 0, 0, 0, (429, 500, 503))
    assert (a.on, p.passive.on, p.contributes, p.explicit) == (False, False, False, frozenset())


def test_empty_lists_and_nulls_count_as_absent(ws: Workspace) -> None:
    p = parsed(ws, kup("null", "{type: null, httpPath: null, headers: {X-A: [], X-B: null}, "
                               "healthy: {httpStatuses: []}, unhealthy: {httpStatuses: []}}",
                       "{healthy: {httpStatuses: []}, unhealthy: {httpStatuses: []}}"))
    assert p.active.healthy.http_statuses == (200, 302)
    assert p.active.unhealthy.http_statuses == api.ACTIVE_UNHEALTHY_STATUSES
    assert p.passive.healthy.http_statuses == api.PASSIVE_HEALTHY_STATUSES
    assert p.passive.unhealthy.http_statuses == (429, 500, 503)
    assert (p.threshold, p.active.type, p.active.http_path) == (0, "http", "/")
    assert p.active.headers == (("X-A", ()),)
    assert p.explicit == frozenset()


def test_defaults_in_the_rendered_check(ws: Workspace) -> None:
    """Only ``healthy.interval`` set: path ``/``, timeout 1 s, thresholds 0, every status accepted."""
    c, lines = cluster(ws, kup(active="{healthy: {interval: 5}}"))
    assert c["health_checks"] == [{
        "timeout": "1s", "interval": "5s", "unhealthy_threshold": 0, "healthy_threshold": 0,
        "http_health_check": {"path": "/", "expected_statuses": [{"start": "100", "end": "600"}]},
        "no_traffic_interval": "5s", "unhealthy_edge_interval": "5s", "no_traffic_healthy_interval": "5s"}]
    assert c["common_lb_config"] == {"healthy_panic_threshold": {}}
    assert "outlier_detection" not in c and "transport_socket" not in c
    assert lines == [PREVIEW,
                     warn(7, "active.unhealthy.interval", "0: Kong never re-probes unhealthy targets; Envoy keeps "
                                                          "probing them every healthy.interval"),
                     warn(7, "active.healthy.successes", "0: a target marked unhealthy never recovers through probes"
                                                         " (healthy_threshold 0)"),
                     warn(7, "active.unhealthy", "all failure counters are 0: probes never mark a target unhealthy "
                                                 "(unhealthy_threshold 0)"),
                     warn(7, "active.unhealthy.httpFailures", "0: HTTP statuses never mark a target unhealthy; every "
                                                              "status is accepted")]


# --- §2 validation ----------------------------------------------------------------------------------------------------

A, PS = 7, 8  # lines of active and passive


def err(line: int, path: str, message: str) -> str:
    return at(line, path) + message


def between(low: int, high: int) -> str:
    return f"value should be between {low} and {high}"


ONE_OF = "expected one of: tcp, http, https, grpc, grpcs"
RFC3986 = "(characters outside of the reserved list of RFC 3986 found)"
BAD_HEADER = "bad header name '{}', allowed characters are A-Z, a-z, 0-9, '_', and '-'"

VALIDATION_CASES = [
    ("threshold-high", dict(threshold="101"), [err(6, "threshold", between(0, 100))]),
    ("threshold-negative", dict(threshold="-1"), [err(6, "threshold", between(0, 100))]),
    ("active-type", dict(active="{type: udp}"), [err(A, "active.type", ONE_OF)]),
    ("active-type-case", dict(active="{type: HTTP}"),
     [err(A, "active.type", ONE_OF)]),
    ("passive-type", dict(passive="{type: h2}"), [err(PS, "passive.type", ONE_OF)]),
    ("concurrency-0", dict(active="{concurrency: 0}"), [err(A, "active.concurrency", between(1, 2147483648))]),
    ("concurrency-high", dict(active="{concurrency: 2147483649}"),
     [err(A, "active.concurrency", between(1, 2147483648))]),
    ("path-no-slash", dict(active="{httpPath: health}"), [err(A, "active.httpPath", "should start with: /")]),
    ("path-empty", dict(active='{httpPath: ""}'), [err(A, "active.httpPath", "should start with: /")]),
    ("path-empty-segment", dict(active="{httpPath: /a//b}"),
     [err(A, "active.httpPath", "must not have empty segments")]),
    ("path-space", dict(active='{httpPath: "/a b"}'), [err(A, "active.httpPath", f"invalid path: '/a b' {RFC3986}")]),
    ("path-query", dict(active='{httpPath: "/a?b=1"}'),
     [err(A, "active.httpPath", f"invalid path: '/a?b=1' {RFC3986}")]),
    ("path-newline", dict(active='{httpPath: "/a\\n"}'),
     [err(A, "active.httpPath", f"invalid path: '/a\\n' {RFC3986}")]),  # escaped: one line per problem
    ("path-bad-escape", dict(active="{httpPath: /a%zz}"),
     [err(A, "active.httpPath", "invalid url-encoded value: '%zz'")]),
    ("path-short-escape", dict(active="{httpPath: /a%4}"),
     [err(A, "active.httpPath", "invalid url-encoded value: '%4'")]),
    ("path-trailing-percent", dict(active="{httpPath: /%41%}"),
     [err(A, "active.httpPath", "invalid url-encoded value: '%'")]),
    # Kong replaces valid escapes by "___" before looking for a stray "%": the message shows that text.
    ("path-double-percent", dict(active="{httpPath: /a%%41}"),
     [err(A, "active.httpPath", "invalid url-encoded value: '%__'")]),
    ("sni-ipv4", dict(active="{httpsSni: 10.0.0.1}"), [err(A, "active.httpsSni", "must not be an IP")]),
    ("sni-ipv4-port", dict(active='{httpsSni: "10.0.0.1:443"}'), [err(A, "active.httpsSni", "must not be an IP")]),
    ("sni-ipv6", dict(active='{httpsSni: "::1"}'), [err(A, "active.httpsSni", "must not be an IP")]),
    ("sni-ipv6-brackets-port", dict(active='{httpsSni: "[2001:db8::1]:443"}'),
     [err(A, "active.httpsSni", "must not be an IP")]),
    ("sni-port", dict(active='{httpsSni: "api.example.com:443"}'), [err(A, "active.httpsSni", "must not have a port")]),
    ("sni-big-port", dict(active='{httpsSni: "api:70000"}'), [err(A, "active.httpsSni", "must not have a port")]),
    ("sni-space", dict(active='{httpsSni: "api example"}'), [err(A, "active.httpsSni", "invalid value: api example")]),
    ("sni-empty-label", dict(active="{httpsSni: a..b}"), [err(A, "active.httpsSni", "invalid value: a..b")]),
    ("sni-trailing-dash", dict(active="{httpsSni: a-.b}"), [err(A, "active.httpsSni", "invalid value: a-.b")]),
    ("sni-bad-ipv4", dict(active="{httpsSni: 1.2.3}"), [err(A, "active.httpsSni", "invalid value: 1.2.3")]),
    ("sni-bad-ipv6", dict(active='{httpsSni: "1::2::3"}'), [err(A, "active.httpsSni", "invalid value: 1::2::3")]),
    ("timeout-0", dict(active="{timeout: 0}"), [err(A, "active.timeout", between(1, 65535))]),
    ("timeout-high", dict(active="{timeout: 65536}"), [err(A, "active.timeout", between(1, 65535))]),
    ("header-name", dict(active='{headers: {"X Probe": [a]}}'),
     [err(A, 'active.headers["X Probe"]', BAD_HEADER.format("X Probe"))]),
    ("header-name-colon", dict(active='{headers: {":authority": [a]}}'),
     [err(A, 'active.headers[":authority"]', BAD_HEADER.format(":authority"))]),
    ("header-value-crlf", dict(active='{headers: {X-A: [ok, "a\\r\\nb"]}}'),
     [err(A, 'active.headers["X-A"][1]', "must not contain NUL, CR or LF")]),
    ("header-value-nul", dict(active='{headers: {X-A: ["\\0"]}}'),
     [err(A, 'active.headers["X-A"][0]', "must not contain NUL, CR or LF")]),
    ("host-control", dict(active='{headers: {hOsT: ["a\\tb"]}}'),
     [err(A, 'active.headers["hOsT"][0]', "must not contain control characters")]),
    ("host-del", dict(active='{headers: {Host: ["a\\x7Fb"]}}'),
     [err(A, 'active.headers["Host"][0]', "must not contain control characters")]),
    ("healthy-interval", dict(active="{healthy: {interval: 65536}}"),
     [err(A, "active.healthy.interval", between(0, 65535))]),
    ("healthy-successes", dict(active="{healthy: {successes: 255}}"),
     [err(A, "active.healthy.successes", between(0, 254))]),
    # HTTP statuses: 100–599 in the KongUpstreamPolicy CRD's words (Kong's own 999 bound is never reached)
    ("healthy-statuses", dict(active="{healthy: {httpStatuses: [99, 200, 600, 599]}}"),
     [err(A, "active.healthy.httpStatuses[0]", "should be greater than or equal to 100"),
      err(A, "active.healthy.httpStatuses[2]", "should be less than or equal to 599")]),
    ("unhealthy-interval", dict(active="{unhealthy: {interval: -1}}"),
     [err(A, "active.unhealthy.interval", between(0, 65535))]),
    ("unhealthy-counters", dict(active="{unhealthy: {httpFailures: 255, tcpFailures: -1, timeouts: 300}}"),
     [err(A, "active.unhealthy.httpFailures", between(0, 254)), err(A, "active.unhealthy.tcpFailures", between(0, 254)),
      err(A, "active.unhealthy.timeouts", between(0, 254))]),
    ("unhealthy-statuses", dict(active="{unhealthy: {httpStatuses: [700]}}"),
     [err(A, "active.unhealthy.httpStatuses[0]", "should be less than or equal to 599")]),
    ("passive-successes", dict(passive="{healthy: {successes: 255}}"),
     [err(PS, "passive.healthy.successes", between(0, 254))]),
    ("passive-healthy-statuses", dict(passive="{healthy: {httpStatuses: [42]}}"),
     [err(PS, "passive.healthy.httpStatuses[0]", "should be greater than or equal to 100")]),
    ("passive-healthy-interval", dict(passive="{healthy: {interval: 0}}"),
     [err(PS, "passive.healthy.interval", "must not be set")]),
    ("passive-unhealthy-interval", dict(passive="{unhealthy: {interval: 5}}"),
     [err(PS, "passive.unhealthy.interval", "must not be set")]),
    ("passive-counters", dict(passive="{unhealthy: {httpFailures: 255, tcpFailures: 255, timeouts: 255}}"),
     [err(PS, f"passive.unhealthy.{c}", between(0, 254)) for c in ("httpFailures", "tcpFailures", "timeouts")]),
    ("passive-unhealthy-statuses", dict(passive="{unhealthy: {httpStatuses: [99, 999]}}"),
     [err(PS, "passive.unhealthy.httpStatuses[0]", "should be greater than or equal to 100"),
      err(PS, "passive.unhealthy.httpStatuses[1]", "should be less than or equal to 599")]),
    # integers only (CRD types), and the allowed keys
    ("float", dict(active="{timeout: 1.5}"), [err(A, "active.timeout", "must be an integer")]),
    ("float-zero", dict(threshold="3.0"), [err(6, "threshold", "must be an integer")]),
    ("bool", dict(active="{healthy: {interval: true}}"), [err(A, "active.healthy.interval", "must be an integer")]),
    ("string-verify", dict(active='{httpsVerifyCertificate: "no"}'),
     [err(A, "active.httpsVerifyCertificate", "must be a boolean")]),
    ("unknown-active", dict(active="{interval: 5}"), [err(A, "active.interval", "unknown field")]),
    ("unknown-passive", dict(passive="{concurrency: 5}"), [err(PS, "passive.concurrency", "unknown field")]),
    ("unknown-healthy", dict(active="{healthy: {timeouts: 1}}"), [err(A, "active.healthy.timeouts", "unknown field")]),
    # several problems on one line: the order of the 04 §2 table
    ("table-order", dict(active="{timeout: 0, headers: {a b: [x]}, concurrency: 0, type: udp, httpPath: x}"),
     [err(A, "active.type", ONE_OF),
      err(A, "active.concurrency", between(1, 2147483648)), err(A, "active.httpPath", "should start with: /"),
      err(A, "active.timeout", between(1, 65535)), err(A, 'active.headers["a b"]', BAD_HEADER.format("a b"))]),
]


@pytest.mark.parametrize("kwargs, expected", [c[1:] for c in VALIDATION_CASES], ids=[c[0] for c in VALIDATION_CASES])
def test_validation(ws: Workspace, kwargs: dict[str, str], expected: list[str]) -> None:
    ws.write(F, kup(**kwargs))
    assert ws.fails("validate", F) == expected


VALID_CASES = [
    ("bounds", dict(threshold="100", active="{concurrency: 2147483648, timeout: 65535, healthy: {interval: 65535, "
                                          "successes: 254, httpStatuses: [100, 599]}, unhealthy: {interval: 0, "
                                          "httpFailures: 254, tcpFailures: 0, timeouts: 254}}")),
    ("path-rfc3986", dict(active="{httpPath: \"/a-b_c.d~e/f%2Fg:h@i!$&'()*+,;=\"}")),
    ("sni-fqdn", dict(active="{type: https, httpsSni: api.example.com.}")),
    ("sni-leading-dash-underscore", dict(active="{type: https, httpsSni: -x_y.example}")),
    ("header-tab-not-host", dict(active='{headers: {X-A: ["a\\tb"]}}')),
]


@pytest.mark.parametrize("kwargs", [c[1] for c in VALID_CASES], ids=[c[0] for c in VALID_CASES])
def test_valid(ws: Workspace, kwargs: dict[str, str]) -> None:
    ws.write(F, kup(**kwargs))
    assert ws.ok("validate", F).out == "ok: 1 resources in 1 files\n"


def test_path_and_sni_rules() -> None:
    assert path_problem("/") is None
    assert path_problem("/status/200") is None
    assert sni_problem("api.example.com") is None
    assert sni_problem("localhost") is None
    assert sni_problem("[::1]") == "must not be an IP"
    assert sni_problem("") == "invalid value: "
    assert sni_problem("api\n") == "invalid value: api\\n"
    assert sni_problem("a\x00b") == "invalid value: a\\x00b"
    assert path_problem("/%\x01") == f"invalid path: '/%\\x01' {RFC3986}"


# --- §6 approximation warnings --------------------------------------------------------------------------------------

NO_GRPC = "Kong itself runs no checks for gRPC upstreams (its health checker supports http, https and tcp)"
K3 = f"{NO_GRPC}; kumahc uses the gRPC health checking protocol over HTTP/2"
K20 = "504: Kong counts an upstream 504 as a timeout (unhealthy.timeouts), never as an HTTP failure; ignored"
K21_NONE = "Kong also counts upstream 504 responses as timeouts; no Envoy detector counts them, so 504 responses " \
           "never eject a target"
K23 = "Kong sends this Host header in addition to its own Host: <target>; Envoy sends only this one " \
      "(http_health_check.host)"
ON = "healthy: {interval: 5, successes: 1}, unhealthy: {interval: 5, httpFailures: 1}"  # active on, no warning
K9 = "0: HTTP statuses never mark a target unhealthy; every status is accepted"
K13 = "not used by active type {}; ignored"

K_CASES = [
    ("K1", dict(active="{concurrency: 5}"),
     ["info: " + at(7, "active.concurrency") + "no Envoy equivalent (each host has its own timer); ignored"]),
    ("K3-grpc", dict(active="{type: grpc, " + ON + "}"),
     [warn(7, "active.type", K3)]),
    ("K3-K4-grpcs", dict(active="{type: grpcs, " + ON + "}"),
     [warn(7, "active.type", K3),
      warn(7, "active.type", "TLS is enabled for the whole cluster, data traffic included")]),
    ("K4-https", dict(active="{type: https, " + ON + "}"),
     [warn(7, "active.type", "TLS is enabled for the whole cluster, data traffic included")]),
    ("K3-K4-need-active-on", dict(active="{type: grpcs}"), []),
    ("K5", dict(active="{healthy: {interval: 5, successes: 1}, unhealthy: {httpFailures: 1}}"),
     [warn(7, "active.unhealthy.interval",
           "0: Kong never re-probes unhealthy targets; Envoy keeps probing them every healthy.interval")]),
    ("K6", dict(active="{healthy: {successes: 1}, unhealthy: {interval: 5, httpFailures: 1}}"),
     [warn(7, "active.healthy.interval",
           "0: Kong probes only unhealthy targets; Envoy probes every target every unhealthy.interval")]),
    ("K7", dict(active="{healthy: {interval: 5}, unhealthy: {interval: 5, httpFailures: 1}}"),
     [warn(7, "active.healthy.successes",
           "0: a target marked unhealthy never recovers through probes (healthy_threshold 0)")]),
    ("K8-tcp-ignores-httpFailures", dict(active="{type: tcp, healthy: {interval: 5, successes: 1}, "
                                                "unhealthy: {interval: 5, httpFailures: 3}}"),
     [warn(7, "active.unhealthy",
           "all failure counters are 0: probes never mark a target unhealthy (unhealthy_threshold 0)")]),
    ("K9", dict(active="{healthy: {interval: 5, successes: 1}, unhealthy: {interval: 5, timeouts: 2}}"),
     [warn(7, "active.unhealthy.httpFailures", K9)]),
    ("K9-not-grpc", dict(active="{type: grpc, healthy: {interval: 5, successes: 1}, unhealthy: {interval: 5, "
                                "timeouts: 2}}"),
     [warn(7, "active.type", K3)]),
    ("K10", dict(active="{healthy: {interval: 5, successes: 1}, unhealthy: {interval: 5, httpFailures: 3, "
                        "tcpFailures: 0, timeouts: 2}}"),
     [warn(7, "active.unhealthy", "Envoy has one consecutive-failure counter: unhealthy_threshold = 2")]),
    ("K10-equal-counters", dict(active="{healthy: {interval: 5, successes: 1}, unhealthy: {interval: 5, "
                                       "httpFailures: 2, tcpFailures: 2, timeouts: 2}}"), []),
    ("K12", dict(active="{headers: {Host: [a.example, b.example], X-A: [v1, v2]}}"),
     [warn(7, 'active.headers["Host"]', "only the first value is used")]),
    ("K12-two-host-names", dict(active="{headers: {Host: [a.example], host: [b.example]}}"),
     [warn(7, 'active.headers["host"]', "only the first value is used")]),
    ("K13-tcp", dict(active="{type: tcp, httpPath: /h, httpsSni: a.example, httpsVerifyCertificate: true, "
                            "headers: {X-A: [v1]}, healthy: {httpStatuses: [200]}, unhealthy: {httpStatuses: [500]}}"),
     [warn(7, f"active.{f}", K13.format("tcp")) for f in ("httpPath", "httpsSni", "httpsVerifyCertificate", "headers",
                                                          "healthy.httpStatuses", "unhealthy.httpStatuses")]),
    ("K13-grpc", dict(active="{type: grpc, httpPath: /h, headers: {X-A: [v1]}, healthy: {httpStatuses: [200]}}"),
     [warn(7, f"active.{f}", K13.format("grpc")) for f in ("httpPath", "healthy.httpStatuses")]),
    ("K13-http", dict(active="{httpsSni: a.example, httpsVerifyCertificate: false, httpPath: /h}"),
     [warn(7, f"active.{f}", K13.format("http")) for f in ("httpsSni", "httpsVerifyCertificate")]),
    ("K13-https-uses-all", dict(active="{type: https, httpsSni: a.example, httpsVerifyCertificate: false, "
                                       "httpPath: /h, headers: {X-A: [v1]}, healthy: {httpStatuses: [200]}}"), []),
    ("K14-K15-K17", dict(passive="{unhealthy: {httpFailures: 1, httpStatuses: [404, 500, 429]}}"),
     [warn(8, "passive.unhealthy.httpStatuses[0]",
           "404 cannot be detected by Envoy outlier detection (only 5xx count); ignored"),
      warn(8, "passive.unhealthy.httpStatuses[2]",
           "429 cannot be detected by Envoy outlier detection (only 5xx count); ignored"),
      warn(8, "passive.unhealthy.httpStatuses", "Envoy counts every 5xx response, not only 500"),
      warn(8, "passive.healthy.successes",
           "0: Kong never clears failures on success; Envoy clears them on every successful response")]),
    ("K15-gateway", dict(passive="{healthy: {successes: 1}, unhealthy: {httpFailures: 2, "
                                 "httpStatuses: [504, 502, 502]}}"),
     [warn(8, "passive.unhealthy.httpStatuses", "Envoy counts every 502, 503 and 504 response, not only 502, 504"),
      warn(8, "passive.unhealthy.httpStatuses[0]", K20)]),
    ("K15-gateway-exact", dict(passive="{healthy: {successes: 1}, unhealthy: {httpFailures: 2, "
                                       "httpStatuses: [502, 503, 504]}}"),
     [warn(8, "passive.unhealthy.httpStatuses[2]", K20)]),
    ("K15-every-5xx", dict(passive="{healthy: {successes: 1}, unhealthy: {httpFailures: 2, httpStatuses: ["
                                   + ", ".join(str(c) for c in range(500, 600)) + "]}}"),
     [warn(8, "passive.unhealthy.httpStatuses[4]", K20)]),
    ("K14-K15-need-httpFailures", dict(passive="{healthy: {successes: 1}, unhealthy: {timeouts: 2}}"),
     [warn(8, "passive.unhealthy.timeouts", K21_NONE)]),
    ("K16", dict(passive="{healthy: {successes: 1}, unhealthy: {tcpFailures: 3, timeouts: 2}}"),
     [warn(8, "passive.unhealthy",
           "Envoy has one local-origin failure counter: consecutive_local_origin_failure = 2"),
      warn(8, "passive.unhealthy.timeouts", K21_NONE)]),
    # Kong's runtime: 504 is a timeout (K20, K21), no checks for gRPC upstreams (K22), its own Host header (K23)
    ("K20-only-504", dict(passive="{healthy: {successes: 1}, unhealthy: {httpFailures: 2, httpStatuses: [504]}}"),
     [warn(8, "passive.unhealthy.httpStatuses[0]", K20)]),
    ("K21-http-counter", dict(passive="{healthy: {successes: 1}, unhealthy: {httpFailures: 2, timeouts: 4, "
                                      "httpStatuses: [500]}}"),
     [warn(8, "passive.unhealthy.httpStatuses", "Envoy counts every 5xx response, not only 500"),
      warn(8, "passive.unhealthy.timeouts", "Kong also counts upstream 504 responses as timeouts; Envoy counts "
                                            "them with the HTTP failures (httpFailures 2)")]),
    ("K22-grpc-passive", dict(passive="{type: grpcs, healthy: {successes: 1}, unhealthy: {tcpFailures: 2}}"),
     [warn(8, "passive.type", f"{NO_GRPC}; kumahc applies Envoy outlier detection anyway")]),
    ("K22-needs-passive-on", dict(passive="{type: grpc}"), []),
    ("K23-host", dict(active="{headers: {hoST: [api.example]}, " + ON + "}"),
     [warn(7, 'active.headers["hoST"]', K23)]),
    ("K23-not-tcp", dict(active="{type: tcp, headers: {Host: [api.example]}, "
                                + ON.replace("httpFailures", "tcpFailures") + "}"),
     [warn(7, "active.headers", K13.format("tcp"))]),
    ("K17", dict(passive="{unhealthy: {tcpFailures: 3}}"),
     [warn(8, "passive.healthy.successes",
           "0: Kong never clears failures on success; Envoy clears them on every successful response")]),
    ("K18", dict(passive="{healthy: {httpStatuses: [200]}}"),
     [warn(8, "passive.healthy.httpStatuses", "Envoy treats every non-5xx response as a success; ignored")]),
    ("K19", dict(threshold="10"),
     [warn(6, "threshold", "no effect: neither active nor passive checks are enabled")]),
    ("K19-zero", dict(threshold="0", active="{healthy: {interval: 0}}"),
     [warn(6, "threshold", "no effect: neither active nor passive checks are enabled")]),
    ("K19-not-when-on", dict(threshold="10", passive="{healthy: {successes: 1}, unhealthy: {tcpFailures: 1}}"), []),
    ("no-warning", dict(active="{" + ON + "}", passive="{healthy: {successes: 2}, unhealthy: {tcpFailures: 3}}"),
     []),
]


@pytest.mark.parametrize("kwargs, expected", [c[1:] for c in K_CASES], ids=[c[0] for c in K_CASES])
def test_approximation_warnings(ws: Workspace, kwargs: dict[str, str], expected: list[str]) -> None:
    _, lines = render(ws, kup(**kwargs))
    assert lines == [PREVIEW, *expected]


def test_k2_tcp_check_on_http_service(ws: Workspace) -> None:
    active = "{type: tcp, healthy: {interval: 5, successes: 1}, unhealthy: {interval: 5, tcpFailures: 2}}"
    text = docs(kup(active=active), service(ports="[{port: 80, appProtocol: http}, {port: 81, appProtocol: tcp}]"))
    doc, lines = render(ws, text)
    assert lines == [PREVIEW, warn(7, "active.type", "Kong skips active tcp checks on HTTP services; kumahc emits a "
                                                     "TCP connect check")]
    for name in ("api_shop_svc_80", "api_shop_svc_81"):  # kept on the HTTP port too: user intent
        assert clusters(doc)[name]["health_checks"][0]["tcp_health_check"] == {}
    # on a tcp destination only: no K2
    _, lines = render(ws, docs(kup(active=active), service(ports="[{port: 81, appProtocol: tcp}]")))
    assert lines == [PREVIEW]


@pytest.mark.parametrize("protocol", ["http2", "grpc"])
def test_k2_on_http2_and_grpc(ws: Workspace, protocol: str) -> None:
    active = "{type: tcp, healthy: {interval: 5, successes: 1}, unhealthy: {interval: 5, tcpFailures: 2}}"
    _, lines = render(ws, docs(kup(active=active), service(ports=f"[{{port: 80, appProtocol: {protocol}}}]")))
    assert lines[1:] == [warn(7, "active.type", "Kong skips active tcp checks on HTTP services; kumahc emits a TCP "
                                                "connect check")]


def test_warnings_once_per_policy(ws: Workspace) -> None:
    """Two Services, three ports, two meshes: each K-warning is printed once."""
    text = docs(kup(active="{concurrency: 3, healthy: {interval: 5}}"), service(ports="[{port: 80}, {port: 81}]"),
                service(name="web", mesh="other"))
    doc, lines = render(ws, text)
    assert [p["mesh"] + "/" + p["name"] for p in doc["proxies"]] == ["default/kong", "other/kong"]
    assert lines == [
        "info: preview mode: no Dataplane in the inputs; synthesised proxies: default/kong, other/kong",
        "info: " + at(7, "active.concurrency") + "no Envoy equivalent (each host has its own timer); ignored",
        warn(7, "active.unhealthy.interval",
             "0: Kong never re-probes unhealthy targets; Envoy keeps probing them every healthy.interval"),
        warn(7, "active.healthy.successes",
             "0: a target marked unhealthy never recovers through probes (healthy_threshold 0)"),
        warn(7, "active.unhealthy",
             "all failure counters are 0: probes never mark a target unhealthy (unhealthy_threshold 0)"),
        warn(7, "active.unhealthy.httpFailures", "0: HTTP statuses never mark a target unhealthy; every status is "
                                                 "accepted")]


# --- §3 active mapping ------------------------------------------------------------------------------------------------


def test_status_lists_merge_into_half_open_ranges() -> None:
    assert translate.status_ranges([]) == []
    assert translate.status_ranges([200, 302]) == [(200, 201), (302, 303)]
    assert translate.status_ranges(api.ACTIVE_UNHEALTHY_STATUSES) == [(404, 405), (429, 430), (500, 506)]
    assert translate.status_ranges([503, 500, 502, 501, 502]) == [(500, 504)]
    assert translate.status_ranges([599, 597, 598, 599]) == [(597, 600)]
    assert translate.status_ranges(api.PASSIVE_HEALTHY_STATUSES) == [(200, 209), (226, 227), (300, 309)]


def ranges(*pairs: tuple[int, int]) -> list[dict[str, str]]:
    return [{"start": str(s), "end": str(e)} for s, e in pairs]


def test_statuses_when_http_failures_counted(ws: Workspace) -> None:
    c, _ = cluster(ws, kup(active="{healthy: {interval: 5, successes: 1, httpStatuses: [204, 200, 201]}, "
                                  "unhealthy: {interval: 5, httpFailures: 1}}"))
    check = c["health_checks"][0]["http_health_check"]
    assert check["expected_statuses"] == ranges((200, 202), (204, 205))
    assert check["retriable_statuses"] == ranges((404, 405), (429, 430), (500, 506))


def test_statuses_without_http_failures_accept_everything(ws: Workspace) -> None:
    c, _ = cluster(ws, kup(active="{healthy: {interval: 5, successes: 1, httpStatuses: [200]}, "
                                  "unhealthy: {timeouts: 1, httpStatuses: [500]}}"))
    check = c["health_checks"][0]["http_health_check"]
    assert check == {"path": "/", "expected_statuses": ranges((100, 600))}


def test_intervals_and_thresholds(ws: Workspace) -> None:
    c, _ = cluster(ws, kup(active="{timeout: 3, healthy: {interval: 10, successes: 4}, unhealthy: {interval: 20, "
                                  "httpFailures: 5, tcpFailures: 2, timeouts: 3}}"))
    hc = c["health_checks"][0]
    hc.pop("http_health_check")
    assert hc == {"timeout": "3s", "interval": "10s", "unhealthy_threshold": 2, "healthy_threshold": 4,
                  "no_traffic_interval": "10s", "unhealthy_interval": "20s", "unhealthy_edge_interval": "10s",
                  "healthy_edge_interval": "20s", "no_traffic_healthy_interval": "10s"}


def test_unhealthy_interval_only(ws: Workspace) -> None:
    """H = 0: every interval is U (K6)."""
    c, _ = cluster(ws, kup(active="{type: tcp, healthy: {successes: 1}, unhealthy: {interval: 7, tcpFailures: 2}}"))
    assert c["health_checks"] == [{
        "timeout": "1s", "interval": "7s", "unhealthy_threshold": 2, "healthy_threshold": 1, "tcp_health_check": {},
        "no_traffic_interval": "7s", "unhealthy_interval": "7s", "unhealthy_edge_interval": "7s",
        "healthy_edge_interval": "7s", "no_traffic_healthy_interval": "7s"}]


def test_headers_in_byte_order_with_host(ws: Workspace) -> None:
    c, _ = cluster(ws, kup(active="{headers: {x-b: [v1], X-A: [one, two, three], HOST: [h.example, h2], Empty: []}, "
                                  + ON + "}"))
    check = c["health_checks"][0]["http_health_check"]
    assert check["host"] == "h.example"
    assert check["request_headers_to_add"] == [
        {"header": {"key": "X-A", "value": "one"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
        {"header": {"key": "X-A", "value": "two"}},
        {"header": {"key": "X-A", "value": "three"}},
        {"header": {"key": "x-b", "value": "v1"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}]


def test_http_check_on_http2_destination_uses_http2_codec(ws: Workspace) -> None:
    doc, _ = render(ws, docs(kup(active="{type: https, httpsVerifyCertificate: false, " + ON + "}"),
                             service(ports="[{port: 80, appProtocol: http2}]")))
    c = clusters(doc)["api_shop_svc_80"]
    assert c["health_checks"][0]["http_health_check"]["codec_client_type"] == "HTTP2"
    assert c["transport_socket"]["typed_config"] == {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        "common_tls_context": {"alpn_protocols": ["h2"]}}
    assert "typed_extension_protocol_options" in c


def test_https_without_verification_or_sni_has_an_empty_tls_context(ws: Workspace) -> None:
    c, _ = cluster(ws, kup(active="{type: https, httpsVerifyCertificate: false, " + ON + "}"))
    assert c["transport_socket"] == {"name": "envoy.transport_sockets.tls", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext"}}
    assert "codec_client_type" not in c["health_checks"][0]["http_health_check"]
    assert "typed_extension_protocol_options" not in c


def test_grpcs_check_with_authority_metadata_and_alpn(ws: Workspace) -> None:
    c, _ = cluster(ws, kup(active="{type: grpcs, httpsSni: g.example, headers: {Host: [g.internal], X-T: [a, b]}, "
                                  + ON + "}"))
    hc = c["health_checks"][0]
    assert hc["grpc_health_check"] == {"authority": "g.internal", "initial_metadata": [
        {"header": {"key": "X-T", "value": "a"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
        {"header": {"key": "X-T", "value": "b"}}]}
    assert c["transport_socket"]["typed_config"]["common_tls_context"] == {
        "validation_context": {"trusted_ca": {"filename": "/etc/ssl/certs/ca-certificates.crt"}},
        "alpn_protocols": ["h2"]}
    assert c["transport_socket"]["typed_config"]["sni"] == "g.example"
    assert c["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"][
        "explicit_http_config"] == {"http2_protocol_options": {}}


def test_grpc_check_on_http_service_adds_http2_options(ws: Workspace) -> None:
    doc, _ = render(ws, docs(kup(active="{type: grpc, " + ON + "}"), service(ports="[{port: 80, appProtocol: http}]")))
    c = clusters(doc)["api_shop_svc_80"]
    assert "grpc_health_check" in c["health_checks"][0]
    assert "typed_extension_protocol_options" in c


# --- §4 passive mapping -----------------------------------------------------------------------------------------------

ALWAYS = {"max_ejection_percent": 100, "enforcing_success_rate": 0, "split_external_local_origin_errors": True,
          "enforcing_local_origin_success_rate": 0}

PASSIVE_CASES = [
    ("5xx-default-list", "{healthy: {successes: 1}, unhealthy: {httpFailures: 3}}",
     {"consecutive_5xx": 3, "enforcing_consecutive_5xx": 100, "enforcing_consecutive_local_origin_failure": 0}),
    ("gateway-failure", "{healthy: {successes: 1}, unhealthy: {httpFailures: 4, httpStatuses: [502, 504]}}",
     {"consecutive_gateway_failure": 4, "enforcing_consecutive_gateway_failure": 100, "enforcing_consecutive_5xx": 0,
      "enforcing_consecutive_local_origin_failure": 0}),
    ("5xx-with-gateway-codes", "{healthy: {successes: 1}, unhealthy: {httpFailures: 2, httpStatuses: [500, 502]}}",
     {"consecutive_5xx": 2, "enforcing_consecutive_5xx": 100, "enforcing_consecutive_local_origin_failure": 0}),
    ("no-5xx-in-list", "{healthy: {successes: 1}, unhealthy: {httpFailures: 2, httpStatuses: [429], timeouts: 1}}",
     {"enforcing_consecutive_5xx": 0, "consecutive_local_origin_failure": 1,
      "enforcing_consecutive_local_origin_failure": 100}),
    ("local-origin-tcp", "{type: tcp, healthy: {successes: 1}, unhealthy: {tcpFailures: 4}}",
     {"enforcing_consecutive_5xx": 0, "consecutive_local_origin_failure": 4,
      "enforcing_consecutive_local_origin_failure": 100}),
    ("local-origin-smallest", "{healthy: {successes: 1}, unhealthy: {tcpFailures: 6, timeouts: 2, httpFailures: 5}}",
     {"consecutive_5xx": 5, "enforcing_consecutive_5xx": 100, "consecutive_local_origin_failure": 2,
      "enforcing_consecutive_local_origin_failure": 100}),
]


@pytest.mark.parametrize("passive, fields", [c[1:] for c in PASSIVE_CASES], ids=[c[0] for c in PASSIVE_CASES])
def test_passive_outlier_detection(ws: Workspace, passive: str, fields: dict[str, Any]) -> None:
    c, _ = cluster(ws, kup(passive=passive))
    assert c["outlier_detection"] == {**ALWAYS, **fields}
    assert "health_checks" not in c
    assert c["common_lb_config"] == {"healthy_panic_threshold": {}}


def test_passive_type_does_not_change_the_mapping(ws: Workspace) -> None:
    outliers = []
    for t in api.TYPES:
        c, _ = cluster(ws, kup(passive=f"{{type: {t}, healthy: {{successes: 1}}, unhealthy: {{httpFailures: 3}}}}"))
        outliers.append(c["outlier_detection"])
    assert all(o == outliers[0] for o in outliers)


# --- §5 threshold -----------------------------------------------------------------------------------------------------

PASSIVE_ON = "{healthy: {successes: 1}, unhealthy: {tcpFailures: 1}}"


@pytest.mark.parametrize("threshold, expected", [
    (None, {"healthy_panic_threshold": {}}),
    ("0", {"healthy_panic_threshold": {}}),
    ("1", {"healthy_panic_threshold": {"value": 1.0}, "zone_aware_lb_config": {"fail_traffic_on_panic": True}}),
    ("100", {"healthy_panic_threshold": {"value": 100.0}, "zone_aware_lb_config": {"fail_traffic_on_panic": True}}),
])
def test_threshold_panic_settings(ws: Workspace, threshold: str | None, expected: dict[str, Any]) -> None:
    c, lines = cluster(ws, kup(threshold, passive=PASSIVE_ON))
    assert c["common_lb_config"] == expected
    assert lines == [PREVIEW]


def test_policy_with_nothing_on_contributes_nothing(ws: Workspace) -> None:
    c, _ = cluster(ws, kup("50", "{type: https, httpPath: /h}", "{unhealthy: {httpStatuses: [500]}}"))
    assert c == {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": CLUSTER, "type": "STATIC",
                 "connect_timeout": "5s"}


# --- §1 attachment ----------------------------------------------------------------------------------------------------


def test_policy_not_found(ws: Workspace) -> None:
    """Annotation names a policy of the Service's namespace only; a policy elsewhere is not found."""
    text = docs(service(policy="p", namespace="other"), kup(passive=PASSIVE_ON))
    doc, lines = render(ws, text)
    assert lines == [PREVIEW, f'warning: {F}:6: Service other/api: metadata.annotations["konghq.com/upstream-policy"]: '
                              'KongUpstreamPolicy "other/p" not found; not applied']
    # the policy got its synthetic Service; the annotated Service's cluster has nothing
    assert sorted(clusters(doc)) == ["api_other_svc_80", CLUSTER]
    assert "outlier_detection" not in clusters(doc)["api_other_svc_80"]
    assert "outlier_detection" in clusters(doc)[CLUSTER]


def test_policy_not_referenced_in_normal_mode(ws: Workspace) -> None:
    text = docs(dataplane("web-01", "10.0.0.1", "web"), kup(passive=PASSIVE_ON), service(policy=None))
    ws.write(F, text)
    line = 9  # the policy document starts after the Dataplane's 8 lines
    assert text.splitlines()[line - 1] == "apiVersion: configuration.konghq.com/v1beta1"
    r = ws.ok("render", F)
    assert r.lines == [f"warning: {F}:{line}: {SUBJECT}: not referenced by any Service"]
    assert sorted(clusters(r.json, "web-01")) == ["api_shop_svc_80", "web"]


def test_load_balancing_fields_are_ignored(ws: Workspace) -> None:
    extra = ("  algorithm: consistent-hashing\n  slots: 100\n  hashOn: {header: x}\n  hashOnFallback: {input: ip}\n"
             "  stickySessions: {cookie: c}\n")
    _, lines = render(ws, kup(passive=PASSIVE_ON, extra=extra))
    assert lines == [PREVIEW] + [f"warning: {F}:{9 + i}: {SUBJECT}: spec.{f}: load-balancing settings are not "
                                 "translated; ignored"
                                 for i, f in enumerate(("algorithm", "slots", "hashOn", "hashOnFallback",
                                                        "stickySessions"))]


def test_applies_to_every_port_in_every_proxy(ws: Workspace) -> None:
    """Normal mode: every proxy that has a destination of the Service gets the policy on it, with endpoints."""
    text = docs(dataplane("web-01", "10.0.0.1", "web", outbound="[{tags: {kuma.io/service: api_shop_svc_80}}]"),
                dataplane("api-01", "10.0.0.2", "api_shop_svc_80", port=8080),
                service(ports="[{port: 80}, {port: 81}]"), kup(passive=PASSIVE_ON))
    ws.write(F, text)
    doc = ws.ok("render", F).json
    assert list(clusters(doc, "web-01")) == ["api_shop_svc_80"]
    assert list(clusters(doc, "api-01")) == ["api_shop_svc_80", "api_shop_svc_81", "web"]
    for proxy, name in (("web-01", "api_shop_svc_80"), ("api-01", "api_shop_svc_80"), ("api-01", "api_shop_svc_81")):
        c = clusters(doc, proxy)[name]
        assert c["outlier_detection"]["consecutive_local_origin_failure"] == 1
    assert clusters(doc, "web-01")["api_shop_svc_80"]["load_assignment"]["endpoints"][0]["lb_endpoints"] == [
        {"endpoint": {"address": {"socket_address": {"address": "10.0.0.2", "port_value": 8080}}}}]
    assert "outlier_detection" not in clusters(doc, "api-01")["web"]


def test_meshhealthcheck_takes_precedence_for_the_health_check(ws: Workspace) -> None:
    mhc = ("type: MeshHealthCheck\nname: mhc\nspec:\n  targetRef: {kind: Mesh}\n  to:\n"
           "  - targetRef: {kind: MeshService, name: api, namespace: shop}\n    default: {http: {path: /m}}\n")
    text = docs(dataplane("web-01", "10.0.0.1", "web", outbound="[{tags: {kuma.io/service: api_shop_svc_80}}]"),
                service(ports="[{port: 80, appProtocol: http}]"), kup("20", "{" + ON + "}", PASSIVE_ON), mhc)
    ws.write(F, text)
    r = ws.ok("render", F)
    assert r.lines == ["warning: proxy default/web-01 cluster api_shop_svc_80: health check from KongUpstreamPolicy "
                       "shop/p ignored: MeshHealthCheck mhc takes precedence"]
    c = clusters(r.json, "web-01")["api_shop_svc_80"]
    assert c["health_checks"][0]["http_health_check"]["path"] == "/m"
    assert c["common_lb_config"]["healthy_panic_threshold"] == {"value": 20.0}  # MHC sets no panic settings
    assert "outlier_detection" in c


# --- 01 §7 preview mode -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("active, passive, protocol", [
    ("{type: grpc, " + ON + "}", None, "grpc"),
    ("{type: grpcs}", None, "grpc"),  # active.type counts even with active off and nothing else on
    ("{type: https, " + ON + "}", None, "http"),
    ("{type: tcp, " + ON + "}", None, "tcp"),
    (None, PASSIVE_ON, "http"),  # passive-only included
    ("{type: grpc}", "{type: tcp, unhealthy: {timeouts: 1}}", "tcp"),  # passive-only: passive.type counts
    ("{type: tcp, " + ON + "}", "{type: http, unhealthy: {timeouts: 1}}", "tcp"),  # active on: active.type counts
])
def test_preview_protocol_votes(ws: Workspace, active: str | None, passive: str | None, protocol: str) -> None:
    ws.write(F, kup(active=active, passive=passive))
    assert run_pipeline([F]).view.destinations[("default", CLUSTER)].protocol == protocol


def test_preview_protocol_override(ws: Workspace) -> None:
    c, _ = cluster(ws, kup(active="{" + ON + "}"), "--protocol", "http2")
    assert c["health_checks"][0]["http_health_check"]["codec_client_type"] == "HTTP2"


def test_preview_proxy_and_destination(ws: Workspace) -> None:
    doc, lines = render(ws, kup(name="demo", namespace="default", passive=PASSIVE_ON))
    assert lines == [PREVIEW]
    assert [(p["mesh"], p["name"], [c["name"] for c in p["clusters"]]) for p in doc["proxies"]] == [
        ("default", "kong", ["demo_default_svc_80"])]
    assert "load_assignment" not in doc["proxies"][0]["clusters"][0]


def test_preview_referenced_policy_gets_no_synthetic_service(ws: Workspace) -> None:
    doc, _ = render(ws, docs(kup(passive=PASSIVE_ON), service(mesh="other", ports="[{port: 8080}]")))
    assert [(p["mesh"], p["name"], [c["name"] for c in p["clusters"]]) for p in doc["proxies"]] == [
        ("other", "kong", ["api_shop_svc_8080"])]


def test_unreferenced_policy_in_preview_is_not_warned(ws: Workspace) -> None:
    _, lines = render(ws, kup(passive=PASSIVE_ON))
    assert lines == [PREVIEW]


# --- §7 worked examples (and the golden cases made from them) -------------------------------------------------------

EXAMPLES = REPO / "examples" / "kong"
SPEC_OUTLIER = {"consecutive_5xx": 3, "max_ejection_percent": 100, "enforcing_consecutive_5xx": 100,
                "enforcing_success_rate": 0, "split_external_local_origin_errors": True,
                "enforcing_consecutive_local_origin_failure": 0, "enforcing_local_origin_success_rate": 0}
SPEC_PANIC_0 = {"healthy_panic_threshold": {}}
STATUSES = {"expected_statuses": ranges((200, 201), (302, 303)),
            "retriable_statuses": ranges((404, 405), (429, 430), (500, 506))}
HTTP2_OPTIONS = {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
    "explicit_http_config": {"http2_protocol_options": {}}}}


def skeleton(name: str, **fields: Any) -> dict[str, Any]:
    return {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": name, "type": "STATIC",
            "connect_timeout": "5s", **fields}


def kwarn(file: str, line: int, subject: str, path: str, message: str) -> str:
    return f"warning: {file}:{line}: KongUpstreamPolicy {subject}: spec.healthchecks.{path}: {message}"


K14_429 = "429 cannot be detected by Envoy outlier detection (only 5xx count); ignored"
K15_500_503 = "Envoy counts every 5xx response, not only 500, 503"
K4 = "TLS is enabled for the whole cluster, data traffic included"
K5 = "0: Kong never re-probes unhealthy targets; Envoy keeps probing them every healthy.interval"

WORKED = [
    ("seed-004-passive", skeleton("demo-health-checking_default_svc_80", outlier_detection=SPEC_OUTLIER,
                                  common_lb_config=SPEC_PANIC_0),
     [(12, "default/demo-health-checking", "passive.unhealthy.httpStatuses[0]", K14_429),
      (12, "default/demo-health-checking", "passive.unhealthy.httpStatuses", K15_500_503)]),
    ("seed-004-active-passive", skeleton(
        "demo-health-checking_default_svc_80",
        health_checks=[{"timeout": "1s", "interval": "5s", "unhealthy_threshold": 1, "healthy_threshold": 3,
                        "http_health_check": {"path": "/status/200", **STATUSES},
                        "no_traffic_interval": "5s", "unhealthy_interval": "5s", "unhealthy_edge_interval": "5s",
                        "healthy_edge_interval": "5s", "no_traffic_healthy_interval": "5s"}],
        outlier_detection=SPEC_OUTLIER, common_lb_config=SPEC_PANIC_0),
     [(20, "default/demo-health-checking", "passive.unhealthy.httpStatuses[0]", K14_429),
      (20, "default/demo-health-checking", "passive.unhealthy.httpStatuses", K15_500_503)]),
    ("https-headers-threshold", skeleton(
        "api_shop_svc_443",
        health_checks=[{"timeout": "2s", "interval": "10s", "unhealthy_threshold": 2, "healthy_threshold": 2,
                        "http_health_check": {"host": "api.example.com", "path": "/healthz", "request_headers_to_add": [
                            {"header": {"key": "X-Probe", "value": "a"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
                            {"header": {"key": "X-Probe", "value": "b"}}], **STATUSES},
                        "no_traffic_interval": "10s", "unhealthy_edge_interval": "10s",
                        "no_traffic_healthy_interval": "10s"}],
        transport_socket={"name": "envoy.transport_sockets.tls", "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
            "common_tls_context": {"validation_context": {"trusted_ca": {
                "filename": "/etc/ssl/certs/ca-certificates.crt"}}},
            "sni": "api.example.com"}},
        common_lb_config={"healthy_panic_threshold": {"value": 50.0},
                          "zone_aware_lb_config": {"fail_traffic_on_panic": True}}),
     [(23, "shop/api-hc", "active.type", K4), (28, "shop/api-hc", 'active.headers["Host"]', K23),
      (33, "shop/api-hc", "active.unhealthy.interval", K5)]),
    ("grpc", skeleton(
        "payments_shop_svc_9000",
        health_checks=[{"timeout": "1s", "interval": "3s", "unhealthy_threshold": 2, "healthy_threshold": 1,
                        "grpc_health_check": {}, "no_traffic_interval": "3s", "unhealthy_edge_interval": "3s",
                        "no_traffic_healthy_interval": "3s"}],
        common_lb_config=SPEC_PANIC_0, typed_extension_protocol_options=HTTP2_OPTIONS),
     [(21, "shop/payments-hc", "active.type",
       K3),
      (25, "shop/payments-hc", "active.unhealthy.interval", K5)]),
    ("tcp-active-passive", skeleton(
        "db_shop_svc_5432",
        health_checks=[{"timeout": "1s", "interval": "10s", "unhealthy_threshold": 3, "healthy_threshold": 2,
                        "tcp_health_check": {}, "no_traffic_interval": "10s", "unhealthy_interval": "30s",
                        "unhealthy_edge_interval": "10s", "healthy_edge_interval": "30s",
                        "no_traffic_healthy_interval": "10s"}],
        outlier_detection={"max_ejection_percent": 100, "enforcing_consecutive_5xx": 0, "enforcing_success_rate": 0,
                           "split_external_local_origin_errors": True, "consecutive_local_origin_failure": 2,
                           "enforcing_consecutive_local_origin_failure": 100, "enforcing_local_origin_success_rate": 0},
        common_lb_config=SPEC_PANIC_0),
     [(30, "shop/db-hc", "passive.healthy.successes",
       "0: Kong never clears failures on success; Envoy clears them on every successful response")]),
]


@pytest.mark.parametrize("example, expected, warnings", WORKED, ids=[c[0] for c in WORKED])
def test_worked_examples(example: str, expected: dict[str, Any], warnings: list[tuple], ws: Workspace) -> None:
    """04 §7 field by field (key order included), the warnings it names, and the golden case made from it."""
    path = EXAMPLES / f"{example}.yaml"
    r = ws.ok("render", str(path))
    assert [(p["mesh"], p["name"]) for p in r.json["proxies"]] == [("default", "kong")]
    (c,) = r.json["proxies"][0]["clusters"]
    assert json.dumps(c) == json.dumps(expected)
    assert r.lines == [PREVIEW] + [kwarn(str(path), *w) for w in warnings]
    golden = REPO / "golden" / f"kong-{example}"
    assert (golden / "input.yaml").read_bytes() == path.read_bytes()
    assert (golden / "expected.json").read_text(encoding="utf-8") == r.out


def test_every_kong_example_has_a_golden_case() -> None:
    cases = {p.name for p in (REPO / "golden").glob("kong-*")}
    assert cases == {f"kong-{p.stem}" for p in EXAMPLES.glob("*.yaml")}
    for case in cases:
        assert (REPO / "golden" / case / "input.yaml").read_bytes() == (EXAMPLES / f"{case[5:]}.yaml").read_bytes()



# --- structural schema (04 §2 allowed keys) -------------------------------------------------------------------------

ALLOWED = {
    (): {"apiVersion", "kind", "metadata", "spec", "status"},
    ("spec",): {"algorithm", "slots", "hashOn", "hashOnFallback", "stickySessions", "healthchecks"},
    ("spec", "healthchecks"): {"threshold", "active", "passive"},
    ("spec", "healthchecks", "active"): {"type", "concurrency", "httpPath", "httpsSni", "httpsVerifyCertificate",
                                         "timeout", "headers", "healthy", "unhealthy"},
    ("spec", "healthchecks", "passive"): {"type", "healthy", "unhealthy"},
}
for _mode in ("active", "passive"):
    ALLOWED[("spec", "healthchecks", _mode, "healthy")] = {"interval", "successes", "httpStatuses"}
    ALLOWED[("spec", "healthchecks", _mode, "unhealthy")] = {"interval", "httpFailures", "tcpFailures", "timeouts",
                                                              "httpStatuses"}


def test_schema_allows_exactly_the_keys_of_04_2() -> None:
    schema = json.loads((REPO / "schemas" / "kongupstreampolicy.schema.json").read_text(encoding="utf-8"))
    root = schema["$defs"]["kubernetes"]
    for path, keys in ALLOWED.items():
        node = root
        for step in path:
            node = node["properties"][step]
        assert set(node["properties"]) == keys, path
        assert node["additionalProperties"] is False, path


def test_mesh_is_not_a_kong_field(ws: Workspace) -> None:
    ws.write(F, "mesh: default\n" + kup())
    assert ws.fails("validate", F) == [f"{F}:1: {SUBJECT}: mesh: unknown field"]

"""MeshCircuitBreaker: Kuma v2.14.3's validator test cases (``api/v1alpha1/validator_test.go``) and plugin test
cases (``plugin/v1alpha1/plugin_test.go`` with its golden clusters), restated as kumahc inputs and expected
messages / cluster fields; plus merge, inspect attribution and precedence between kinds."""

from __future__ import annotations

import textwrap

import pytest
from helpers import Workspace, dataplane, docs

F = "p.yaml"
INBOUND = "inbound policy entries are not applied: kumahc renders outbound clusters only"
DEPRECATED = "value for 'targetRef.kind' is deprecated, use Dataplane with labels instead"

# kumahc adds the allowed kinds to Kuma's message (a wrong kind says what to write instead).
ALLOWED_TO = "(allowed: Mesh, MeshService, MeshExternalService, MeshMultiZoneService)"
BAD_TO_KIND = "spec.to[0].targetRef.kind: value 'MeshServiceSubset' is not supported " + ALLOWED_TO


def policy(spec: str, name: str = "p") -> str:
    """A Universal MeshCircuitBreaker around Kuma's ``spec`` text (as Kuma's tests write it)."""
    body = textwrap.indent(textwrap.dedent(spec).strip("\n"), "  ")
    return f"type: MeshCircuitBreaker\nname: {name}\nmesh: default\nspec:\n{body}\n"


def problems(lines: list[str], prefix: str = "") -> list[str]:
    """``PATH: MESSAGE`` of every line of severity ``prefix`` ("" = errors, "warning: "), checking the
    ``FILE:LINE: MeshCircuitBreaker p: `` form."""
    out = []
    for line in lines:
        if prefix == "" and line.startswith(("warning: ", "info: ")):
            continue
        if prefix and not line.startswith(prefix):
            continue
        head, sep, rest = line[len(prefix):].partition(" MeshCircuitBreaker p: ")
        assert sep and head.startswith(f"{F}:") and head[len(F) + 1:-1].isdigit(), line
        out.append(rest)
    return out


# --- validator_test.go: "should pass validation" ------------------------------------------------------------------

FULL_CONF = """\
      connectionLimits:
        maxConnections: {a}
        maxConnectionPools: {a}
        maxPendingRequests: 92
        maxRetries: 8
        maxRequests: 128
      outlierDetection:
        disabled: false
        interval: 11s
        baseEjectionTime: 38s
        maxEjectionPercent: 22
        splitExternalAndLocalErrors: true
        detectors:
          totalFailures:
            consecutive: 10
          gatewayFailures:
            consecutive: 10
          localOriginFailures:
            consecutive: 10
          successRate:
            minimumHosts: 5
            requestVolume: 10
            standardDeviationFactor: {sdf}
          failurePercentage:
            requestVolume: 10
            minimumHosts: 5
            threshold: 31
        healthyPanicThreshold: {hpt}
"""

FULL_EXAMPLE = ("""\
targetRef:
  kind: MeshService
  name: web-frontend
from:
  - targetRef:
      kind: Mesh
    default:
""" + FULL_CONF.format(a=12, sdf='"1.9"', hpt=60) + """\
to:
  - targetRef:
      kind: MeshService
      name: web-backend
    default:
""" + FULL_CONF.format(a=2, sdf=1900, hpt=70) + """\
  - targetRef:
      kind: Mesh
    default:
""" + FULL_CONF.format(a=2, sdf=1333, hpt='"80.5"'))

PASS_CASES = [
    # Kuma's "full example" puts healthyPanicThreshold under detectors, where Kuma's non-strict YAML reading drops
    # it; kumahc rejects unknown fields (see test_full_example_misplaced_panic_threshold), so it sits where the
    # API has it.
    ("full example", FULL_EXAMPLE, [f"spec.targetRef.kind: MeshService {DEPRECATED}", f"spec.from: {INBOUND}"]),
    ("minimal example", """\
targetRef:
  kind: MeshService
  name: web-frontend
to:
  - targetRef:
      kind: MeshService
      name: web-backend
    default:
      connectionLimits: { }""", [f"spec.targetRef.kind: MeshService {DEPRECATED}"]),
    ("with MeshMultiZoneService", """\
targetRef:
  kind: Mesh
to:
  - targetRef:
      kind: MeshMultiZoneService
      name: web-backend
    default:
      connectionLimits: { }""",
     ["spec.to[0].targetRef.kind: MeshMultiZoneService is not supported yet; the entry matches no destination"]),
    ("with MeshExternalService", """\
targetRef:
  kind: Mesh
to:
  - targetRef:
      kind: MeshExternalService
      name: external
    default:
      connectionLimits: { }""",
     ["spec.to[0].targetRef.kind: MeshExternalService is not supported yet; the entry matches no destination"]),
    ("top level Dataplane to MeshExternalService", """\
targetRef:
  kind: Dataplane
to:
  - targetRef:
      kind: MeshExternalService
      name: external
    default:
      connectionLimits: { }""",
     ["spec.to[0].targetRef.kind: MeshExternalService is not supported yet; the entry matches no destination"]),
    ("gateway example", """\
targetRef:
  kind: MeshGateway
  name: edge
to:
  - targetRef:
      kind: MeshService
      name: web-backend
    default:
      connectionLimits: { }""", ["spec.targetRef: matches no proxy"]),
]


@pytest.mark.parametrize(("name", "spec", "warnings"), PASS_CASES, ids=[c[0] for c in PASS_CASES])
def test_kuma_valid(ws: Workspace, name: str, spec: str, warnings: list[str]) -> None:
    ws.write(F, policy(spec))
    r = ws.ok("validate", F)
    assert r.out == "ok: 1 resources in 1 files\n"
    assert problems(r.lines, "warning: ") == warnings
    assert problems(r.lines) == []


def test_full_example_misplaced_panic_threshold(ws: Workspace) -> None:
    # Deliberate difference: Kuma's own "full example" has detectors.healthyPanicThreshold, which Kuma ignores.
    spec = FULL_EXAMPLE.replace("        healthyPanicThreshold: 60", "          healthyPanicThreshold: 60")
    ws.write(F, policy(spec))
    errors = problems(ws.fails("validate", F))
    assert errors == ["spec.from[0].default.outlierDetection.detectors.healthyPanicThreshold: unknown field"]


# --- validator_test.go: "should validate all fields and return as much individual errors as possible" ---------

ERROR_CASES = [
    ("empty 'from' and 'to' array", "targetRef:\n  kind: Mesh\n",
     ["spec: at least one of 'from', 'to' or 'rules' has to be defined"]),
    ("unsupported kind in from selector", """\
targetRef:
  kind: MeshService
  name: web-frontend
from:
  - targetRef:
      kind: MeshGatewayRoute
    default:
      connectionLimits: { }""", ["spec.from[0].targetRef.kind: value 'MeshGatewayRoute' is not supported"]),
    ("from mixed with rules", """\
targetRef:
  kind: MeshService
  name: web-frontend
from:
  - targetRef:
      kind: Mesh
    default:
      connectionLimits: { }
rules:
  - default:
      connectionLimits: { }""", ["spec: fields 'to' and 'from' must be empty when 'rules' is defined"]),
    ("to mixed with rules", """\
targetRef:
  kind: MeshService
  name: web-frontend
to:
  - targetRef:
      kind: MeshServiceSubset
    default:
      connectionLimits: { }
rules:
  - default:
      connectionLimits: { }""", ["spec: fields 'to' and 'from' must be empty when 'rules' is defined",
                                 BAD_TO_KIND]),
    ("unsupported kind in to selector", """\
targetRef:
  kind: MeshService
  name: web-frontend
to:
  - targetRef:
      kind: MeshServiceSubset
    default:
      connectionLimits: { }""", [BAD_TO_KIND]),
    ("sectionName with outbound policy", """\
targetRef:
  kind: Dataplane
  sectionName: test
to:
  - targetRef:
      kind: MeshServiceSubset
    default:
      connectionLimits: { }""", ["spec.targetRef.sectionName: can only be used with inbound policies",
                                 BAD_TO_KIND]),
    ("missing configuration", """\
targetRef:
  kind: MeshService
  name: web-frontend
to:
  - targetRef:
      kind: MeshService
      name: web-backend""",
     ["spec.to[0].default: at least one of: 'connectionLimits' or 'outlierDetection' should be configured"]),
    ("limits cannot be be equal 0 when specified", """\
targetRef:
  kind: MeshService
  name: web-frontend
to:
  - targetRef:
      kind: MeshService
      name: web-backend
    default:
      connectionLimits:
        maxConnections: 0
        maxConnectionPools: 0
        maxPendingRequests: 0
        maxRetries: 0
        maxRequests: 0""", [f"spec.to[0].default.connectionLimits.{f}: must be greater than 0" for f in
                            ("maxConnections", "maxConnectionPools", "maxPendingRequests", "maxRetries",
                             "maxRequests")]),
    ("any outlierDetection's numeric property except 'healthyPanicThreshold' cannot be be 0 when specified", """\
targetRef:
  kind: MeshService
  name: web-frontend
to:
  - targetRef:
      kind: MeshService
      name: web-backend
    default:
      outlierDetection:
        interval: 0s
        baseEjectionTime: 0s
        maxEjectionPercent: 0
        detectors:
          totalFailures:
            consecutive: 0
          gatewayFailures:
            consecutive: 0
          localOriginFailures:
            consecutive: 0
          successRate:
            minimumHosts: 0
            requestVolume: 0
            standardDeviationFactor: 0
          failurePercentage:
            requestVolume: 0
            minimumHosts: 0
            threshold: 0
        healthyPanicThreshold: 0""", [
        "spec.to[0].default.outlierDetection.interval: must be greater than zero when defined",
        "spec.to[0].default.outlierDetection.baseEjectionTime: must be greater than zero when defined",
        "spec.to[0].default.outlierDetection.detectors.totalFailures.consecutive: must be greater than 0",
        "spec.to[0].default.outlierDetection.detectors.gatewayFailures.consecutive: must be greater than 0",
        "spec.to[0].default.outlierDetection.detectors.localOriginFailures.consecutive: must be greater than 0",
        "spec.to[0].default.outlierDetection.detectors.successRate.minimumHosts: must be greater than 0",
        "spec.to[0].default.outlierDetection.detectors.successRate.requestVolume: must be greater than 0",
        "spec.to[0].default.outlierDetection.detectors.successRate.standardDeviationFactor: must be greater than 0",
        "spec.to[0].default.outlierDetection.detectors.failurePercentage.minimumHosts: must be greater than 0",
        "spec.to[0].default.outlierDetection.detectors.failurePercentage.requestVolume: must be greater than 0"]),
    ("any outlierDetection's percentage property cannot be be greater than 100 when specified", """\
targetRef:
  kind: MeshService
  name: web-frontend
to:
  - targetRef:
      kind: MeshService
      name: web-backend
    default:
      outlierDetection:
        maxEjectionPercent: 101
        detectors:
          failurePercentage:
            threshold: 101
        healthyPanicThreshold: 101""", [
        "spec.to[0].default.outlierDetection.maxEjectionPercent: must be in inclusive range [0, 100]",
        "spec.to[0].default.outlierDetection.healthyPanicThreshold: must be in inclusive range [0.0, 100.0]",
        "spec.to[0].default.outlierDetection.detectors.failurePercentage.threshold: "
        "must be in inclusive range [0, 100]"]),
    ("any outlierDetection's percentage property cannot be be smaller than 0 when specified", """\
targetRef:
  kind: MeshService
  name: web-frontend
to:
  - targetRef:
      kind: MeshService
      name: web-backend
    default:
      outlierDetection:
        detectors:
          successRate:
            standardDeviationFactor: -2
        healthyPanicThreshold: -3""", [
        "spec.to[0].default.outlierDetection.healthyPanicThreshold: must be in inclusive range [0.0, 100.0]",
        "spec.to[0].default.outlierDetection.detectors.successRate.standardDeviationFactor: must be greater than 0"]),
    ("detectors are not defined", """\
targetRef:
  kind: MeshService
  name: web-frontend
to:
  - targetRef:
      kind: MeshService
      name: web-backend
    default:
      outlierDetection:
        maxEjectionPercent: 100""", ["spec.to[0].default.outlierDetection.detectors: must be defined"]),
    ("detector is empty", """\
targetRef:
  kind: MeshService
  name: web-frontend
to:
  - targetRef:
      kind: MeshService
      name: web-backend
    default:
      outlierDetection:
        maxEjectionPercent: 100
        detectors: {}""", ["spec.to[0].default.outlierDetection.detectors: must have at least one defined: "
                           "totalFailures, gatewayFailures, localOriginFailures, successRate, failurePercentage"]),
    ("detector has incorrect values", """\
targetRef:
  kind: MeshService
  name: web-frontend
to:
  - targetRef:
      kind: MeshService
      name: web-backend
    default:
      outlierDetection:
        detectors:
          successRate:
            standardDeviationFactor: "xyz\"""",
     ["spec.to[0].default.outlierDetection.detectors.successRate.standardDeviationFactor: invalid number"]),
]


@pytest.mark.parametrize(("name", "spec", "expected"), ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_kuma_invalid(ws: Workspace, name: str, spec: str, expected: list[str]) -> None:
    # kumahc prints problems in line order; Kuma in validation order: compare as sorted lists.
    ws.write(F, policy(spec))
    assert sorted(problems(ws.fails("validate", F))) == sorted(expected)


def test_error_lines_point_at_the_field(ws: Workspace) -> None:
    ws.write(F, policy("""\
to:
  - targetRef: {kind: Mesh}
    default:
      outlierDetection:
        interval: 0s
        detectors: {gatewayFailures: {consecutive: 0}}
"""))
    assert ws.fails("validate", F) == [
        "p.yaml:9: MeshCircuitBreaker p: spec.to[0].default.outlierDetection.interval: "
        "must be greater than zero when defined",
        "p.yaml:10: MeshCircuitBreaker p: spec.to[0].default.outlierDetection.detectors.gatewayFailures.consecutive: "
        "must be greater than 0"]


def test_rules_accepted_with_a_warning_and_a_dataplane_section(ws: Workspace) -> None:
    # With inbound entries a Dataplane sectionName is allowed (Kuma's IsInboundPolicy).
    ws.write(F, policy("""\
targetRef: {kind: Dataplane, sectionName: http}
rules:
  - default: {connectionLimits: {maxConnections: 5}}
"""))
    r = ws.ok("validate", F)
    assert r.lines == [f"warning: p.yaml:6: MeshCircuitBreaker p: spec.rules: {INBOUND}"]


def test_structural_errors(ws: Workspace) -> None:
    ws.write(F, policy("""\
to:
  - targetRef: {kind: Mesh}
    default:
      connectionLimits: {maxConnections: -1, maxRetries: "3"}
      outlierDetection: {interval: 5, detectors: {totalFailures: {consecutive: 1}}}
"""))
    assert ws.fails("validate", F) == [
        "p.yaml:8: MeshCircuitBreaker p: spec.to[0].default.connectionLimits.maxConnections: "
        "must be a 32-bit unsigned integer",
        "p.yaml:8: MeshCircuitBreaker p: spec.to[0].default.connectionLimits.maxRetries: must be an integer",
        'p.yaml:9: MeshCircuitBreaker p: spec.to[0].default.outlierDetection.interval: must be a duration '
        '(e.g. "10s", "1m30s")']


# --- plugin_test.go: outbound clusters --------------------------------------------------------------------------

MESH = docs(dataplane("web-01", "10.0.0.1", "web", protocol="http", outbound="[{tags: {kuma.io/service: backend}}]"),
            dataplane("backend-01", "10.0.0.2", "backend", 20001, protocol="http", outbound="[]"))

LIMITS = """\
connectionLimits:
  maxConnectionPools: 1111
  maxConnections: 2222
  maxPendingRequests: 3333
  maxRequests: 4444
  maxRetries: 5555
"""


def outlier(disabled: bool) -> str:
    return f"""\
outlierDetection:
  disabled: {str(disabled).lower()}
  interval: 10s
  baseEjectionTime: 8s
  maxEjectionPercent: 88
  splitExternalAndLocalErrors: true
  detectors:
    totalFailures: {{consecutive: 12}}
    gatewayFailures: {{consecutive: 91}}
    localOriginFailures: {{consecutive: 3}}
    successRate: {{minimumHosts: 33, requestVolume: 99, standardDeviationFactor: "1.9"}}
    failurePercentage: {{minimumHosts: 32, requestVolume: 182, threshold: 80}}
  healthyPanicThreshold: "30.2"
"""


THRESHOLDS = {"max_connections": 2222, "max_pending_requests": 3333, "max_requests": 4444, "max_retries": 5555,
              "track_remaining": True, "max_connection_pools": 1111}
OUTLIER = {
    "consecutive_5xx": 12, "interval": "10s", "base_ejection_time": "8s", "max_ejection_percent": 88,
    "enforcing_consecutive_5xx": 100, "enforcing_success_rate": 100, "success_rate_minimum_hosts": 33,
    "success_rate_request_volume": 99, "success_rate_stdev_factor": 1900, "consecutive_gateway_failure": 91,
    "enforcing_consecutive_gateway_failure": 100, "split_external_local_origin_errors": True,
    "consecutive_local_origin_failure": 3, "enforcing_consecutive_local_origin_failure": 100,
    "enforcing_local_origin_success_rate": 100, "failure_percentage_threshold": 80,
    "enforcing_failure_percentage": 100, "enforcing_failure_percentage_local_origin": 100,
    "failure_percentage_minimum_hosts": 32, "failure_percentage_request_volume": 182}
PANIC = {"healthy_panic_threshold": {"value": 30.2}}


def cb_policy(conf: str, name: str = "cb", top: str = "{kind: Mesh}", to: str = "{kind: MeshService, name: backend}"
              ) -> str:
    body = textwrap.indent(conf, " " * 6)
    return (f"type: MeshCircuitBreaker\nname: {name}\nmesh: default\nspec:\n  targetRef: {top}\n  to:\n"
            f"  - targetRef: {to}\n    default:\n{body}")


def backend_cluster(ws: Workspace, *policies: str) -> tuple[dict, list[str]]:
    ws.write("in.yaml", docs(MESH, *policies))
    r = ws.ok("render", "in.yaml", "--proxy", "web-01")
    (cluster,) = [c for c in r.json["proxies"][0]["clusters"] if c["name"] == "backend"]
    return cluster, r.lines


def groups(cluster: dict) -> dict:
    return {k: cluster[k] for k in ("circuit_breakers", "outlier_detection", "common_lb_config") if k in cluster}


PLUGIN_CASES = [
    ("basic outbound cluster with connection limits", LIMITS,
     {"circuit_breakers": {"thresholds": [THRESHOLDS]}}),
    ("basic outbound cluster with outlier detection", outlier(False),
     {"circuit_breakers": {"thresholds": [{"track_remaining": True}]}, "outlier_detection": OUTLIER,
      "common_lb_config": PANIC}),
    ("basic outbound cluster with outlier detection and disabled=true", outlier(True),
     {"circuit_breakers": {"thresholds": [{"track_remaining": True}]}}),
    ("basic outbound cluster with connection limits and outlier detection", LIMITS + outlier(False),
     {"circuit_breakers": {"thresholds": [THRESHOLDS]}, "outlier_detection": OUTLIER, "common_lb_config": PANIC}),
    ("basic outbound cluster with connection limits, outlier detection and disabled=true", LIMITS + outlier(True),
     {"circuit_breakers": {"thresholds": [THRESHOLDS]}}),
]


@pytest.mark.parametrize(("name", "conf", "expected"), PLUGIN_CASES, ids=[c[0] for c in PLUGIN_CASES])
def test_kuma_plugin_outbound(ws: Workspace, name: str, conf: str, expected: dict) -> None:
    cluster, lines = backend_cluster(ws, cb_policy(conf))
    assert groups(cluster) == expected
    assert lines == []


def test_kuma_plugin_without_policy_leaves_the_cluster_alone(ws: Workspace) -> None:
    # Deliberate difference: Kuma adds track_remaining to every cluster even without a MeshCircuitBreaker.
    cluster, _ = backend_cluster(ws)
    assert groups(cluster) == {}


def test_kuma_plugin_inbound_entries_not_applied(ws: Workspace) -> None:
    ws.write("in.yaml", docs(MESH, policy("""\
targetRef: {kind: Mesh}
from:
  - targetRef: {kind: Mesh}
    default: {connectionLimits: {maxConnections: 2}}
""")))
    r = ws.ok("render", "in.yaml")
    assert all("circuit_breakers" not in c for p in r.json["proxies"] for c in p["clusters"])
    assert r.lines == [f"warning: in.yaml:24: MeshCircuitBreaker p: spec.from: {INBOUND}"]


def test_detectors_absent_are_not_enforced_and_factor_truncates(ws: Workspace) -> None:
    cluster, _ = backend_cluster(ws, cb_policy("""\
outlierDetection:
  detectors:
    gatewayFailures: {}
    successRate: {standardDeviationFactor: 1.9999}
""".replace("1.9999", '"1.9999"')))
    assert cluster["outlier_detection"] == {
        "enforcing_consecutive_5xx": 0, "enforcing_success_rate": 100, "success_rate_stdev_factor": 1999,
        "enforcing_consecutive_gateway_failure": 0, "enforcing_consecutive_local_origin_failure": 0,
        "enforcing_local_origin_success_rate": 100, "enforcing_failure_percentage": 0,
        "enforcing_failure_percentage_local_origin": 0}
    assert "common_lb_config" not in cluster


# --- merge (same engine and order as MeshHealthCheck) and inspect attribution ------------------------------------

def test_merge_field_by_field_and_inspect_names_each_setter(ws: Workspace) -> None:
    mesh_wide = cb_policy("""\
connectionLimits: {maxConnections: 10, maxRetries: 3}
outlierDetection:
  interval: 5s
  detectors: {totalFailures: {consecutive: 5}}
""", name="mesh-wide", to="{kind: Mesh}")
    specific = cb_policy("""\
connectionLimits: {maxConnections: 20}
outlierDetection:
  detectors: {gatewayFailures: {consecutive: 2}}
  healthyPanicThreshold: 0
""", name="backend-cb")
    cluster, lines = backend_cluster(ws, mesh_wide, specific)
    assert lines == []
    assert cluster["circuit_breakers"] == {"thresholds": [{"max_connections": 20, "max_retries": 3,
                                                           "track_remaining": True}]}
    assert cluster["outlier_detection"] == {
        "consecutive_5xx": 5, "interval": "5s", "enforcing_consecutive_5xx": 100, "enforcing_success_rate": 0,
        "consecutive_gateway_failure": 2, "enforcing_consecutive_gateway_failure": 100,
        "enforcing_consecutive_local_origin_failure": 0, "enforcing_local_origin_success_rate": 0,
        "enforcing_failure_percentage": 0, "enforcing_failure_percentage_local_origin": 0}
    assert cluster["common_lb_config"] == {"healthy_panic_threshold": {}}
    out = ws.ok("inspect", "in.yaml", "--proxy", "web-01", "--cluster", "backend").out.splitlines()
    start = out.index("  MeshCircuitBreaker entries (merge order, lowest priority first):")
    assert out[start:] == [
        "  MeshCircuitBreaker entries (merge order, lowest priority first):",
        "    1. mesh-wide to[0] -> Mesh (in.yaml:25)",
        "    2. backend-cb to[0] -> MeshService backend (in.yaml:38)",
        "  merged conf:",
        "    connectionLimits.maxConnections: 20  [backend-cb to[0]]",
        "    connectionLimits.maxRetries: 3  [mesh-wide to[0]]",
        '    outlierDetection.interval: "5s"  [mesh-wide to[0]]',
        "    outlierDetection.detectors.totalFailures.consecutive: 5  [mesh-wide to[0]]",
        "    outlierDetection.detectors.gatewayFailures.consecutive: 2  [backend-cb to[0]]",
        "    outlierDetection.healthyPanicThreshold: 0  [backend-cb to[0]]",
        "  CircuitBreaker: none",
        "  result: health check <- none; panic settings <- MeshCircuitBreaker backend-cb; outlier detection <- "
        "MeshCircuitBreaker backend-cb; circuit breakers <- MeshCircuitBreaker backend-cb"]


# --- precedence between kinds -----------------------------------------------------------------------------------

def test_precedence_example_warns_every_loser() -> None:
    from helpers import REPO, run

    path = "examples/meshcircuitbreaker/mesh-precedence.yaml"
    r = run("render", str(REPO / path), "--proxy", "web-01")
    assert r.code == 0
    (cluster,) = r.json["proxies"][0]["clusters"]
    assert cluster["common_lb_config"] == {"healthy_panic_threshold": {"value": 20.0}}
    assert cluster["circuit_breakers"] == {"thresholds": [{"max_connections": 100, "track_remaining": True}]}
    assert cluster["outlier_detection"]["consecutive_gateway_failure"] == 3
    assert cluster["health_checks"][0]["http_health_check"]["path"] == "/mhc"
    prefix = "warning: proxy default/web-01 cluster backend_shop_svc_80: "
    assert [line.removeprefix(prefix) for line in r.lines if line.startswith(prefix)] == [
        "health check from KongUpstreamPolicy shop/backend-hc ignored: MeshHealthCheck web-backend takes precedence",
        "panic settings from MeshHealthCheck web-backend ignored: MeshCircuitBreaker web-backend-cb takes precedence",
        "panic settings from KongUpstreamPolicy shop/backend-hc ignored: MeshCircuitBreaker web-backend-cb takes "
        "precedence",
        "outlier detection from KongUpstreamPolicy shop/backend-hc ignored: MeshCircuitBreaker web-backend-cb takes "
        "precedence"]


def test_disabled_outlier_detection_gives_way_to_kong(ws: Workspace) -> None:
    # A MeshCircuitBreaker whose outlierDetection is disabled contributes no outlier group: Kong's passive checks
    # apply (Kuma's configurer leaves outlier_detection alone when disabled), and only circuit breakers come from
    # the MeshCircuitBreaker.
    ws.write("in.yaml", docs(
        dataplane("web-01", "10.0.0.1", "web", protocol="http",
                  outbound="[{tags: {kuma.io/service: api_shop_svc_80}}]"),
        """\
        apiVersion: v1
        kind: Service
        metadata: {name: api, namespace: shop, annotations: {konghq.com/upstream-policy: api-hc}}
        spec: {ports: [{port: 80, appProtocol: http}]}
        """, """\
        apiVersion: configuration.konghq.com/v1beta1
        kind: KongUpstreamPolicy
        metadata: {name: api-hc, namespace: shop}
        spec:
          healthchecks:
            passive: {healthy: {successes: 1}, unhealthy: {httpFailures: 3, httpStatuses: [500, 503]}}
        """,
        cb_policy("outlierDetection: {disabled: true, detectors: {totalFailures: {consecutive: 1}}}\n"
                  "connectionLimits: {maxRequests: 7}\n", to="{kind: Mesh}")))
    r = ws.ok("render", "in.yaml", "--proxy", "web-01")
    (cluster,) = r.json["proxies"][0]["clusters"]
    assert cluster["circuit_breakers"] == {"thresholds": [{"max_requests": 7, "track_remaining": True}]}
    assert cluster["outlier_detection"]["consecutive_5xx"] == 3
    assert not [line for line in r.lines if "MeshCircuitBreaker" in line]


def test_docs_commands_run() -> None:
    """Every ```sh block of docs/circuit-breakers.md runs from the repository root, offline, exit 0."""
    import shlex
    import subprocess
    import sys

    from helpers import REPO

    text = (REPO / "docs" / "circuit-breakers.md").read_text(encoding="utf-8")
    commands = [block.split("```", 1)[0].strip() for block in text.split("```sh\n")[1:]]
    assert len(commands) >= 3
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == ".venv/bin/kumahc", command
        proc = subprocess.run([sys.executable, "-m", "kumahc", *argv[1:]], cwd=REPO, capture_output=True, text=True,
                              timeout=60, check=False)
        assert proc.returncode == 0, f"{command}: {proc.stderr}"
        assert proc.stdout


def test_factor_too_big_for_envoy(ws: Workspace) -> None:
    ws.write(F, policy("""\
to:
  - targetRef: {kind: Mesh}
    default: {outlierDetection: {detectors: {successRate: {standardDeviationFactor: "4294967.296"}}}}
"""))
    assert problems(ws.fails("validate", F)) == [
        "spec.to[0].default.outlierDetection.detectors.successRate.standardDeviationFactor: must be at most "
        "4294967.295 (Envoy's success_rate_stdev_factor is thousandths in 32 bits)"]

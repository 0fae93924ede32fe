"""Kuma v2.14.3's gateway plugin goldens (``meshhealthcheck`` and ``meshcircuitbreaker``
``plugin/v1alpha1/testdata/*.gateway_cluster.golden.yaml``) restated: the plugin tests' gateway, routes and rules
written as kumahc inputs, and the clusters' names and policy-owned fields (health_checks, outlier_detection,
circuit_breakers, common_lb_config) compared exactly. Kuma's tests inject per-listener rules; here a MeshGateway
``targetRef`` with listener ``tags`` selects the same listener."""

from __future__ import annotations

from gw_inputs import BACKEND_MS, GATEWAY_DP, MCB_GATEWAY, MHC_GATEWAY, http_route, policy, tcp_route
from helpers import Workspace, docs

GROUPS = ("health_checks", "outlier_detection", "circuit_breakers", "common_lb_config")

# The MeshHealthCheck plugin test's HTTP conf (listener 8080).
MHC_HTTP = """\
interval: 10s
timeout: 2s
unhealthyThreshold: 3
healthyThreshold: 1
initialJitter: 13s
intervalJitter: 15s
intervalJitterPercent: 10
healthyPanicThreshold: "62.9"
failTrafficOnPanic: true
eventLogPath: /tmp/log.txt
alwaysLogHealthCheckFailures: false
noTrafficInterval: 16s
http:
  disabled: false
  path: /health
  requestHeadersToAdd:
    add: [{name: x-some-header, value: value}]
    set: [{name: x-some-other-header, value: value}]
  expectedStatuses: [200, 201]
reuseConnection: true
"""

# The TCP listener's conf (8081): no checker in Kuma's rule; kumahc's validator wants one named, so it is
# written disabled (the same outcome: no health check, only the panic settings).
MHC_TCP = """\
interval: 10s
timeout: 2s
unhealthyThreshold: 3
healthyThreshold: 1
initialJitter: 13s
intervalJitter: 15s
intervalJitterPercent: 10
healthyPanicThreshold: "72.9"
failTrafficOnPanic: true
eventLogPath: /tmp/log.txt
alwaysLogHealthCheckFailures: false
noTrafficInterval: 16s
reuseConnection: true
tcp: {disabled: true}
"""

HTTP_CHECK = {
    "timeout": "2s", "interval": "10s", "interval_jitter": "15s", "unhealthy_threshold": 3, "healthy_threshold": 1,
    "reuse_connection": True,
    "http_health_check": {
        "path": "/health",
        "request_headers_to_add": [
            {"header": {"key": "x-kuma-tags", "value": "&kuma.io/service=sample-gateway&"}},
            {"header": {"key": "x-some-header", "value": "value"}},
            {"header": {"key": "x-some-other-header", "value": "value"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"},
        ],
        "expected_statuses": [{"start": "200", "end": "201"}, {"start": "201", "end": "202"}],
    },
    "no_traffic_interval": "16s", "interval_jitter_percent": 10, "initial_jitter": "13s",
    "event_logger": [{"name": "envoy.health_check.event_sinks.file", "typed_config": {
        "@type": "type.googleapis.com/envoy.extensions.health_check.event_sinks.file.v3.HealthCheckEventFileSink",
        "event_log_path": "/tmp/log.txt"}}],
}


def panic(value: float) -> dict:
    return {"healthy_panic_threshold": {"value": value}, "zone_aware_lb_config": {"fail_traffic_on_panic": True}}


THRESHOLDS = {"max_connections": 2222, "max_pending_requests": 3333, "max_requests": 4444, "max_retries": 5555,
              "track_remaining": True, "max_connection_pools": 1111}
LIMITS = """\
connectionLimits:
  maxConnectionPools: 1111
  maxConnections: 2222
  maxPendingRequests: 3333
  maxRequests: 4444
  maxRetries: 5555
"""

ON_HTTP = "{kind: MeshGateway, name: sample-gateway, tags: {protocol: http}}"
ON_TCP = "{kind: MeshGateway, name: sample-gateway, tags: {protocol: tcp}}"
GATEWAY = "{kind: MeshGateway, name: sample-gateway}"
MS_80 = "{kind: MeshService, name: backend, port: 80, weight: 100}"


def gateway_clusters(ws: Workspace, *documents: str) -> dict[str, dict]:
    """The sample gateway's clusters by name, each reduced to the policy-owned fields."""
    ws.write("in.yaml", docs(*documents))
    r = ws.ok("render", "in.yaml", "--proxy", "sample-gateway")
    (proxy,) = r.json["proxies"]
    return {c["name"]: {k: c[k] for k in GROUPS if k in c} for c in proxy["clusters"]}


def test_mhc_basic(ws: Workspace) -> None:
    # basic.gateway_cluster: a route to the service "backend" from the HTTP listener, checked there.
    got = gateway_clusters(ws, GATEWAY_DP, MHC_GATEWAY, http_route(),
                           policy("MeshHealthCheck", "hc", ON_HTTP, "{kind: Mesh}", MHC_HTTP))
    assert got == {"backend-89287678764ce0c5": {"health_checks": [HTTP_CHECK], "common_lb_config": panic(62.9)}}


def test_mhc_basic_meshhttproute_and_meshtcproute(ws: Workspace) -> None:
    # basic-meshhttproute.gateway_cluster: the same service from both listeners is two clusters (the listener
    # tags are part of the name); each listener gets its own rule.
    got = gateway_clusters(ws, GATEWAY_DP, MHC_GATEWAY, http_route(), tcp_route(),
                           policy("MeshHealthCheck", "hc", ON_HTTP, "{kind: Mesh}", MHC_HTTP),
                           policy("MeshHealthCheck", "hc-tcp", ON_TCP, "{kind: Mesh}", MHC_TCP))
    assert got == {"backend-89287678764ce0c5": {"health_checks": [HTTP_CHECK], "common_lb_config": panic(62.9)},
                   "backend-945e63bff332f46a": {"common_lb_config": panic(72.9)}}


def test_mhc_real_mesh_service(ws: Workspace) -> None:
    # real-mesh-service-meshhttproute.gateway_cluster: a MeshService resource names the cluster
    # <mesh>_<name>_<namespace>_<zone>_msvc_<port>-<hash>.
    got = gateway_clusters(ws, GATEWAY_DP, MHC_GATEWAY, BACKEND_MS, http_route(backend=MS_80),
                           policy("MeshHealthCheck", "hc", ON_HTTP, "{kind: Mesh}", MHC_HTTP))
    assert got == {"default_backend___msvc_80-e3a0069bda479bd1": {"health_checks": [HTTP_CHECK],
                                                                  "common_lb_config": panic(62.9)}}


def test_mhc_real_mesh_service_targeted(ws: Workspace) -> None:
    # real-mesh-service-target-real-mesh-service-meshhttproute.gateway_cluster: to[] names the MeshService.
    got = gateway_clusters(ws, GATEWAY_DP, MHC_GATEWAY, BACKEND_MS, http_route(backend=MS_80),
                           policy("MeshHealthCheck", "hc", ON_HTTP, "{kind: MeshService, name: backend}", MHC_HTTP))
    assert got == {"default_backend___msvc_80-e3a0069bda479bd1": {"health_checks": [HTTP_CHECK],
                                                                  "common_lb_config": panic(62.9)}}


def test_mcb_basic(ws: Workspace) -> None:
    # meshcircuitbreaker basic.gateway_cluster: connection limits for the service backend behind listener 8080.
    got = gateway_clusters(ws, GATEWAY_DP, MCB_GATEWAY, http_route(),
                           policy("MeshCircuitBreaker", "cb", GATEWAY, "{kind: MeshService, name: backend}", LIMITS))
    assert got == {"backend-26cb64fa4e85e7b7": {"circuit_breakers": {"thresholds": [THRESHOLDS]}}}


def test_mcb_track_remaining_only(ws: Workspace) -> None:
    # track-remaining-only.gateway_cluster: Kuma adds track_remaining to a cluster without any MeshCircuitBreaker;
    # kumahc leaves such a cluster alone, as it does for sidecars (docs/differences.md).
    got = gateway_clusters(ws, GATEWAY_DP, MCB_GATEWAY, http_route())
    assert got == {"backend-26cb64fa4e85e7b7": {}}


def test_mcb_real_mesh_service_targeted(ws: Workspace) -> None:
    # real-MeshService-targeted-to-real-MeshService.gateway_cluster.
    got = gateway_clusters(ws, GATEWAY_DP, MCB_GATEWAY, BACKEND_MS, http_route(backend=MS_80),
                           policy("MeshCircuitBreaker", "cb", GATEWAY, "{kind: MeshService, name: backend}", LIMITS))
    assert got == {"default_backend___msvc_80-01804e3659fbd290": {"circuit_breakers": {"thresholds": [THRESHOLDS]}}}


def test_listener_tags_select_only_their_listener(ws: Workspace) -> None:
    # A policy on the HTTP listener leaves the TCP listener's cluster of the same service alone, and the other way
    # round; a Mesh policy reaches both.
    got = gateway_clusters(ws, GATEWAY_DP, MHC_GATEWAY, http_route(), tcp_route(),
                           policy("MeshCircuitBreaker", "cb", ON_TCP, "{kind: Mesh}", LIMITS))
    assert got == {"backend-89287678764ce0c5": {},
                   "backend-945e63bff332f46a": {"circuit_breakers": {"thresholds": [THRESHOLDS]}}}
    got = gateway_clusters(ws, GATEWAY_DP, MHC_GATEWAY, http_route(), tcp_route(),
                           policy("MeshCircuitBreaker", "cb", "{kind: Mesh}", "{kind: Mesh}", LIMITS))
    assert got == {"backend-89287678764ce0c5": {"circuit_breakers": {"thresholds": [THRESHOLDS]}},
                   "backend-945e63bff332f46a": {"circuit_breakers": {"thresholds": [THRESHOLDS]}}}

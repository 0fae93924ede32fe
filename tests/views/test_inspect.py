"""``kumahc inspect`` (spec 07 §4): exact text for the merge example, every "no health check" outcome explained,
Kong and HealthCheck lines, precedence, filters and errors, and the JSON form."""

from __future__ import annotations

import json

from helpers import Workspace, run

WEB = """\
type: Dataplane
name: web-01
labels: {app: web}
networking:
  address: 10.0.0.1
  inbound:
  - port: 20000
    tags: {kuma.io/service: web, kuma.io/protocol: http}
  outbound:
  - tags: {kuma.io/service: backend}
---
"""


def backend(protocol: str | None = "http", name: str = "backend", address: str = "10.0.0.2") -> str:
    tags = f"kuma.io/service: {name}" + (f", kuma.io/protocol: {protocol}" if protocol else "")
    return f"""\
type: Dataplane
name: {name}-01
networking:
  address: {address}
  inbound: [{{port: 20001, tags: {{{tags}}}}}]
  outbound: []
---
"""


MERGE = """\
type: MeshHealthCheck
name: mesh-defaults
spec:
  to: [{targetRef: {kind: Mesh}, default: {interval: 5s, http: {path: /a, expectedStatuses: [200]}}}]
---
type: MeshHealthCheck
name: web-backend
spec:
  targetRef: {kind: Dataplane, labels: {app: web}}
  to: [{targetRef: {kind: MeshService, name: backend}, default: {http: {expectedStatuses: [204]}}}]
"""


def test_merge_example_names_both_policies_and_every_origin(ws: Workspace) -> None:
    ws.write("a.yaml", WEB + backend() + MERGE)
    r = run("inspect", "a.yaml", "--proxy", "web-01")
    assert (r.code, r.err) == (0, "")
    assert r.out == """\
proxy default/web-01
  tags: kuma.io/protocol=http kuma.io/service=web
  labels: app=web kuma.io/display-name=web-01 kuma.io/mesh=default
cluster backend
  destination: protocol http (kuma.io/protocol tags), 1 endpoint
  MeshHealthCheck entries (merge order, lowest priority first):
    1. mesh-defaults to[0] -> Mesh (a.yaml:22)
    2. web-backend to[0] -> MeshService backend (a.yaml:28)
  merged conf:
    interval: "5s"  [mesh-defaults to[0]]
    timeout: "15s"  [default]
    unhealthyThreshold: 5  [default]
    healthyThreshold: 1  [default]
    http.path: "/a"  [mesh-defaults to[0]]
    http.expectedStatuses: [204]  [web-backend to[0]]
  checker: http (rule 1: protocol http, http enabled)
  KongUpstreamPolicy: none
  HealthCheck: none
  MeshCircuitBreaker entries: none
  CircuitBreaker: none
  result: health check <- MeshHealthCheck web-backend; panic settings <- none; outlier detection <- none; \
circuit breakers <- none
"""


def test_no_matching_policy(ws: Workspace) -> None:
    ws.write("a.yaml", WEB + backend() + """\
type: MeshHealthCheck
name: other
spec:
  to: [{targetRef: {kind: MeshService, name: elsewhere}, default: {http: {}}}]
""")
    r = run("inspect", "a.yaml", "--proxy", "web-01", "--cluster", "backend")
    assert r.code == 0
    assert r.out.splitlines()[3:] == [
        "cluster backend",
        "  destination: protocol http (kuma.io/protocol tags), 1 endpoint",
        "  MeshHealthCheck entries: none",
        "  KongUpstreamPolicy: none",
        "  HealthCheck: none",
        "  MeshCircuitBreaker entries: none",
        "  CircuitBreaker: none",
        "  result: health check <- none; panic settings <- none; outlier detection <- none; circuit breakers <- none",
    ]


def test_protocol_unknown(ws: Workspace) -> None:
    ws.write("a.yaml", WEB + backend(protocol=None) + MERGE)
    r = run("inspect", "a.yaml", "--proxy", "web-01")
    lines = r.out.splitlines()
    assert "  destination: protocol unknown (unknown), 1 endpoint" in lines
    assert "  checker: none (rule 6: protocol unknown, no enabled block for it)" in lines
    assert lines[-1] == ("  result: health check <- none; panic settings <- none; outlier detection <- none; "
                         "circuit breakers <- none")
    assert r.lines == ["warning: destination default/backend: protocol unknown; MeshHealthCheck adds no health check"]


def test_protocol_table_row_6_and_fallback(ws: Workspace) -> None:
    ws.write("a.yaml", WEB + backend("tcp") + """\
type: MeshHealthCheck
name: http-only
spec:
  to: [{targetRef: {kind: Mesh}, default: {http: {}}}]
""")
    lines = run("inspect", "a.yaml", "--proxy", "web-01").out.splitlines()
    assert "  destination: protocol tcp (kuma.io/protocol tags), 1 endpoint" in lines
    assert "  checker: none (rule 6: protocol tcp, no enabled block for it)" in lines
    ws.write("a.yaml", WEB + backend("http") + """\
type: MeshHealthCheck
name: fallback
spec:
  to: [{targetRef: {kind: Mesh}, default: {tcp: {}, http: {disabled: true}}}]
""")
    lines = run("inspect", "a.yaml", "--proxy", "web-01").out.splitlines()
    assert "  checker: tcp (rule 4: protocol http, http disabled, tcp enabled (fallback))" in lines
    assert '    tcp: {}  [fallback to[0]]' in lines
    assert '    http.disabled: true  [fallback to[0]]' in lines


def test_precedence_loss_names_the_legacy_policy(ws: Workspace) -> None:
    ws.write("a.yaml", WEB + backend() + """\
type: MeshHealthCheck
name: web-http
spec:
  to: [{targetRef: {kind: MeshService, name: backend}, default: {http: {}}}]
---
type: HealthCheck
name: legacy-web-backend
sources: [{match: {kuma.io/service: web}}]
destinations: [{match: {kuma.io/service: backend}}]
conf: {interval: 10s, timeout: 2s, unhealthyThreshold: 3, healthyThreshold: 1, healthyPanicThreshold: 10}
""")
    r = run("inspect", "a.yaml", "--proxy", "web-01")
    lines = r.out.splitlines()
    assert "  HealthCheck: legacy-web-backend (aggregate rank (2,2))" in lines
    assert lines[-1] == ("  result: health check <- MeshHealthCheck web-http; panic settings <- HealthCheck "
                         "legacy-web-backend; outlier detection <- none; circuit breakers <- none")
    assert r.lines == ["warning: proxy default/web-01 cluster backend: health check from HealthCheck "
                       "legacy-web-backend ignored: MeshHealthCheck web-http takes precedence"]


def test_kong_line_and_outlier_winner(ws: Workspace) -> None:
    ws.write("a.yaml", """\
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop, annotations: {konghq.com/upstream-policy: api-hc}}
spec: {ports: [{port: 80, appProtocol: http}]}
---
apiVersion: configuration.konghq.com/v1beta1
kind: KongUpstreamPolicy
metadata: {name: api-hc, namespace: shop}
spec:
  healthchecks:
    threshold: 20
    passive: {healthy: {successes: 1}, unhealthy: {httpFailures: 3}}
---
""" + WEB.replace("kuma.io/service: backend", "kuma.io/service: api_shop_svc_80"))
    lines = run("inspect", "a.yaml", "--proxy", "web-01").out.splitlines()
    assert "  KongUpstreamPolicy: shop/api-hc (active http off, passive on, threshold 20)" in lines
    assert "  destination: protocol http (Service appProtocol), 0 endpoints" in lines
    assert lines[-1] == ("  result: health check <- none; panic settings <- KongUpstreamPolicy shop/api-hc; "
                         "outlier detection <- KongUpstreamPolicy shop/api-hc; circuit breakers <- none")


def test_preview_and_protocol_flag_sources(ws: Workspace) -> None:
    ws.write("p.yaml", """\
type: MeshHealthCheck
name: p
spec:
  to: [{targetRef: {kind: MeshService, name: redis}, default: {tcp: {}}}]
""")
    r = run("inspect", "p.yaml", "--proxy", "any-proxy")
    assert "  destination: protocol tcp (preview), 0 endpoints" in r.out.splitlines()
    ws.write("a.yaml", WEB + backend(protocol=None) + MERGE)
    r = run("inspect", "a.yaml", "--proxy", "web-01", "--protocol", "http")
    assert "  destination: protocol http (--protocol), 1 endpoint" in r.out.splitlines()


def test_filters_errors_and_json(ws: Workspace) -> None:
    ws.write("a.yaml", WEB + backend() + MERGE)
    assert run("inspect", "a.yaml", "--proxy", "nobody").lines == [
        'error: no proxy matches "nobody" (proxy names: backend-01, web-01)']
    r = run("inspect", "a.yaml", "--proxy", "default/web-01", "--cluster", "nope")
    assert (r.code, r.out, r.lines) == (
        1, "", ['error: no cluster matches "nope" in proxy default/web-01 (cluster names: backend)'])
    assert run("inspect", "a.yaml").code == 2  # --proxy is required
    r = run("inspect", "a.yaml", "--proxy", "backend-01")  # outbound: [] → no clusters, the proxy still shown
    assert r.out.splitlines() == ["proxy default/backend-01", "  tags: kuma.io/protocol=http kuma.io/service=backend",
                                  "  labels: kuma.io/display-name=backend-01 kuma.io/mesh=default"]
    doc = json.loads(run("inspect", "a.yaml", "--proxy", "web-01", "-o", "json").out)
    (proxy,) = doc["proxies"]
    assert proxy["tags"] == {"kuma.io/protocol": ["http"], "kuma.io/service": ["web"]}
    (cluster,) = proxy["clusters"]
    assert [e["entry"] for e in cluster["entries"]] == ["mesh-defaults to[0]", "web-backend to[0]"]
    assert {m["path"]: m["origin"] for m in cluster["merged"]} == {
        "interval": "mesh-defaults to[0]", "timeout": "default", "unhealthyThreshold": "default",
        "healthyThreshold": "default", "http.path": "mesh-defaults to[0]", "http.expectedStatuses": "web-backend to[0]"}
    assert (cluster["checker"], cluster["health_check_from"]) == ("http", "MeshHealthCheck web-backend")

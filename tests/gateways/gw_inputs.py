"""Inputs shared by the gateway tests: Kuma's gateway plugin test fixtures (``samples.GatewayDataplaneBuilder``,
the MeshGateways of the MeshHealthCheck and MeshCircuitBreaker plugin tests) restated as kumahc YAML."""

from __future__ import annotations

import textwrap

# The builtin gateway Dataplane of Kuma's plugin tests: address 192.168.0.1, gateway tags kuma.io/service.
GATEWAY_DP = """\
type: Dataplane
mesh: default
name: sample-gateway
networking:
  address: 192.168.0.1
  gateway: {type: BUILTIN, tags: {kuma.io/service: sample-gateway}}
"""

BACKEND_DP = """\
type: Dataplane
mesh: default
name: backend-01
networking:
  address: 127.0.0.1
  inbound:
  - {port: 8084, tags: {kuma.io/service: backend, kuma.io/protocol: http}}
"""

# The MeshHealthCheck plugin test's gateway: HTTP 8080 tagged protocol=http, TCP 8081 tagged protocol=tcp.
MHC_GATEWAY = """\
type: MeshGateway
mesh: default
name: sample-gateway
selectors: [{match: {kuma.io/service: sample-gateway}}]
conf:
  listeners:
  - {port: 8080, protocol: HTTP, tags: {protocol: http}}
  - {port: 8081, protocol: TCP, tags: {protocol: tcp}}
"""

# samples.GatewayResource (the MeshCircuitBreaker plugin test): one HTTP listener on 8080, no tags.
MCB_GATEWAY = """\
type: MeshGateway
mesh: default
name: sample-gateway
selectors: [{match: {kuma.io/service: sample-gateway}}]
conf:
  listeners:
  - {port: 8080, protocol: HTTP}
"""

# A MeshService "backend" with one port 80 → 8084, appProtocol http (the "real MeshService" cases).
BACKEND_MS = """\
type: MeshService
mesh: default
name: backend
spec:
  selector: {dataplaneTags: {kuma.io/service: backend}}
  ports:
  - {port: 80, targetPort: 8084, appProtocol: http}
"""


def http_route(name: str = "to-backend", backend: str = "{kind: MeshService, name: backend, weight: 100}",
               top: str = "{kind: MeshGateway, name: sample-gateway}") -> str:
    return f"""\
type: MeshHTTPRoute
mesh: default
name: {name}
spec:
  targetRef: {top}
  to:
  - targetRef: {{kind: Mesh}}
    rules:
    - matches: [{{path: {{type: Exact, value: /}}}}]
      default: {{backendRefs: [{backend}]}}
"""


def tcp_route(name: str = "tcp-backend", backend: str = "{kind: MeshService, name: backend, weight: 100}",
              top: str = "{kind: MeshGateway, name: sample-gateway}") -> str:
    return f"""\
type: MeshTCPRoute
mesh: default
name: {name}
spec:
  targetRef: {top}
  to:
  - targetRef: {{kind: Mesh}}
    rules:
    - default: {{backendRefs: [{backend}]}}
"""


def policy(kind: str, name: str, top: str, to: str, conf: str) -> str:
    body = textwrap.indent(conf, " " * 6)
    return (f"type: {kind}\nname: {name}\nmesh: default\nspec:\n  targetRef: {top}\n  to:\n"
            f"  - targetRef: {to}\n    default:\n{body}")

"""Validation of gateway Dataplanes, MeshGateway, MeshHTTPRoute and MeshTCPRoute: Kuma v2.14.3's validator rules
(``dataplane_validator.go``, ``gateway_validator.go``, ``meshtcproute`` ``validator.go``) restated as cases, each the
exact error line of ``kumahc validate`` and exit 1; valid inputs in both formats pass."""

from __future__ import annotations

import pytest
from gw_inputs import GATEWAY_DP, MHC_GATEWAY, http_route, tcp_route
from helpers import Workspace, docs

DP = "a.yaml:{line}: Dataplane gw: networking."
GW = "a.yaml:{line}: MeshGateway g: "
RT = "a.yaml:{line}: MeshHTTPRoute r: spec."


def gateway_dp(gateway: str, more: str = "") -> str:
    return f"type: Dataplane\nname: gw\nnetworking:\n  address: 10.0.0.1\n  gateway: {gateway}\n{more}"


def mesh_gateway(selectors: str = "[{match: {kuma.io/service: gw}}]", listeners: str = "[{port: 80, protocol: HTTP}]",
                 tags: str = "") -> str:
    extra = f"tags: {tags}\n" if tags else ""
    return f"type: MeshGateway\nname: g\nselectors: {selectors}\n{extra}conf:\n  listeners: {listeners}\n"


def route(top: str = "{kind: MeshGateway, name: g}", to: str = "{kind: Mesh}",
          refs: str = "[{kind: MeshService, name: b}]") -> str:
    return (f"type: MeshHTTPRoute\nname: r\nmesh: default\nspec:\n  targetRef: {top}\n  to:\n  - targetRef: {to}\n"
            f"    rules:\n    - default: {{backendRefs: {refs}}}\n")


INBOUND = "  inbound: [{port: 80, tags: {kuma.io/service: a}}]\n"


@pytest.mark.parametrize("text, lines", [
    (gateway_dp("{type: BUILTIN, tags: {kuma.io/service: gw}}", INBOUND),
     [DP.format(line=6) + "inbound: inbound cannot be defined for builtin gateways"]),
    (gateway_dp("{type: BUILTIN, tags: {kuma.io/service: gw}}", "  outbound: [{tags: {kuma.io/service: a}}]\n"),
     [DP.format(line=6) + "outbound: outbound cannot be defined for builtin gateways"]),
    (gateway_dp("{type: DELEGATED, tags: {kuma.io/service: gw}}", INBOUND),
     [DP.format(line=6) + "inbound: inbound cannot be defined for delegated gateways"]),
    (gateway_dp("{tags: {kuma.io/service: gw}}", INBOUND),
     [DP.format(line=6) + "inbound: inbound cannot be defined for delegated gateways"]),  # DELEGATED is the default
    (gateway_dp("{type: BUILTIN, tags: {kuma.io/service: gw, kuma.io/protocol: http}}"),
     [DP.format(line=5) + 'gateway.tags["kuma.io/protocol"]: other values than tcp are not allowed, provided value '
      '"http"']),
    (gateway_dp("{type: BUILTIN, tags: {app: gw}}"),
     [DP.format(line=5) + 'gateway.tags: mandatory tag "kuma.io/service" is missing']),
    (gateway_dp("{type: BUILTIN, tags: {kuma.io/service: 'g w'}}"),
     [DP.format(line=5) + 'gateway.tags["kuma.io/service"]: tag value must consist of alphanumeric characters, dots, '
      'dashes and underscores']),
    (gateway_dp("{type: EDGE, tags: {kuma.io/service: gw}}"),
     [DP.format(line=5) + "gateway.type: value 'EDGE' is not supported (allowed: BUILTIN, DELEGATED)"]),
    ("type: Dataplane\nname: gw\nnetworking:\n  address: 10.0.0.1\n", [DP.format(line=3) + "inbound: must be defined"]),
], ids=["builtin-inbound", "builtin-outbound", "delegated-inbound", "default-delegated", "protocol-not-tcp",
        "service-required", "tag-value", "type", "sidecar-without-inbound"])
def test_gateway_dataplane_rules(ws: Workspace, text: str, lines: list[str]) -> None:
    ws.write("a.yaml", text)
    assert ws.fails("validate", "a.yaml") == lines


@pytest.mark.parametrize("text, lines", [
    (mesh_gateway(selectors="[]"), [GW.format(line=3) + "selectors: must have at least one element"]),
    (mesh_gateway(selectors="[{match: {}}]"), [GW.format(line=3) + "selectors[0].match: must have at least one tag"]),
    (mesh_gateway(selectors="[{match: {app: a}}]"),
     [GW.format(line=3) + 'selectors[0].match: mandatory tag "kuma.io/service" is missing']),
    (mesh_gateway(tags="{kuma.io/service: x}"),
     [GW.format(line=4) + 'tags["kuma.io/service"]: tag name must not be "kuma.io/service"']),
    (mesh_gateway(listeners="[]"), [GW.format(line=5) + "conf.listeners: cannot be empty"]),
    (mesh_gateway(listeners="[{port: 0, protocol: HTTP}]"),
     [GW.format(line=5) + "conf.listeners[0].port: port must be in the range [1, 65535]"]),
    (mesh_gateway(listeners="[{port: 80}]"), [GW.format(line=5) + "conf.listeners[0].protocol: cannot be empty"]),
    (mesh_gateway(listeners="[{port: 80, protocol: UDP}]"),
     [GW.format(line=5) + "conf.listeners[0].protocol: value 'UDP' is not supported (allowed: HTTP, HTTPS, TCP, TLS)"]),
    (mesh_gateway(listeners="[{port: 443, protocol: HTTPS}]"),
     [GW.format(line=5) + "conf.listeners[0].tls: cannot be empty"]),
    (mesh_gateway(listeners="[{port: 80, protocol: HTTP, hostname: 'bad_host'}]"),
     [GW.format(line=5) + "conf.listeners[0].hostname: invalid hostname"]),
    (mesh_gateway(listeners="[{port: 80, protocol: HTTP, hostname: '*.bad_host'}]"),
     [GW.format(line=5) + "conf.listeners[0].hostname: invalid wildcard domain"]),
    (mesh_gateway(listeners="[{port: 80, protocol: HTTP, tags: {kuma.io/zone: z}}]"),
     [GW.format(line=5) + 'conf.listeners[0].tags["kuma.io/zone"]: tag name must not be "kuma.io/zone"']),
    (mesh_gateway(listeners="[{port: 80, protocol: HTTP, hostname: a.b}, {port: 80, protocol: TCP}]"),
     [GW.format(line=5) + "conf.listeners[0]: protocol conflicts with other listeners on this port",
      GW.format(line=5) + "conf.listeners[1]: protocol conflicts with other listeners on this port"]),
    (mesh_gateway(listeners="[{port: 80, protocol: HTTP}, {port: 80, protocol: HTTP, hostname: '*'}]"),
     [GW.format(line=5) + "conf.listeners[0]: multiple listeners for hostname on this port",
      GW.format(line=5) + "conf.listeners[1]: multiple listeners for hostname on this port"]),
], ids=["no-selectors", "empty-match", "selector-service", "reserved-tag", "no-listeners", "port", "no-protocol",
        "protocol", "https-tls", "hostname", "wildcard", "listener-reserved-tag", "protocol-conflict",
        "hostname-conflict"])
def test_mesh_gateway_rules(ws: Workspace, text: str, lines: list[str]) -> None:
    ws.write("a.yaml", text)
    assert ws.fails("validate", "a.yaml") == lines


@pytest.mark.parametrize("text, lines", [
    (route(top="{kind: MeshGateway}"), [RT.format(line=5) + "targetRef.name: must be set when kind is MeshGateway"]),
    (route(top="{kind: MeshHTTPRoute, name: x}"),
     [RT.format(line=5) + "targetRef.kind: value 'MeshHTTPRoute' is not supported (allowed: Mesh, MeshSubset, "
      "MeshGateway, MeshService, MeshServiceSubset, Dataplane)",
      RT.format(line=7) + "to[0].targetRef.kind: value 'Mesh' is not supported (allowed: MeshService, "
      "MeshExternalService, MeshMultiZoneService)"]),
    (route(to="{kind: MeshService, name: x}"),
     [RT.format(line=7) + "to[0].targetRef.kind: value 'MeshService' is not supported (allowed: Mesh)"]),
    (route(top="{kind: Mesh}", to="{kind: Mesh}"),
     [RT.format(line=7) + "to[0].targetRef.kind: value 'Mesh' is not supported (allowed: MeshService, "
      "MeshExternalService, MeshMultiZoneService)"]),
    (route(refs="[]"), [RT.format(line=9) + "to[0].rules[0].default.backendRefs: must be defined"]),
    (route(refs="[{kind: Mesh}]"),
     [RT.format(line=9) + "to[0].rules[0].default.backendRefs[0].kind: value 'Mesh' is not supported (allowed: "
      "MeshService, MeshServiceSubset, MeshExternalService, MeshMultiZoneService)"]),
    (route(refs="[{kind: MeshService}]"),
     [RT.format(line=9) + "to[0].rules[0].default.backendRefs[0]: name or labels must be set when kind is "
      "MeshService"]),
    (route(refs="[{kind: MeshService, name: b, port: 0}]"),
     [RT.format(line=9) + "to[0].rules[0].default.backendRefs[0].port: port must be in the range [1, 65535]"]),
], ids=["gateway-name", "top-kind", "to-kind-gateway", "to-kind-sidecar", "no-backends", "backend-kind",
        "backend-name", "backend-port"])
def test_route_rules(ws: Workspace, text: str, lines: list[str]) -> None:
    ws.write("a.yaml", text)
    assert ws.fails("validate", "a.yaml") == lines


def test_valid_universal_gateway_set(ws: Workspace) -> None:
    ws.write("a.yaml", docs(GATEWAY_DP, MHC_GATEWAY, http_route(), tcp_route()))
    r = ws.ok("validate", "a.yaml")
    assert (r.out, r.lines) == ("ok: 4 resources in 1 files\n", [])


def test_external_backends_are_accepted_and_not_applied(ws: Workspace) -> None:
    ws.write("a.yaml", docs(route(refs="[{kind: MeshExternalService, name: e}]"), mesh_gateway()))
    r = ws.ok("validate", "a.yaml")
    assert r.lines == ["info: preview mode: no Dataplane in the inputs; synthesised proxies: default/g",
                       "warning: a.yaml:9: MeshHTTPRoute r: spec.to[0].rules[0].default.backendRefs[0]: not applied "
                       "by kumahc (only MeshService backends by name give clusters)"]


KUBERNETES = """\
apiVersion: kuma.io/v1alpha1
kind: Dataplane
metadata: {name: edge-0, namespace: kong}
spec:
  networking:
    address: 10.0.0.9
    gateway: {type: BUILTIN, tags: {kuma.io/service: edge_kong_svc}}
---
apiVersion: kuma.io/v1alpha1
kind: MeshGateway
mesh: default
metadata: {name: edge}
spec:
  selectors: [{match: {kuma.io/service: edge_kong_svc}}]
  conf: {listeners: [{port: 80, protocol: HTTP}]}
---
apiVersion: kuma.io/v1alpha1
kind: MeshHTTPRoute
metadata: {name: edge-route, namespace: kuma-system, labels: {kuma.io/mesh: default}}
spec:
  targetRef: {kind: MeshGateway, name: edge}
  to:
  - targetRef: {kind: Mesh}
    rules:
    - default: {backendRefs: [{kind: MeshService, name: web_shop_svc_80}]}
"""


def test_kubernetes_forms(ws: Workspace) -> None:
    ws.write("k.yaml", KUBERNETES)
    r = ws.ok("render", "k.yaml", "--proxy", "edge-0.kong")
    # The proxy is named <name>.<namespace>; the cluster after the service the route names (no MeshService
    # resource in the inputs).
    assert [(p["name"], [c["name"] for c in p["clusters"]]) for p in r.json["proxies"]] == [
        ("edge-0.kong", ["web_shop_svc_80-6ab97f21e30f9a11"])]


def test_routes_to_nothing_warn(ws: Workspace) -> None:
    multi = "type: MeshService\nmesh: default\nname: multi\nspec:\n  ports: [{port: 80}, {port: 81}]\n"
    refs = "[{kind: MeshService, name: multi}, {kind: MeshService, name: multi, port: 82}]"
    ws.write("a.yaml", docs(multi, route(top="{kind: MeshGateway, name: nope}", refs=refs)))
    r = ws.ok("validate", "a.yaml")
    w = "warning: a.yaml:{}: MeshHTTPRoute r: spec."
    assert r.lines == [
        w.format(11) + 'targetRef.name: references unknown MeshGateway "nope"',
        w.format(15) + 'to[0].rules[0].default.backendRefs[0].port: must be set when MeshService "multi" has several '
        "ports; skipped",
        w.format(15) + 'to[0].rules[0].default.backendRefs[1].port: MeshService "multi" has no port 82; skipped',
    ]

"""Every Dataplane, MeshService and Service rule of kumahc/resources/core.py (spec 01 §5.1–§5.3), one case each:
the exact error line of ``kumahc validate`` (as docs/messages.md lists them) and exit 1."""

from __future__ import annotations

import pytest
from helpers import Workspace

# A valid Dataplane; each case replaces one part of it.
DATAPLANE = """\
type: Dataplane
name: dp
networking:
  address: {address}
  inbound:
  - port: 8080
    tags: {{kuma.io/service: web}}
{more}"""


def dataplane(address: str = "10.0.0.1", more: str = "") -> str:
    return DATAPLANE.format(address=address, more=more)


def inbound(body: str) -> str:
    """A Dataplane whose only inbound is ``body`` (YAML flow mapping)."""
    return f"type: Dataplane\nname: dp\nnetworking:\n  address: 10.0.0.1\n  inbound:\n  - {body}\n"


DP = "a.yaml:{line}: Dataplane dp: networking."
RANGE = "port must be in the range [1, 65535]"
NAME = "tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores"
VALUE = "tag value must consist of alphanumeric characters, dots, dashes and underscores"
MISSING = 'mandatory tag "kuma.io/service" is missing'


@pytest.mark.parametrize("text, line", [
    (dataplane(address="10.0.0.300"), DP.format(line=4) + "address: must be a valid IP address"),
    (dataplane(more="  gateway: {tags: {kuma.io/service: gw}}\n"),
     DP.format(line=5) + "inbound: inbound cannot be defined for delegated gateways"),
    ("type: Dataplane\nname: dp\nnetworking:\n  address: 10.0.0.1\n  inbound: []\n",
     DP.format(line=5) + "inbound: must have at least one element"),
    (inbound("{port: 0, tags: {kuma.io/service: web}}"), DP.format(line=6) + f"inbound[0].port: {RANGE}"),
    (inbound("{port: 65536, tags: {kuma.io/service: web}}"), DP.format(line=6) + f"inbound[0].port: {RANGE}"),
    (inbound("{port: 80, servicePort: 65536, tags: {kuma.io/service: web}}"),
     DP.format(line=6) + f"inbound[0].servicePort: {RANGE}"),
    (inbound("{port: 80, address: 'fe80::1::2', tags: {kuma.io/service: web}}"),
     DP.format(line=6) + "inbound[0].address: must be a valid IP address"),
    (inbound("{port: 80, tags: {app: web}}"), DP.format(line=6) + f"inbound[0].tags: {MISSING}"),
    (inbound("{port: 80, tags: {kuma.io/service: web, 'a b': x}}"),
     DP.format(line=6) + f'inbound[0].tags["a b"]: {NAME}'),
    (inbound("{port: 80, tags: {kuma.io/service: web, version: ''}}"),
     DP.format(line=6) + 'inbound[0].tags["version"]: tag value must be non-empty'),
    (inbound("{port: 80, tags: {kuma.io/service: 'web/v1'}}"),
     DP.format(line=6) + f'inbound[0].tags["kuma.io/service"]: {VALUE}'),
    (dataplane(more="  outbound:\n  - {tags: {kuma.io/service: a}, backendRef: {kind: MeshService, name: a}}\n"),
     DP.format(line=9) + "outbound[0]: must have exactly one defined: tags, backendRef"),
    (dataplane(more="  outbound:\n  - {port: 80}\n"),
     DP.format(line=9) + "outbound[0]: must have exactly one defined: tags, backendRef"),
    (dataplane(more="  outbound:\n  - tags: {app: a}\n"), DP.format(line=9) + f"outbound[0].tags: {MISSING}"),
    (dataplane(more="  outbound:\n  - tags: {kuma.io/service: a, 'x y': b}\n"),
     DP.format(line=9) + f'outbound[0].tags["x y"]: {NAME}'),
    (dataplane(more="  outbound:\n  - backendRef: {kind: MeshExternalService, name: ext}\n"),
     DP.format(line=9) + "outbound[0].backendRef.kind: value 'MeshExternalService' is not supported "
                         "(allowed: MeshService)"),
], ids=["address", "gateway", "no-inbound", "port-0", "port-65536", "service-port", "inbound-address",
        "no-service-tag", "tag-name", "tag-empty", "tag-value", "outbound-both", "outbound-neither",
        "outbound-no-service", "outbound-tag-name", "backendref-kind"])
def test_dataplane_rule(ws: Workspace, text: str, line: str) -> None:
    ws.write("a.yaml", text)
    assert ws.fails("validate", "a.yaml") == [line]


def mesh_service(spec: str) -> str:
    return f"type: MeshService\nname: ms\nspec:\n{spec}"


MS = "a.yaml:{line}: MeshService ms: spec."
PORT = "  ports:\n  - {port: 80}\n"


@pytest.mark.parametrize("text, line", [
    (mesh_service("  selector:\n    dataplaneRef: {name: dp}\n" + PORT),
     MS.format(line=5) + "selector.dataplaneRef: not supported by kumahc; use dataplaneTags"),
    (mesh_service("  selector:\n    dataplaneLabels: {app: web}\n" + PORT),
     MS.format(line=5) + "selector.dataplaneLabels: not supported by kumahc; use dataplaneTags"),
    (mesh_service("  selector:\n    dataplaneTags: {'a b': web}\n" + PORT),
     MS.format(line=5) + f'selector.dataplaneTags["a b"]: {NAME}'),
    (mesh_service("  selector:\n    dataplaneTags: {app: ''}\n" + PORT),
     MS.format(line=5) + 'selector.dataplaneTags["app"]: tag value must be non-empty'),
    (mesh_service("  selector:\n    dataplaneTags: {app: 'a b'}\n" + PORT),
     MS.format(line=5) + f'selector.dataplaneTags["app"]: {VALUE}'),
    (mesh_service("  ports: []\n"), MS.format(line=4) + "ports: must have at least one element"),
    (mesh_service("  ports:\n  - {port: 0}\n"), MS.format(line=5) + f"ports[0].port: {RANGE}"),
    (mesh_service("  ports:\n  - {port: 80, name: a}\n  - {port: 80, name: b}\n"),
     MS.format(line=6) + "ports[1].port: duplicate port 80"),
    (mesh_service("  ports:\n  - {port: 80, name: http}\n  - {port: 81, name: http}\n"),
     MS.format(line=6) + 'ports[1].name: duplicate port name "http"'),
    (mesh_service("  ports:\n  - {port: 8080}\n  - {port: 81, name: '8080'}\n"),
     MS.format(line=6) + 'ports[1].name: duplicate port name "8080"'),
    (mesh_service("  ports:\n  - {port: 80, targetPort: 65536}\n"),
     MS.format(line=5) + f"ports[0].targetPort: {RANGE}"),
    (mesh_service("  ports:\n  - {port: 80, targetPort: ''}\n"),
     MS.format(line=5) + "ports[0].targetPort: must not be empty"),
], ids=["dataplane-ref", "dataplane-labels", "tag-name", "tag-empty", "tag-value", "no-ports", "port-range",
        "duplicate-port", "duplicate-name", "duplicate-default-name", "target-range", "target-empty"])
def test_mesh_service_rule(ws: Workspace, text: str, line: str) -> None:
    ws.write("a.yaml", text)
    assert ws.fails("validate", "a.yaml") == [line]


def test_mesh_service_selector_needs_no_service_tag(ws: Workspace) -> None:
    """dataplaneTags follow the Dataplane tag rules except the mandatory kuma.io/service (01 §5.2)."""
    ws.write("a.yaml", mesh_service("  selector:\n    dataplaneTags: {app: web}\n" + PORT))
    assert ws.ok("validate", "a.yaml").code == 0


SERVICE = """\
apiVersion: v1
kind: Service
metadata: {{name: svc, namespace: shop}}
spec:
  ports:
  - {port}
"""


def test_service_port_range(ws: Workspace) -> None:
    """A Service port out of range is one error at ``port``; its targetPort is ignored (01 §5.3), so a port
    without one (or with an out-of-range one) gets no targetPort error."""
    ws.write("a.yaml", SERVICE.format(port="{port: 0}") + "  - {port: 80, targetPort: 0}\n")
    assert ws.fails("validate", "a.yaml") == [
        f"a.yaml:6: Service shop/svc: spec.ports[0].port: {RANGE}"]


def test_mesh_service_port_out_of_range_is_one_error(ws: Workspace) -> None:
    """The default targetPort (= port) is not checked again: one error, at the field written."""
    ws.write("a.yaml", mesh_service("  ports:\n  - {port: 70000}\n"))
    assert ws.fails("validate", "a.yaml") == [MS.format(line=5) + f"ports[0].port: {RANGE}"]

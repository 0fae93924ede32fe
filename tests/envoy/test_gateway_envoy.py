"""A builtin gateway's clusters served by ``kumahc serve`` to the real Envoy (issue 20): Envoy, connected as the
gateway proxy's node, gets exactly the clusters ``render`` shows (static endpoints over CDS, EDS endpoints over
ADS), probes the backends the gateway's MeshHTTPRoute reaches (a new connection per probe: a stopped backend's
kept-alive connection would still answer), and ejects a stopped backend at its first failed
probe (unhealthyThreshold 1, so within two intervals of the stop), read from Envoy's own health-check event log.
Everything on 127.0.0.1, ports 0, every wait bounded, every process stopped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from backends import StatusBackend
from bootstraps import xds_bootstrap
from harness import Envoy, is_healthy, wait_until
from kumahc_serve import serve

from kumahc.pipeline import run
from kumahc.render import document

GATEWAY = """\
type: Dataplane
mesh: default
name: edge-gateway
networking:
  address: 127.0.0.1
  gateway: {type: BUILTIN, tags: {kuma.io/service: edge-gateway}}
---
type: MeshGateway
mesh: default
name: edge
selectors: [{match: {kuma.io/service: edge-gateway}}]
conf: {listeners: [{port: 8080, protocol: HTTP, tags: {listener: public}}]}
---
type: MeshHTTPRoute
mesh: default
name: edge-to-app
spec:
  targetRef: {kind: MeshGateway, name: edge}
  to:
  - targetRef: {kind: Mesh}
    rules:
    - default: {backendRefs: [{kind: MeshService, name: app}]}
"""


def check(log: Path) -> str:
    return f"""\
type: MeshHealthCheck
mesh: default
name: edge-checks
spec:
  targetRef: {{kind: MeshGateway, name: edge}}
  to:
  - targetRef: {{kind: MeshService, name: app}}
    default:
      interval: 1s
      timeout: 1s
      unhealthyThreshold: 1
      healthyThreshold: 1
      noTrafficInterval: 1s
      alwaysLogHealthCheckFailures: true
      reuseConnection: false
      eventLogPath: {log}
      http: {{path: /health}}
"""


def backend(name: str, port: int) -> str:
    return f"""\
type: Dataplane
mesh: default
name: {name}
networking:
  address: 127.0.0.1
  inbound: [{{port: {port}, tags: {{kuma.io/service: app, kuma.io/protocol: http}}}}]
  outbound: []
"""


def events(log: Path, port: int) -> list[str]:
    """The kinds of Envoy's health-check events for the host on ``port``, in log order."""
    out = []
    text = log.read_text(encoding="utf-8") if log.exists() else ""
    # Only whole lines: Envoy may be half-way through writing the last one.
    for line in text.splitlines(keepends=True):
        if not line.endswith("\n"):
            break
        event = json.loads(line)
        if event["host"]["socket_address"]["port_value"] == port:
            out += [k for k in event if k.endswith("_event")]
    return out


@pytest.mark.parametrize("mode, endpoints", [("cds", "static"), ("ads", "eds")], ids=["static", "eds"])
def test_gateway_clusters_eject_a_stopped_backend(mode: str, endpoints: str, tmp_path: Path,
                                                   envoy_binary: str) -> None:
    mesh = tmp_path / "mesh"
    mesh.mkdir()
    log = tmp_path / "hc-events.log"
    with StatusBackend() as a, StatusBackend() as b:
        (mesh / "gateway.yaml").write_text(GATEWAY + "---\n" + check(log), encoding="utf-8")
        (mesh / "app.yaml").write_text(backend("app-a", a.port) + "---\n" + backend("app-b", b.port),
                                       encoding="utf-8")
        rendered = document(run([str(mesh)]), "edge-gateway", endpoints=endpoints)["proxies"][0]
        expected = rendered["clusters"]
        (cluster,) = expected
        name = cluster["name"]
        assert name.startswith("app-") and len(name) == len("app-") + 16
        with serve(str(mesh), args=("--endpoints", endpoints)) as s, \
                Envoy(xds_bootstrap(mode, "default.edge-gateway", s.xds_port)) as envoy:
            def hosts() -> dict[int, dict]:
                return {h["address"]["socket_address"]["port_value"]: h.get("health_status", {})
                        for h in envoy.host_statuses(name)}

            wait_until(lambda: len(h := hosts()) == 2 and all(is_healthy(x) for x in h.values()), 60, 0.1,
                       "both gateway backends healthy")
            dump = envoy.admin_json("/config_dump?resource=dynamic_active_clusters")
            (got,) = [c["cluster"] for c in dump["configs"]]
            assert got == cluster  # what render shows, field for field
            if endpoints == "eds":
                (assignment,) = rendered["load_assignments"]
                assert assignment["cluster_name"] == name
                assert len(assignment["endpoints"][0]["lb_endpoints"]) == 2
            assert a.requests("/health") >= 1 and b.requests("/health") >= 1
            b_port = b.port  # a stopped backend has no port
            b.stop()
            wait_until(lambda: hosts()[b_port].get("failed_active_health_check"), 60, 0.1,
                       "the stopped backend failing its active health check")
            assert is_healthy(hosts()[a.port])
            # Envoy's log (flushed in its own time) shows the stopped host healthy, then ejected by its first
            # failed probe: no failure event comes before the ejection.
            wait_until(lambda: "eject_unhealthy_event" in events(log, b_port), 30, 0.1,
                       "the ejection in Envoy's event log")
            seen = events(log, b_port)
            before = seen[:seen.index("eject_unhealthy_event")]
            assert set(before) <= {"add_healthy_event"}, seen
            assert set(events(log, a.port)) <= {"add_healthy_event"}

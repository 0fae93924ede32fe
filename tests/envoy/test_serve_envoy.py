"""``kumahc serve`` with the real Envoy (spec 06): CDS, ADS and Delta delivery equal to ``render``, live policy
edits, invalid edits, a forced NACK, a kumahc restart, and active health checks against real HTTP, TCP and gRPC
backends. Everything on 127.0.0.1, ports 0, every wait bounded, every process stopped."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from backends import StatusBackend
from bootstraps import xds_bootstrap
from harness import Envoy, http_listener, is_healthy, wait_until
from kumahc_serve import atomic_write, serve
from probes import GrpcHealthBackend, TcpPongBackend

from kumahc.pipeline import run
from kumahc.render import document
from kumahc.xds.snapshot import content_version

WEB = """\
type: Dataplane
name: web-01
labels: {app: web}
networking:
  address: 127.0.0.1
  inbound: [{port: 1, tags: {kuma.io/service: web, kuma.io/protocol: http}}]
"""


def dataplane(name: str, service: str, port: int, protocol: str) -> str:
    return f"""\
type: Dataplane
name: {name}
networking:
  address: 127.0.0.1
  inbound: [{{port: {port}, tags: {{kuma.io/service: {service}, kuma.io/protocol: {protocol}}}}}]
  outbound: []
"""


def policy(path: str = "/health", extra: str = "") -> str:
    """Fast probes (1 s, also on idle clusters) on the three destinations; ``extra`` is added to every conf."""
    common = f"interval: 1s, timeout: 1s, unhealthyThreshold: 1, healthyThreshold: 1, noTrafficInterval: 1s{extra}"
    return f"""\
type: MeshHealthCheck
name: web-checks
spec:
  targetRef: {{kind: Dataplane, labels: {{app: web}}}}
  to:
  - targetRef: {{kind: MeshService, name: http-svc}}
    default: {{{common}, http: {{path: {path}}}}}
  - targetRef: {{kind: MeshService, name: tcp-svc}}
    default: {{{common}, tcp: {{send: cGluZwo=, receive: [cG9uZwo=]}}}}
  - targetRef: {{kind: MeshService, name: grpc-svc}}
    default: {{{common}, grpc: {{}}}}
"""


def rendered_clusters(inputs: Path, proxy: str = "web-01") -> list[dict]:
    return document(run([str(inputs)]), proxy)["proxies"][0]["clusters"]


def dynamic_clusters(envoy: Envoy) -> list[dict]:
    """``/config_dump?resource=dynamic_active_clusters`` clusters as render prints them (``@type`` first)."""
    dump = envoy.admin_json("/config_dump?resource=dynamic_active_clusters")
    return sorted((c["cluster"] for c in dump.get("configs", [])), key=lambda c: c["name"])


def cds_version(envoy: Envoy) -> str:
    body = envoy.admin("/stats?filter=cluster_manager.cds.version_text").body
    return body.split(":", 1)[1].strip().strip('"') if ":" in body else ""


def wait_version(envoy: Envoy, version: str, timeout: float = 20) -> None:
    wait_until(lambda: cds_version(envoy) == version, timeout, 0.1, f"Envoy at version {version}")


@pytest.fixture
def simple_mesh(tmp_path: Path) -> Path:
    d = tmp_path / "mesh"
    d.mkdir()
    (d / "mesh.yaml").write_text("---\n".join([WEB, dataplane("http-a", "http-svc", 10001, "http"),
                                               dataplane("tcp-a", "tcp-svc", 10002, "tcp"),
                                               dataplane("grpc-a", "grpc-svc", 10003, "grpc")]))
    (d / "policy.yaml").write_text(policy())
    return d


@pytest.mark.parametrize("mode", ["cds", "ads", "delta"])
def test_envoy_gets_what_render_shows(mode: str, simple_mesh: Path, envoy_binary: str) -> None:
    expected = rendered_clusters(simple_mesh)
    with serve(str(simple_mesh)) as s, Envoy(xds_bootstrap(mode, "default.web-01", s.xds_port)) as envoy:
        wait_until(lambda: envoy.stats("cluster_manager.cds").get("cluster_manager.cds.update_success", 0) >= 1,
                   20, 0.1, "a CDS update")
        assert cds_version(envoy) == content_version(expected)
        assert dynamic_clusters(envoy) == expected
        assert envoy.stats("cluster_manager.cds")["cluster_manager.cds.update_rejected"] == 0


def test_live_edit_invalid_edit_nack_and_restart(simple_mesh: Path, envoy_binary: str) -> None:
    policy_file = simple_mesh / "policy.yaml"
    v1 = content_version(rendered_clusters(simple_mesh))
    with serve(str(simple_mesh)) as s, Envoy(xds_bootstrap("ads", "default.web-01", s.xds_port)) as envoy:
        wait_version(envoy, v1)
        # A valid edit reaches Envoy without a restart.
        atomic_write(str(policy_file), policy(path="/ready"))
        v2 = content_version(rendered_clusters(simple_mesh))
        wait_version(envoy, v2)
        http = next(c for c in dynamic_clusters(envoy) if c["name"] == "http-svc")
        assert http["health_checks"][0]["http_health_check"]["path"] == "/ready"
        # An invalid edit: kumahc logs every error and Envoy stays on the last good version.
        mark = len(s.stderr())
        atomic_write(str(policy_file), policy(path='""'))
        s.wait_log("ERROR reload failed; keeping the last good snapshot", after=mark)
        s.wait_log("spec.to[0].default.http.path: must be defined", after=mark)
        assert cds_version(envoy) == v2
        # A cluster Envoy rejects (an event log in a directory that does not exist): NACK, not resent.
        mark = len(s.stderr())
        atomic_write(str(policy_file), policy(path="/ready", extra=", eventLogPath: /nonexistent-kumahc/hc.log"))
        rejected = content_version(rendered_clusters(simple_mesh))
        log = s.wait_log(f"version={rejected} nonce=", after=mark)
        nack_line = next(line for line in log[mark:].splitlines() if "WARNING NACK node=default.web-01" in line)
        assert "/nonexistent-kumahc/hc.log" in nack_line  # Envoy's error_detail
        wait_until(lambda: envoy.stats("cluster_manager.cds").get("cluster_manager.cds.update_rejected", 0) >= 1,
                   20, 0.1, "the rejection in Envoy's stats")
        assert 'kumahc_xds_nacks_total{api="sotw"} 1.0' in s.get("/metrics")[2].splitlines()
        (row,) = [r for r in json.loads(s.get("/status")[2])["streams"] if r["type_url"].endswith("Cluster")]
        assert (row["nacked_version"], row["acked_version"]) == (rejected, v2)
        assert "/nonexistent-kumahc/hc.log" in row["nack_message"]
        assert cds_version(envoy) == v2
        # The next valid change is delivered.
        atomic_write(str(policy_file), policy(path="/live"))
        v3 = content_version(rendered_clusters(simple_mesh))
        wait_version(envoy, v3)
        assert envoy.stats("cluster_manager.cds")["cluster_manager.cds.update_rejected"] == 1
        # kumahc restarts on the same port while Envoy stays up: Envoy reconnects and converges.
        port = s.xds_port
        assert s.stop() == 0
        atomic_write(str(policy_file), policy(path="/after-restart"))
        v4 = content_version(rendered_clusters(simple_mesh))
        with serve(str(simple_mesh), xds=f"127.0.0.1:{port}"):
            wait_version(envoy, v4, timeout=40)
            http = next(c for c in dynamic_clusters(envoy) if c["name"] == "http-svc")
            assert http["health_checks"][0]["http_health_check"]["path"] == "/after-restart"


def _host_health(envoy: Envoy, cluster: str) -> dict[int, dict]:
    return {h["address"]["socket_address"]["port_value"]: h.get("health_status", {})
            for h in envoy.host_statuses(cluster)}


def test_active_health_checks_flip_hosts(tmp_path: Path, envoy_binary: str) -> None:
    d = tmp_path / "mesh"
    d.mkdir()
    with StatusBackend() as http_a, StatusBackend() as http_b, TcpPongBackend() as tcp_a, \
            TcpPongBackend() as tcp_b, GrpcHealthBackend() as grpc_a, GrpcHealthBackend() as grpc_b:
        hosts = [("http", http_a, http_b), ("tcp", tcp_a, tcp_b), ("grpc", grpc_a, grpc_b)]
        (d / "mesh.yaml").write_text("---\n".join([WEB] + [
            dataplane(f"{proto}-{x}", f"{proto}-svc", backend.port, proto)
            for proto, a, b in hosts for x, backend in (("a", a), ("b", b))]))
        (d / "policy.yaml").write_text(policy())
        with serve(str(d)) as s:
            listener = http_listener("ingress", "http-svc")
            # The route names a cluster that only arrives over CDS: Envoy must not check it at start-up.
            listener["filter_chains"][0]["filters"][0]["typed_config"]["route_config"]["validate_clusters"] = False
            boot = xds_bootstrap("cds", "default.web-01", s.xds_port, listeners=[listener])
            with Envoy(boot) as envoy:
                clusters = {"http-svc": (http_a, http_b), "tcp-svc": (tcp_a, tcp_b), "grpc-svc": (grpc_a, grpc_b)}

                def all_healthy() -> bool:
                    return all(len(h) == 2 and all(is_healthy(x) for x in h.values())
                               for h in (_host_health(envoy, c) for c in clusters))

                wait_until(all_healthy, 30, 0.2, "every host healthy")
                # Take the second host of each cluster down: HTTP by answering 500, TCP and gRPC by stopping.
                http_b.status = 500
                tcp_b.stop()
                grpc_b.stop()

                def b_failed() -> bool:
                    for name, (a, b) in clusters.items():
                        health = _host_health(envoy, name)
                        if not (is_healthy(health[a.port]) and health[b.port].get("failed_active_health_check")):
                            return False
                    return True

                wait_until(b_failed, 30, 0.2, "the second hosts failing their active health checks")
                port = envoy.listener_port("ingress")
                before = http_b.requests("/app")
                for _ in range(20):
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/app", timeout=5) as resp:
                        assert resp.status == 200
                assert http_b.requests("/app") == before  # no request to the unhealthy host
                assert http_a.requests("/app") >= 20
                # Bring them back (same ports): every host healthy again.
                http_b.status = 200
                tcp_b.start()
                grpc_b.start()
                wait_until(all_healthy, 30, 0.2, "the second hosts healthy again")

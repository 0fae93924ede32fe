"""KongUpstreamPolicy mappings (spec 04 §4, §3, §5) in a real Envoy 1.40.

The cluster comes from the kumahc pipeline (never hand-written): a Service annotated with the policy and a
Dataplane whose inbound is a local :class:`backends.StatusBackend`, so the rendered cluster's endpoint is that
backend. Envoy routes a listener on 127.0.0.1:0 to the cluster.

* passive only (seed 004): three 500s in a row eject the host (``failed_outlier_check``), then Envoy answers 503
  itself (panic threshold 0: never route to an unhealthy host);
* active + passive: once the backend answers 200 again, the active check brings the host back.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import harness
import pytest
from backends import StatusBackend

from kumahc.pipeline import run
from kumahc.render import document

CLUSTER = "backend_default_svc_80"
LISTENER = "ingress"
PROXY = "backend-01"

PASSIVE = """\
    passive:
      healthy:
        successes: 3
      unhealthy:
        httpFailures: 3
"""

ACTIVE = """\
    active:
      type: http
      httpPath: /health
      healthy:
        interval: 1
        successes: 1
      unhealthy:
        interval: 1
        httpFailures: 1
"""


def mesh_yaml(backend_port: int, healthchecks: str) -> str:
    """Service ``default/backend`` (port 80, annotated), Dataplane ``backend-01`` serving it on
    127.0.0.1:``backend_port``, and the KongUpstreamPolicy ``backend-hc`` with ``healthchecks``."""
    return textwrap.dedent(f"""\
        apiVersion: v1
        kind: Service
        metadata:
          name: backend
          namespace: default
          annotations:
            konghq.com/upstream-policy: backend-hc
        spec:
          ports:
          - port: 80
            appProtocol: http
        ---
        type: Dataplane
        name: {PROXY}
        mesh: default
        networking:
          address: 127.0.0.1
          inbound:
          - port: {backend_port}
            tags:
              kuma.io/service: {CLUSTER}
              kuma.io/protocol: http
        ---
        apiVersion: configuration.konghq.com/v1beta1
        kind: KongUpstreamPolicy
        metadata:
          name: backend-hc
          namespace: default
        spec:
          healthchecks:
        """) + healthchecks


def rendered_cluster(tmp_path: Path, backend_port: int, healthchecks: str) -> dict[str, Any]:
    """The cluster the kumahc pipeline renders for proxy backend-01."""
    path = tmp_path / "mesh.yaml"
    path.write_text(mesh_yaml(backend_port, healthchecks), encoding="utf-8")
    doc = document(run([str(path)]), proxy=PROXY)
    (cluster,) = [c for c in doc["proxies"][0]["clusters"] if c["name"] == CLUSTER]
    return cluster


def gateway_get(port: int, path: str = "/") -> harness.Response:
    return harness.http_get(f"http://127.0.0.1:{port}{path}")


def ejected(envoy: harness.Envoy) -> bool:
    (health,) = envoy.host_health(CLUSTER)
    return bool(health.get("failed_outlier_check"))


@pytest.fixture
def backend():
    with StatusBackend() as b:
        yield b


def test_passive_ejects_after_three_5xx_and_envoy_answers_503(tmp_path: Path, backend: StatusBackend,
                                                              envoy_binary: str) -> None:
    cluster = rendered_cluster(tmp_path, backend.port, PASSIVE)
    assert cluster["outlier_detection"]["consecutive_5xx"] == 3
    assert cluster["outlier_detection"]["max_ejection_percent"] == 100
    assert cluster["common_lb_config"] == {"healthy_panic_threshold": {}}
    assert "health_checks" not in cluster
    endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
    assert endpoint == {"socket_address": {"address": "127.0.0.1", "port_value": backend.port}}

    boot = harness.bootstrap([cluster], [harness.http_listener(LISTENER, CLUSTER)])
    with harness.Envoy(boot) as envoy:
        port = envoy.listener_port(LISTENER)
        assert gateway_get(port).status == 200
        assert envoy.host_health(CLUSTER) == [{"eds_health_status": "HEALTHY"}]

        backend.status = 500
        for i in range(3):
            assert not ejected(envoy), f"ejected after {i} errors"
            assert gateway_get(port).status == 500  # the backend's own answer, passed through
        # consecutive_5xx ejects on the third error itself; the admin view may lag a request behind.
        harness.wait_until(lambda: ejected(envoy), timeout=5, what="failed_outlier_check")
        seen = backend.requests()
        for _ in range(3):
            resp = gateway_get(port)
            assert (resp.status, resp.body) == (503, "no healthy upstream")
        assert backend.requests() == seen  # Envoy answered by itself
        assert envoy.stats(f"cluster\\.{CLUSTER}\\.outlier_detection\\.ejections_enforced_consecutive_5xx")[
            f"cluster.{CLUSTER}.outlier_detection.ejections_enforced_consecutive_5xx"] == 1


def test_active_check_brings_the_host_back(tmp_path: Path, backend: StatusBackend, envoy_binary: str) -> None:
    cluster = rendered_cluster(tmp_path, backend.port, ACTIVE + PASSIVE)
    (hc,) = cluster["health_checks"]
    assert (hc["interval"], hc["no_traffic_interval"], hc["http_health_check"]["path"]) == ("1s", "1s", "/health")

    boot = harness.bootstrap([cluster], [harness.http_listener(LISTENER, CLUSTER)])
    with harness.Envoy(boot) as envoy:
        port = envoy.listener_port(LISTENER)
        harness.wait_until(lambda: backend.requests("/health") >= 1, timeout=10, what="a first probe")
        harness.wait_until(lambda: all(map(harness.is_healthy, envoy.host_health(CLUSTER))), timeout=10,
                           what="a healthy host")
        assert gateway_get(port).status == 200

        backend.status = 500
        # Traffic ejects the host (passive) unless a probe marks it unhealthy first (active): either way it goes.
        for _ in range(50):
            (health,) = envoy.host_health(CLUSTER)
            if not harness.is_healthy(health):
                break
            gateway_get(port)
        else:
            pytest.fail("the host never became unhealthy")
        assert health.get("failed_outlier_check") or health.get("failed_active_health_check"), health
        harness.wait_until(lambda: gateway_get(port).status == 503, timeout=5, what="Envoy's own 503")
        before = backend.requests("/health")

        backend.status = 200
        harness.wait_until(lambda: harness.is_healthy(envoy.host_health(CLUSTER)[0]), timeout=15,
                           what="the host to be healthy again")
        assert envoy.host_health(CLUSTER) == [{"eds_health_status": "HEALTHY"}]
        assert backend.requests("/health") > before  # brought back by probes, not by time
        # The admin view is the main thread's; workers get the new host set a moment later.
        resp = harness.wait_until(lambda: (r := gateway_get(port)).status == 200 and r, timeout=5, what="a 200")
        assert resp.body == "status 200\n"


def test_kong_examples_load_in_envoy(envoy_binary: str) -> None:
    """Every rendered cluster of examples/kong loads in Envoy (``--mode validate``; 05 §4)."""
    examples = sorted((Path(__file__).resolve().parents[2] / "examples" / "kong").glob("*.yaml"))
    assert examples
    for example in examples:
        doc = document(run([str(example)]))
        assert doc["proxies"], example.name
        # One bootstrap per proxy: two proxies may render a cluster of the same name differently (03 §5).
        for proxy in doc["proxies"]:
            code, out = harness.validate(harness.bootstrap(proxy["clusters"]))
            assert code == 0, f"{example.name} proxy {proxy['name']}: {out}"


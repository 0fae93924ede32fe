"""MeshCircuitBreaker outlier detection in a real Envoy 1.40.

The cluster comes from the kumahc pipeline (never hand-written): two Dataplanes serve ``backend`` from local
:class:`backends.StatusBackend` servers, ``web-01`` consumes it, and a MeshCircuitBreaker sets
``totalFailures.consecutive: 3``, ``interval: 1s``, ``baseEjectionTime: 2s``, ``maxEjectionPercent: 50``. Envoy
routes a listener on 127.0.0.1:0 to web-01's ``backend`` cluster:

* three 5xx in a row from one host eject it (``failed_outlier_check``, ``ejections_enforced_consecutive_5xx``);
* while it is ejected, every request goes to the other host;
* after the ejection time it is back and gets traffic again.
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

CLUSTER = "backend"
LISTENER = "egress"
STAT = f"cluster.{CLUSTER}.outlier_detection."


def mesh_yaml(ports: tuple[int, int]) -> str:
    dataplanes = "".join(textwrap.dedent(f"""\
        type: Dataplane
        name: backend-0{i}
        mesh: default
        networking:
          address: 127.0.0.1
          inbound:
          - port: {port}
            tags:
              kuma.io/service: backend
              kuma.io/protocol: http
        ---
        """) for i, port in enumerate(ports, 1))
    return dataplanes + textwrap.dedent("""\
        type: Dataplane
        name: web-01
        mesh: default
        networking:
          address: 127.0.0.1
          inbound:
          - port: 1
            tags:
              kuma.io/service: web
              kuma.io/protocol: http
          outbound:
          - tags:
              kuma.io/service: backend
        ---
        type: MeshCircuitBreaker
        name: backend-outliers
        mesh: default
        spec:
          to:
          - targetRef:
              kind: MeshService
              name: backend
            default:
              outlierDetection:
                interval: 1s
                baseEjectionTime: 2s
                maxEjectionPercent: 50
                detectors:
                  totalFailures:
                    consecutive: 3
        """)


def rendered_cluster(tmp_path: Path, ports: tuple[int, int]) -> dict[str, Any]:
    path = tmp_path / "mesh.yaml"
    path.write_text(mesh_yaml(ports), encoding="utf-8")
    doc = document(run([str(path)]), proxy="web-01")
    (cluster,) = [c for c in doc["proxies"][0]["clusters"] if c["name"] == CLUSTER]
    return cluster


def health_by_port(envoy: harness.Envoy) -> dict[int, dict[str, Any]]:
    return {int(h["address"]["socket_address"]["port_value"]): h.get("health_status", {})
            for h in envoy.host_statuses(CLUSTER)}


@pytest.fixture
def backends():
    with StatusBackend() as a, StatusBackend() as b:
        yield a, b


def test_consecutive_5xx_eject_the_host_and_it_returns(tmp_path: Path, backends: tuple[StatusBackend, StatusBackend],
                                                      envoy_binary: str) -> None:
    bad, good = backends
    cluster = rendered_cluster(tmp_path, (bad.port, good.port))
    assert cluster["outlier_detection"] == {
        "consecutive_5xx": 3, "interval": "1s", "base_ejection_time": "2s", "max_ejection_percent": 50,
        "enforcing_consecutive_5xx": 100, "enforcing_success_rate": 0, "enforcing_consecutive_gateway_failure": 0,
        "enforcing_consecutive_local_origin_failure": 0, "enforcing_local_origin_success_rate": 0,
        "enforcing_failure_percentage": 0, "enforcing_failure_percentage_local_origin": 0}
    assert cluster["circuit_breakers"] == {"thresholds": [{"track_remaining": True}]}

    boot = harness.bootstrap([cluster], [harness.http_listener(LISTENER, CLUSTER)])
    with harness.Envoy(boot) as envoy:
        port = envoy.listener_port(LISTENER)

        def get() -> int:
            return harness.http_get(f"http://127.0.0.1:{port}/").status

        for _ in range(4):
            assert get() == 200
        assert bad.requests() > 0 and good.requests() > 0  # both hosts take traffic

        bad.status = 500
        for _ in range(40):  # round robin: about every other request reaches the bad host
            if bad.requests() >= 3 + 2 and health_by_port(envoy)[bad.port].get("failed_outlier_check"):
                break
            get()
        harness.wait_until(lambda: health_by_port(envoy)[bad.port].get("failed_outlier_check"), timeout=5,
                           what="failed_outlier_check on the 5xx host")
        assert not health_by_port(envoy)[good.port].get("failed_outlier_check")
        stats = envoy.stats(r"cluster\.backend\.outlier_detection\.ejections_(enforced_consecutive_5xx|active)")
        assert stats[STAT + "ejections_enforced_consecutive_5xx"] == 1
        assert stats[STAT + "ejections_active"] == 1

        # Ejected: traffic avoids it (workers may see the ejection a moment after the admin view).
        harness.wait_until(lambda: all(get() == 200 for _ in range(4)), timeout=5, what="only 200s")
        seen = bad.requests()
        assert all(get() == 200 for _ in range(10))
        assert bad.requests() == seen

        # Back after base_ejection_time (2 s, checked at each 1 s sweep): it gets traffic again.
        bad.status = 200
        harness.wait_until(lambda: not health_by_port(envoy)[bad.port].get("failed_outlier_check"), timeout=10,
                           what="the host to return")
        harness.wait_until(lambda: get() == 200 and bad.requests() > seen, timeout=5, what="traffic to the host")
        assert envoy.stats(r"cluster\.backend\.outlier_detection\.ejections_active")[STAT + "ejections_active"] == 0

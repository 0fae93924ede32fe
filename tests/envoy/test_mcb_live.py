"""MeshCircuitBreaker outlier detection in a real Envoy 1.40.

The cluster comes from the kumahc pipeline (never hand-written): two Dataplanes serve ``backend`` from local
:class:`backends.StatusBackend` servers, ``web-01`` consumes it, and a MeshCircuitBreaker sets
``totalFailures.consecutive: 3``, ``interval: 1s``, ``maxEjectionPercent: 50`` and a ``baseEjectionTime``. Envoy
routes a listener on 127.0.0.1:0 to web-01's ``backend`` cluster:

* three 5xx in a row from one host eject it (``failed_outlier_check``, ``ejections_enforced_consecutive_5xx``);
* while it is ejected, every request goes to the other host (``baseEjectionTime: 1h``, so the ejection outlasts
  the test on any machine, and the stats show it was one ejection throughout);
* after the ejection time it is back and gets traffic again (``baseEjectionTime: 2s``; the return is waited for).
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
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


def mesh_yaml(ports: tuple[int, int], base_ejection_time: str) -> str:
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
    return dataplanes + textwrap.dedent(f"""\
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
                baseEjectionTime: {base_ejection_time}
                maxEjectionPercent: 50
                detectors:
                  totalFailures:
                    consecutive: 3
        """)


def rendered_cluster(tmp_path: Path, ports: tuple[int, int], base_ejection_time: str) -> dict[str, Any]:
    path = tmp_path / "mesh.yaml"
    path.write_text(mesh_yaml(ports, base_ejection_time), encoding="utf-8")
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


WAIT = 120  # s: generous waits for Envoy's events; how fast they come is not what is tested
ENFORCED = STAT + "ejections_enforced_consecutive_5xx"


def eject(envoy: harness.Envoy, bad: StatusBackend, get: Callable[[], int]) -> None:
    """Make ``bad`` answer 500 and send requests until Envoy ejects it (a cumulative counter: an ejection is seen
    even if it ended before it was looked at)."""
    bad.status = 500
    for _ in range(200):  # round robin: about every other request reaches the bad host (bounded count)
        if envoy.stats(r"cluster\.backend\.outlier_detection\.ejections_enforced_consecutive_5xx").get(ENFORCED):
            return
        get()
    raise AssertionError(f"no ejection after 200 requests; bad host got {bad.requests()}")


def test_consecutive_5xx_eject_the_host_and_traffic_avoids_it(tmp_path: Path, envoy_binary: str,
                                                              backends: tuple[StatusBackend, StatusBackend]) -> None:
    bad, good = backends
    cluster = rendered_cluster(tmp_path, (bad.port, good.port), "1h")
    assert cluster["outlier_detection"] == {
        "consecutive_5xx": 3, "interval": "1s", "base_ejection_time": "3600s", "max_ejection_percent": 50,
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

        eject(envoy, bad, get)
        harness.wait_until(lambda: health_by_port(envoy)[bad.port].get("failed_outlier_check"), timeout=WAIT,
                           what="failed_outlier_check on the 5xx host")
        assert not health_by_port(envoy)[good.port].get("failed_outlier_check")

        # Ejected for an hour: traffic avoids it (workers may see the ejection a moment after the admin view).
        harness.wait_until(lambda: all(get() == 200 for _ in range(4)), timeout=WAIT, what="only 200s")
        seen = bad.requests()
        assert all(get() == 200 for _ in range(10))
        assert bad.requests() == seen
        # One ejection throughout, still in force: what the requests above saw is that ejection.
        stats = envoy.stats(r"cluster\.backend\.outlier_detection\.ejections_(enforced_consecutive_5xx|active)")
        assert (stats[ENFORCED], stats[STAT + "ejections_active"]) == (1, 1)
        assert health_by_port(envoy)[bad.port].get("failed_outlier_check")


def test_ejected_host_returns_after_the_base_ejection_time(tmp_path: Path, envoy_binary: str,
                                                           backends: tuple[StatusBackend, StatusBackend]) -> None:
    bad, good = backends
    cluster = rendered_cluster(tmp_path, (bad.port, good.port), "2s")
    assert cluster["outlier_detection"]["base_ejection_time"] == "2s"
    boot = harness.bootstrap([cluster], [harness.http_listener(LISTENER, CLUSTER)])
    with harness.Envoy(boot) as envoy:
        port = envoy.listener_port(LISTENER)

        def get() -> int:
            return harness.http_get(f"http://127.0.0.1:{port}/").status

        eject(envoy, bad, get)
        seen = bad.requests()
        # Back after base_ejection_time (2 s, checked at each 1 s sweep): it gets traffic again.
        bad.status = 200
        harness.wait_until(lambda: not health_by_port(envoy)[bad.port].get("failed_outlier_check"), timeout=WAIT,
                           what="the host to return")
        harness.wait_until(lambda: get() == 200 and bad.requests() > seen, timeout=WAIT, what="traffic to the host")
        assert envoy.stats(r"cluster\.backend\.outlier_detection\.ejections_active")[STAT + "ejections_active"] == 0

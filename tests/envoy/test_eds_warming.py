"""``kumahc serve --endpoints eds`` with the real Envoy over ADS (SotW and Delta): a health-check change to an EDS
cluster becomes active at once. Envoy keeps a modified EDS cluster warming until a ClusterLoadAssignment for it
arrives; kumahc resends the assignments of the changed clusters right after the clusters, so the warming never
ends through the EDS initial fetch timeout.

The EDS fetch timeout comes from each cluster's ``eds_config`` (which kumahc renders without one: Envoy's default,
15 s), not from the bootstrap, so the test does not race it: it waits generously for the change and then asserts
that the cluster's EDS subscription never timed out (``cluster.app.init_fetch_timeout`` = 0). Without the resend
the change only becomes active through that timeout, so the test fails whatever the machine's speed.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from backends import StatusBackend
from bootstraps import xds_bootstrap
from harness import Envoy, is_healthy, wait_until
from kumahc_serve import atomic_write, dataplane, mesh_health_check, serve

WAIT = 60.0  # generous: the machine is shared; the change is expected within a second


def mesh(app_port: int, interval: str) -> str:
    """web-01 (the node) with an outbound to ``app`` (one endpoint on ``app_port``), and a MeshHealthCheck of
    ``app`` every ``interval``."""
    return "---\n".join([
        dataplane("web-01", "127.0.0.1", 1, "web", ("app",)),
        dataplane("app-a", "127.0.0.1", app_port, "app", ()),
        mesh_health_check("app-check", "{kind: MeshService, name: app}",
                          f"{{interval: {interval}, timeout: 1s, unhealthyThreshold: 1, healthyThreshold: 1, "
                          "noTrafficInterval: 1s, http: {path: /health}}"),
    ])


def active_interval(envoy: Envoy) -> str | None:
    """The health-check interval of the active cluster ``app`` in ``/config_dump`` (None before it exists)."""
    dump = envoy.admin_json("/config_dump?resource=dynamic_active_clusters")
    for entry in dump.get("configs", []):
        if entry["cluster"]["name"] == "app":
            return entry["cluster"]["health_checks"][0]["interval"]
    return None


def warming(envoy: Envoy) -> list[str]:
    """Names of the clusters in ``/config_dump``'s ``dynamic_warming_clusters``."""
    dump = envoy.admin_json("/config_dump?resource=dynamic_warming_clusters")
    return [entry["cluster"]["name"] for entry in dump.get("configs", [])]


@pytest.mark.parametrize("api", ["GRPC", "DELTA_GRPC"])
def test_health_check_change_to_eds_cluster_is_active_without_fetch_timeout(api: str, tmp_path: Path,
                                                                            envoy_binary: str) -> None:
    root = tmp_path / "mesh"
    root.mkdir()
    with StatusBackend() as backend:
        (root / "mesh.yaml").write_text(mesh(backend.port, "1s"))
        with serve(str(root), args=("--endpoints", "eds")) as s:
            boot = xds_bootstrap("ads", "default.web-01", s.xds_port)
            boot["dynamic_resources"]["ads_config"]["api_type"] = api
            with Envoy(boot) as envoy:
                wait_until(lambda: active_interval(envoy) == "1s" and not warming(envoy)
                           and all(is_healthy(h.get("health_status", {})) for h in envoy.host_statuses("app")),
                           WAIT, 0.1, "cluster app active and its host healthy")
                before = envoy.stats("cluster_manager.cds.update_success")["cluster_manager.cds.update_success"]
                written = time.monotonic()
                atomic_write(str(root / "mesh.yaml"), mesh(backend.port, "2s"))
                wait_until(lambda: active_interval(envoy) == "2s" and not warming(envoy), WAIT, 0.05,
                           "the new interval active and nothing warming")
                latency = time.monotonic() - written
                print(f"{api}: health-check change active in Envoy {latency:.2f} s after the write")
                stats = envoy.stats("cluster_manager|cluster.app.")
                assert stats["cluster_manager.cds.update_success"] > before
                assert stats["cluster_manager.warming_clusters"] == 0
                assert warming(envoy) == []
                # The warming ended with kumahc's assignment, not with Envoy giving up waiting for one.
                assert stats["cluster.app.init_fetch_timeout"] == 0, stats
                assert envoy.host_statuses("app")[0]["address"]["socket_address"]["port_value"] == backend.port

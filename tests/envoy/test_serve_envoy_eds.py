"""``kumahc serve --endpoints eds`` with the real Envoy over ADS (SotW and Delta): adding an endpoint to a
service whose hosts are healthy pushes EDS only (no CDS update, the cluster is not modified) and the hosts that
stay keep their health the whole time (read from Envoy's /clusters and /stats)."""

from __future__ import annotations

from pathlib import Path

import pytest
from backends import StatusBackend
from bootstraps import xds_bootstrap
from harness import Envoy, is_healthy, wait_until
from kumahc_serve import atomic_write, dataplane, mesh_health_check, serve

WEB = (dataplane("web-01", "127.0.0.1", 1, "web", ("app",)) + "---\n"
       + mesh_health_check("app-check", "{kind: MeshService, name: app}",
                           "{interval: 1s, timeout: 1s, unhealthyThreshold: 1, healthyThreshold: 1, "
                           "noTrafficInterval: 1s, http: {path: /health}}"))


def app(name: str, port: int) -> str:
    return dataplane(name, "127.0.0.1", port, "app", ())


def hosts(envoy: Envoy) -> dict[int, dict]:
    return {h["address"]["socket_address"]["port_value"]: h.get("health_status", {})
            for h in envoy.host_statuses("app")}


@pytest.mark.parametrize("api", ["GRPC", "DELTA_GRPC"])
def test_added_endpoint_keeps_healthy_hosts_without_cds_push(api: str, tmp_path: Path, envoy_binary: str) -> None:
    mesh = tmp_path / "mesh"
    mesh.mkdir()
    with StatusBackend() as a, StatusBackend() as b, StatusBackend() as c:
        (mesh / "web.yaml").write_text(WEB)
        (mesh / "app.yaml").write_text("---\n".join([app("app-a", a.port), app("app-b", b.port)]))
        with serve(str(mesh), args=("--endpoints", "eds")) as s:
            boot = xds_bootstrap("ads", "default.web-01", s.xds_port)
            boot["dynamic_resources"]["ads_config"]["api_type"] = api
            with Envoy(boot) as envoy:
                wait_until(lambda: len(h := hosts(envoy)) == 2 and all(is_healthy(x) for x in h.values()), 30, 0.1,
                           "both hosts healthy")
                before = envoy.stats("cluster_manager")
                eds_before = envoy.stats("cluster.app.update_success")["cluster.app.update_success"]
                assert envoy.admin_json("/config_dump?resource=dynamic_active_clusters")["configs"][0]["cluster"][
                    "type"] == "EDS"
                # A third endpoint; sample Envoy's view until it is there and healthy: a and b never leave
                # healthy on the way.
                atomic_write(str(mesh / "app.yaml"), "---\n".join([app("app-a", a.port), app("app-b", b.port),
                                                                   app("app-c", c.port)]))
                samples = 0

                def three_healthy() -> bool:
                    nonlocal samples
                    h = hosts(envoy)
                    samples += 1
                    assert is_healthy(h[a.port]) and is_healthy(h[b.port]), h
                    return len(h) == 3 and is_healthy(h[c.port])

                wait_until(three_healthy, 30, 0.05, "the third host healthy")
                assert samples >= 2
                after = envoy.stats("cluster_manager")
                for name in ("cluster_manager.cds.update_success", "cluster_manager.cluster_modified",
                             "cluster_manager.cluster_added"):
                    assert after[name] == before[name], name  # no CDS push, the cluster object stays
                assert envoy.stats("cluster.app.update_success")["cluster.app.update_success"] > eds_before
                assert c.requests("/health") >= 1  # the new host is probed
                # The hosts that stayed were not re-probed from scratch: Envoy never marked them pending.
                assert all(not hosts(envoy)[p].get("pending_active_hc") for p in (a.port, b.port))

"""The real Envoy against ``kumahc serve`` over mutual TLS (``envoy-testbed/bootstrap-ads-mtls.yaml``), with
certificates made by the test: the right certificate gets its clusters; another proxy's certificate, no
certificate and a certificate from another CA get nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from bootstraps import xds_bootstrap
from certs import CA
from harness import Envoy, wait_until
from kumahc_serve import dataplane, mesh_health_check, serve, write_mesh

from kumahc.pipeline import run
from kumahc.render import document
from kumahc.xds.snapshot import content_version

MESH = (dataplane("web-01", "127.0.0.1", 1, "web", ("backend",)) + "---\n"
        + dataplane("backend-01", "127.0.0.1", 2, "backend", ()) + "---\n"
        + mesh_health_check("checks", "{kind: Mesh}", "{interval: 10s, tcp: {}}"))


def mesh_pki(root: Path) -> tuple[Path, CA, tuple[str, ...]]:
    """``root/pki`` holding a mesh CA (``ca.crt``) and a server certificate it signed (``server.crt/.key``); the
    CA, to sign client certificates into it; serve's mTLS arguments."""
    pki = root / "pki"
    pki.mkdir()
    ca = CA("mesh-ca")
    ca.write(pki / "ca.crt")
    ca.server().write(pki / "server")
    args = ("--xds-tls-cert", str(pki / "server.crt"), "--xds-tls-key", str(pki / "server.key"),
            "--xds-client-ca", str(pki / "ca.crt"))
    return pki, ca, args


@pytest.fixture
def setup(tmp_path: Path) -> dict:
    mesh = write_mesh(tmp_path, MESH)
    pki, ca, args = mesh_pki(tmp_path)
    ca.client("default", "web-01").write(pki / "web-01")
    ca.client("default", "backend-01").write(pki / "backend-01")
    CA("other-ca").client("default", "web-01").write(pki / "foreign-web-01")
    return {"mesh": mesh, "pki": pki, "args": args}


def bootstrap(setup: dict, xds_port: int, node: str, pair: str | None) -> dict:
    pki = setup["pki"]
    boot = xds_bootstrap("ads-mtls", node, xds_port, CLIENT_CERT=str(pki / f"{pair or 'web-01'}.crt"),
                         CLIENT_KEY=str(pki / f"{pair or 'web-01'}.key"), XDS_CA=str(pki / "ca.crt"))
    # Envoy is ready only after its first CDS update or this timeout (15 s by default): refused Envoys never get
    # one, and the tests need not wait for that.
    boot["dynamic_resources"]["cds_config"]["initial_fetch_timeout"] = "1s"
    if pair is None:
        del boot["static_resources"]["clusters"][0]["transport_socket"]["typed_config"]["common_tls_context"][
            "tls_certificates"]
    return boot


def cds(envoy: Envoy) -> dict[str, int]:
    return envoy.stats("cluster_manager.cds")


def test_envoy_with_its_certificate_gets_its_clusters(setup: dict, envoy_binary: str) -> None:
    expected = document(run([str(setup["mesh"])]), "web-01")["proxies"][0]["clusters"]
    with serve(str(setup["mesh"]), args=setup["args"]) as s, \
            Envoy(bootstrap(setup, s.xds_port, "default.web-01", "web-01")) as envoy:
        wait_until(lambda: cds(envoy).get("cluster_manager.cds.update_success", 0) >= 1, 20, 0.1, "a CDS update")
        dump = envoy.admin_json("/config_dump?resource=dynamic_active_clusters")
        assert sorted((c["cluster"] for c in dump["configs"]), key=lambda c: c["name"]) == expected
        version = envoy.admin("/stats?filter=cluster_manager.cds.version_text").body
        assert content_version(expected) in version
        assert envoy.stats("cluster.xds.ssl")["cluster.xds.ssl.handshake"] >= 1


@pytest.mark.parametrize("case", ["other proxy's certificate", "no certificate", "another CA"])
def test_envoy_without_the_right_certificate_gets_nothing(case: str, setup: dict, envoy_binary: str) -> None:
    pair = {"other proxy's certificate": "backend-01", "no certificate": None, "another CA": "foreign-web-01"}[case]
    with serve(str(setup["mesh"]), args=setup["args"]) as s, \
            Envoy(bootstrap(setup, s.xds_port, "default.web-01", pair)) as envoy:
        if case == "other proxy's certificate":
            # TLS succeeds (the CA is right); kumahc refuses the node id on the stream, again on every retry.
            s.wait_log('node.id "default.web-01" is not allowed by the client certificate (it allows '
                       'default.backend-01)', timeout=60)
            wait_until(lambda: [line for line in s.get("/metrics")[2].splitlines()
                                if line.startswith("kumahc_xds_streams_denied_total ")
                                and float(line.split()[1]) >= 2], 20, 0.2, "a second refusal")
        else:
            # The TLS handshake fails: Envoy counts failed xds connections, kumahc never sees a stream.
            wait_until(lambda: envoy.stats("cluster.xds.upstream_cx_connect_fail").get(
                "cluster.xds.upstream_cx_connect_fail", 0) >= 2 or envoy.stats("cluster.xds.ssl.connection_error")
                .get("cluster.xds.ssl.connection_error", 0) >= 2, 20, 0.2, "failed TLS connections")
        stats = cds(envoy)
        assert stats.get("cluster_manager.cds.update_success", 0) == 0
        assert envoy.admin_json("/config_dump?resource=dynamic_active_clusters").get("configs", []) == []
        assert 'kumahc_xds_responses_total{api="sotw"} 0.0' in s.get("/metrics")[2].splitlines()


def test_server_certificate_rotation_reaches_new_envoys(setup: dict, envoy_binary: str) -> None:
    """Replace kumahc's certificate and key (signed by a new CA) while it runs: an Envoy that trusts only the new
    CA then gets its clusters, with no kumahc restart; the Envoy connected before keeps its stream."""
    pki = setup["pki"]
    new_ca = CA("rotated-ca")
    new_ca.write(pki / "new-ca.crt")
    rotated = new_ca.server()
    with serve(str(setup["mesh"]), args=setup["args"]) as s, \
            Envoy(bootstrap(setup, s.xds_port, "default.web-01", "web-01")) as before:
        wait_until(lambda: cds(before).get("cluster_manager.cds.update_success", 0) >= 1, 20, 0.1, "a CDS update")
        for name, data in (("server.key", rotated.key_pem), ("server.crt", rotated.cert_pem)):
            (pki / f"{name}.tmp").write_bytes(data)
            (pki / f"{name}.tmp").replace(pki / name)
        boot = bootstrap(setup, s.xds_port, "default.web-01", "web-01")
        tls = boot["static_resources"]["clusters"][0]["transport_socket"]["typed_config"]["common_tls_context"]
        tls["validation_context"]["trusted_ca"]["filename"] = str(pki / "new-ca.crt")
        with Envoy(boot) as after:
            wait_until(lambda: cds(after).get("cluster_manager.cds.update_success", 0) >= 1, 30, 0.1,
                       "a CDS update over the rotated certificate")
        s.wait_log("INFO xds TLS files reloaded: ")
        assert before.stats("control_plane.connected_state")["control_plane.connected_state"] == 1  # ADS stream

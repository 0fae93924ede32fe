"""The real Envoy over mutual TLS against ``kumahc serve`` (issue 18, item 1): a Kubernetes-style proxy name with
a dot (``web-01.kuma-demo`` of mesh default) gets its clusters with its own certificate; a certificate for mesh
``web-01`` whose SPIFFE id spells the same node id, and one whose URI SAN hides a NUL, get none of them."""

from __future__ import annotations

from pathlib import Path

from harness import Envoy, wait_until
from kumahc_serve import dataplane, mesh_health_check, serve, write_mesh
from test_serve_envoy_tls import bootstrap, cds, mesh_pki

from kumahc.pipeline import run
from kumahc.render import document
from kumahc.xds.snapshot import content_version

MESH = (dataplane("web-01.kuma-demo", "127.0.0.1", 1, "web", ("backend",)) + "---\n"
        + dataplane("backend-01", "127.0.0.1", 2, "backend", ()) + "---\n"
        + mesh_health_check("checks", "{kind: Mesh}", "{interval: 10s, tcp: {}}"))
EMPTY_VERSION = "4f53cda18c2baa0c"  # the empty cluster set (spec 06 §4)


def denied_total(s) -> float:
    for line in s.get("/metrics")[2].splitlines():
        if line.startswith("kumahc_xds_streams_denied_total "):
            return float(line.split()[1])
    raise AssertionError("kumahc_xds_streams_denied_total missing")


def test_envoy_identity_is_the_certificate_pair(tmp_path: Path, envoy_binary: str) -> None:
    mesh = write_mesh(tmp_path, MESH)
    pki, ca, args = mesh_pki(tmp_path)
    ca.client("default", "web-01.kuma-demo").write(pki / "right")
    ca.client("web-01", "kuma-demo").write(pki / "confusable")
    ca.client("x", "y", uris=["spiffe://default/dataplane/web-01.kuma-demo\x00.evil"]).write(pki / "nul")
    setup = {"pki": pki}
    expected = document(run([str(mesh)]), "web-01.kuma-demo")["proxies"][0]["clusters"]
    with serve(str(mesh), args=args) as s:
        # Confusable: spiffe://web-01/dataplane/kuma-demo spells node id web-01.kuma-demo, which a plain id
        # resolves to default/web-01.kuma-demo; the certificate names mesh web-01, which has no such proxy.
        with Envoy(bootstrap(setup, s.xds_port, "web-01.kuma-demo", "confusable")) as envoy:
            wait_until(lambda: cds(envoy).get("cluster_manager.cds.update_success", 0) >= 1, 60, 0.1,
                       "a CDS update")
            assert envoy.admin_json("/config_dump?resource=dynamic_active_clusters").get("configs", []) == []
            assert envoy.admin("/stats?filter=cluster_manager.cds.version_text").body.split(": ")[1].strip() \
                == f'"{EMPTY_VERSION}"'
        s.wait_log('WARNING unknown node "web-01.kuma-demo": the client certificate names proxy "kuma-demo" of mesh '
                   '"web-01", which does not exist; serving an empty cluster set')
        # A URI SAN with a NUL: grpc's peer_uri would hold spiffe://default/dataplane/web-01.kuma-demo; the whole
        # certificate is refused, on every retry of Envoy.
        with Envoy(bootstrap(setup, s.xds_port, "default.web-01.kuma-demo", "nul")) as envoy:
            wait_until(lambda: denied_total(s) >= 2, 60, 0.2, "two refused streams")
            assert cds(envoy).get("cluster_manager.cds.update_success", 0) == 0
            assert envoy.admin_json("/config_dump?resource=dynamic_active_clusters").get("configs", []) == []
        s.wait_log('node.id "default.web-01.kuma-demo" is not allowed by the client certificate (it allows no '
                   'node id: URI SAN "spiffe://default/dataplane/web-01.kuma-demo\\x00.evil" has a control '
                   "character)")
        # The right certificate still converges.
        with Envoy(bootstrap(setup, s.xds_port, "default.web-01.kuma-demo", "right")) as envoy:
            wait_until(lambda: cds(envoy).get("cluster_manager.cds.update_success", 0) >= 1, 60, 0.1,
                       "a CDS update")
            dump = envoy.admin_json("/config_dump?resource=dynamic_active_clusters")
            assert sorted((c["cluster"] for c in dump["configs"]), key=lambda c: c["name"]) == expected
            assert content_version(expected) in envoy.admin("/stats?filter=cluster_manager.cds.version_text").body

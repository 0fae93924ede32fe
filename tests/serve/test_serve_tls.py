"""``kumahc serve`` over mutual TLS with real grpcio clients and certificates made by the test: the client
certificate is the proxy's identity, refusals (other proxy's certificate, no certificate, another CA, plaintext),
server certificate rotation without a restart, and one-line errors for unusable files at start."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from certs import CA, Pair
from envoy.service.cluster.v3 import cds_pb2_grpc
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from helpers import file_modes_apply
from kumahc_serve import serve, web_and_backend, write_mesh

from kumahc.pipeline import run
from kumahc.render import document
from kumahc.xds.snapshot import CLUSTER_TYPE, content_version
from kumahc.xds.tls import identity_of

MESH = web_and_backend(backend_outbound=("web",))


class Pki:
    """Files of one test: kumahc's server pair, the mesh CA, proxies' pairs, and a foreign CA's pair."""

    def __init__(self, root: Path):
        self.root = root
        self.ca = CA("mesh-ca")
        self.ca_file = self.ca.write(root / "ca.crt")
        self.server_cert, self.server_key = self.ca.server().write(root / "server")
        self.web = self.ca.client("default", "web-01")
        self.backend = self.ca.client("default", "backend-01")
        self.foreign = CA("other-ca").client("default", "web-01")

    def serve_args(self) -> tuple[str, ...]:
        return ("--xds-tls-cert", str(self.server_cert), "--xds-tls-key", str(self.server_key),
                "--xds-client-ca", str(self.ca_file))


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    return write_mesh(tmp_path, MESH)


@pytest.fixture
def pki(tmp_path: Path) -> Pki:
    d = tmp_path / "pki"
    d.mkdir()
    return Pki(d)


def channel(target: str, trust: bytes, pair: Pair | None) -> grpc.aio.Channel:
    creds = grpc.ssl_channel_credentials(trust, pair.key_pem if pair else None, pair.cert_pem if pair else None)
    # The server certificate names "kumahc" (and localhost, 127.0.0.1); check the name like Envoy's sni does.
    return grpc.aio.secure_channel(target, creds, options=[("grpc.ssl_target_name_override", "kumahc")])


async def first(target: str, node: str, trust: bytes, pair: Pair | None, ads: bool = False
                ) -> discovery_pb2.DiscoveryResponse | tuple[grpc.StatusCode, str]:
    """The first response of a SotW stream for ``node``, or the (code, details) the stream ended with."""
    async with channel(target, trust, pair) as ch:
        req = discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE)
        req.node.id = node
        if ads:
            call = ads_pb2_grpc.AggregatedDiscoveryServiceStub(ch).StreamAggregatedResources(iter([req]))
        else:
            call = cds_pb2_grpc.ClusterDiscoveryServiceStub(ch).StreamClusters(iter([req]))
        try:
            resp = await asyncio.wait_for(call.read(), 60)  # a refusal ends the stream before any message
            assert resp is not grpc.aio.EOF
            return resp
        except grpc.aio.AioRpcError as exc:
            return exc.code(), exc.details() or ""
        finally:
            call.cancel()


def clusters_version(inputs: Path, proxy: str) -> str:
    return content_version(document(run([str(inputs)]), proxy)["proxies"][0]["clusters"])


def test_client_certificate_is_the_proxy_identity(inputs: Path, pki: Pki) -> None:
    with serve(str(inputs), args=pki.serve_args()) as s:
        ok = asyncio.run(first(s.xds, "default.web-01", pki.ca.pem, pki.web))
        assert isinstance(ok, discovery_pb2.DiscoveryResponse)
        assert ok.version_info == clusters_version(inputs, "web-01")
        ok_ads = asyncio.run(first(s.xds, "default.backend-01", pki.ca.pem, pki.backend, ads=True))
        assert ok_ads.version_info == clusters_version(inputs, "backend-01")
        # Another proxy's node id with web-01's certificate, and web-01's with backend-01's: PERMISSION_DENIED,
        # nothing else. The bare proxy name (mesh "default" implied) is not the certificate's id either.
        denied = 'node.id "{}" is not allowed by the client certificate (it allows {})'
        for node, pair, allows in (("default.backend-01", pki.web, "default.web-01"),
                                   ("web-01", pki.web, "default.web-01"),
                                   ("default.web-01", pki.backend, "default.backend-01")):
            assert asyncio.run(first(s.xds, node, pki.ca.pem, pair)) == (
                grpc.StatusCode.PERMISSION_DENIED, denied.format(node, allows)), node
        s.wait_log("WARNING stream denied peer=ipv4:127.0.0.1:")
        assert "kumahc_xds_streams_denied_total 3.0" in s.get("/metrics")[2].splitlines()
        # Unary fetch is checked the same way.

        async def fetch(pair: Pair, node: str) -> object:
            async with channel(s.xds, pki.ca.pem, pair) as ch:
                req = discovery_pb2.DiscoveryRequest()
                req.node.id = node
                try:
                    return (await cds_pb2_grpc.ClusterDiscoveryServiceStub(ch).FetchClusters(req, timeout=10)
                            ).version_info
                except grpc.aio.AioRpcError as exc:
                    return exc.code()

        assert asyncio.run(fetch(pki.web, "default.web-01")) == clusters_version(inputs, "web-01")
        assert asyncio.run(fetch(pki.web, "default.backend-01")) == grpc.StatusCode.PERMISSION_DENIED
        # No certificate, a certificate from another CA, plaintext: the TLS handshake fails, no stream at all.
        for pair in (None, pki.foreign):
            code, _ = asyncio.run(first(s.xds, "default.web-01", pki.ca.pem, pair))
            assert code == grpc.StatusCode.UNAVAILABLE

        async def plaintext() -> grpc.StatusCode:
            async with grpc.aio.insecure_channel(s.xds) as ch:
                req = discovery_pb2.DiscoveryRequest()
                req.node.id = "default.web-01"
                try:
                    await cds_pb2_grpc.ClusterDiscoveryServiceStub(ch).FetchClusters(req, timeout=10)
                except grpc.aio.AioRpcError as exc:
                    return exc.code()
                return grpc.StatusCode.OK

        assert asyncio.run(plaintext()) == grpc.StatusCode.UNAVAILABLE
        metrics = s.get("/metrics")[2].splitlines()
        assert 'kumahc_xds_responses_total{api="sotw"} 2.0' in metrics  # only the two allowed streams
        # grpc core's own log lines (failed handshakes) stay out of kumahc's log stream.
        for line in s.stderr().splitlines():
            assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (INFO|WARNING|ERROR) ", line), line


def test_server_only_tls_serves_any_node(inputs: Path, pki: Pki) -> None:
    """Without --xds-client-ca the connection is encrypted and any node id is served (no client certificate)."""
    args = ("--xds-tls-cert", str(pki.server_cert), "--xds-tls-key", str(pki.server_key))
    with serve(str(inputs), args=args) as s:
        resp = asyncio.run(first(s.xds, "default.backend-01", pki.ca.pem, None))
        assert resp.version_info == clusters_version(inputs, "backend-01")


def replace_file(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def test_server_certificate_rotation_is_picked_up(inputs: Path, pki: Pki) -> None:
    new_ca = CA("rotated-ca")
    rotated = new_ca.server()
    with serve(str(inputs), args=pki.serve_args()) as s:
        assert isinstance(asyncio.run(first(s.xds, "default.web-01", pki.ca.pem, pki.web)),
                          discovery_pb2.DiscoveryResponse)
        # A client that trusts only the new CA is refused until the files change.
        assert asyncio.run(first(s.xds, "default.web-01", new_ca.pem, pki.web))[0] == grpc.StatusCode.UNAVAILABLE
        # A half-done rotation (new certificate, old key) is reported and the old pair stays in use.
        mark = len(s.stderr())
        replace_file(pki.server_cert, rotated.cert_pem)
        assert isinstance(asyncio.run(first(s.xds, "default.web-01", pki.ca.pem, pki.web)),
                          discovery_pb2.DiscoveryResponse)
        s.wait_log(f"ERROR xds TLS files not reloaded (--xds-tls-key {pki.server_key}: does not match the "
                   f"certificate in --xds-tls-cert {pki.server_cert}); keeping the last good ones", after=mark)
        replace_file(pki.server_key, rotated.key_pem)
        deadline = time.monotonic() + 60
        got: object = None
        while time.monotonic() < deadline:  # the next handshake uses the new files
            got = asyncio.run(first(s.xds, "default.web-01", new_ca.pem, pki.web))
            if isinstance(got, discovery_pb2.DiscoveryResponse):
                break
            time.sleep(0.2)
        assert isinstance(got, discovery_pb2.DiscoveryResponse), got
        s.wait_log("INFO xds TLS files reloaded: ", after=mark)
        # The old CA no longer verifies the server.
        assert asyncio.run(first(s.xds, "default.web-01", pki.ca.pem, pki.web))[0] == grpc.StatusCode.UNAVAILABLE
        metrics = s.get("/metrics")[2].splitlines()
        assert 'kumahc_xds_tls_reloads_total{result="success"} 1.0' in metrics
        assert 'kumahc_xds_tls_reloads_total{result="failure"} 1.0' in metrics


def start(inputs: Path, *args: str, modes_apply: bool = False) -> subprocess.CompletedProcess:
    """``kumahc serve INPUTS ARGS`` to its exit; ``modes_apply``: run so that file modes apply even as root."""
    cmd = [sys.executable, "-c", "from kumahc.cli import main; main()", "serve", str(inputs),
           "--xds-address", "127.0.0.1:0", "--admin-address", "127.0.0.1:0", *args]
    return subprocess.run(file_modes_apply(cmd) if modes_apply else cmd, capture_output=True, text=True, timeout=60)


def test_unusable_tls_files_are_one_line_errors_at_start(inputs: Path, pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "missing.crt"
    not_pem = tmp_path / "not-pem.crt"
    not_pem.write_text("hello\n")
    other_key = tmp_path / "other.key"
    other_key.write_bytes(pki.web.key_pem)
    unreadable = tmp_path / "unreadable.key"
    unreadable.write_bytes(pki.web.key_pem)
    cert, key, ca = str(pki.server_cert), str(pki.server_key), str(pki.ca_file)
    cases = [
        (("--xds-tls-cert", str(missing), "--xds-tls-key", key),
         f"error: --xds-tls-cert {missing}: cannot read: No such file or directory"),
        (("--xds-tls-cert", cert, "--xds-tls-key", key, "--xds-client-ca", str(missing)),
         f"error: --xds-client-ca {missing}: cannot read: No such file or directory"),
        (("--xds-tls-cert", str(not_pem), "--xds-tls-key", key),
         f"error: --xds-tls-cert {not_pem}: no PEM certificate in the file"),
        (("--xds-tls-cert", cert, "--xds-tls-key", str(not_pem)),
         f"error: --xds-tls-key {not_pem}: no PEM private key in the file"),
        (("--xds-tls-cert", cert, "--xds-tls-key", str(other_key)),
         f"error: --xds-tls-key {other_key}: does not match the certificate in --xds-tls-cert {cert}"),
        (("--xds-tls-cert", cert, "--xds-tls-key", key, "--xds-client-ca", str(not_pem)),
         f"error: --xds-client-ca {not_pem}: no PEM certificate in the file"),
    ]
    for args, message in cases:
        proc = start(inputs, *args)
        assert (proc.returncode, proc.stdout, proc.stderr) == (1, "", message + "\n"), args
    unreadable.chmod(0)  # root reads any file: as root (CI), the child runs without that right
    proc = start(inputs, "--xds-tls-cert", cert, "--xds-tls-key", str(unreadable), modes_apply=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        1, "", f"error: --xds-tls-key {unreadable}: cannot read: Permission denied\n")
    for args in (("--xds-tls-cert", cert), ("--xds-tls-key", key), ("--xds-client-ca", ca)):
        proc = start(inputs, *args)
        assert proc.returncode == 2 and "Error: --xds-" in proc.stderr, args


def test_allowed_nodes_from_uri_sans() -> None:
    def allowed_nodes(uris: list[str]) -> frozenset[str]:
        return frozenset(identity_of(uris).node_ids())

    assert allowed_nodes(["spiffe://default/dataplane/web-01"]) == {"default.web-01"}
    assert allowed_nodes(["spiffe://mesh-a/dataplane/web-01.kuma-demo", "spiffe://b/dataplane/x"]) == {
        "mesh-a.web-01.kuma-demo", "b.x"}
    for uri in ("spiffe://default/web-01", "spiffe://default/dataplane/", "spiffe:///dataplane/web-01",
                "spiffe://default/dataplane/a/b", "https://default/dataplane/web-01",
                "spiffe://default/x/dataplane/web-01"):
        assert allowed_nodes([uri]) == frozenset(), uri

"""Proxy identity under mTLS (issue 18, item 1), with a real ``kumahc serve``, real grpcio clients and certificates
made by the test: a client certificate authorizes exactly the ``(mesh, proxy)`` pairs of its SPIFFE URI SANs,
never whatever a re-split of the ``<mesh>.<proxy>`` string or the mesh ``default`` fallback finds; a URI SAN with a
control character authorizes nothing; and without mTLS a node id that names two proxies is unknown."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import grpc
import pytest
from certs import CA, Pair
from cryptography import x509
from envoy.config.cluster.v3 import cluster_pb2
from envoy.service.cluster.v3 import cds_pb2_grpc
from envoy.service.discovery.v3 import discovery_pb2
from kumahc_serve import atomic_write, dataplane, serve
from test_serve_tls import channel, first

from kumahc.pipeline import run
from kumahc.xds.snapshot import CLUSTER_TYPE, build
from kumahc.xds.tls import NotAllowed, certificate_identity, identity_of, printable

EMPTY_VERSION = "4f53cda18c2baa0c"  # the empty cluster set (spec 06 §4)
NUL_SAN = "spiffe://default/dataplane/web-01\x00.evil"


def located(mesh: str, doc: str) -> str:
    return doc.replace("type: Dataplane\n", f"type: Dataplane\nmesh: {mesh}\n", 1)


def meshes(*names: str) -> str:
    return "".join(f"type: Mesh\nname: {n}\n---\n" for n in names)


# Proxy names with dots and a mesh whose name is a prefix of another's: every split of "a.b.c" is a real proxy
# once mesh a.b/proxy c exists. Each proxy has its own service, so each has its own cluster set and version.
BASE = (meshes("default", "a")
        + dataplane("web-01", "127.0.0.1", 1, "web") + "---\n"
        + dataplane("web-01.kuma-demo", "127.0.0.1", 2, "web-demo") + "---\n"
        + located("a", dataplane("b.c", "127.0.0.1", 3, "bc")))
WITH_AB = BASE + "---\n" + meshes("a.b") + located("a.b", dataplane("c", "127.0.0.1", 4, "c"))


def write(root: Path, text: str) -> Path:
    d = root / "mesh"
    d.mkdir(exist_ok=True)
    atomic_write(str(d / "mesh.yaml"), text)
    return d


def versions(d: Path) -> dict[tuple[str, str], str]:
    return {key: res.version for key, res in build(run([str(d)])).proxies.items()}


class Certs:
    """The mesh CA, kumahc's server pair, and proxies' certificates by their URI SANs."""

    def __init__(self, root: Path):
        self.ca = CA("mesh-ca")
        self.ca_file = self.ca.write(root / "ca.crt")
        self.server_cert, self.server_key = self.ca.server().write(root / "server")

    def pair(self, *uris: str) -> Pair:
        return self.ca.client("x", "y", uris=list(uris))

    def args(self) -> tuple[str, ...]:
        return ("--xds-tls-cert", str(self.server_cert), "--xds-tls-key", str(self.server_key),
                "--xds-client-ca", str(self.ca_file))


@pytest.fixture
def certs(tmp_path: Path) -> Certs:
    d = tmp_path / "pki"
    d.mkdir()
    return Certs(d)


class Session:
    """One SotW CDS stream kept open: reads responses and ACKs each, so the server pushes the next version."""

    def __init__(self, ch: grpc.aio.Channel, node: str):
        self.requests: asyncio.Queue = asyncio.Queue()
        self.node = node

        async def requests():
            while (req := await self.requests.get()) is not None:
                yield req

        first_req = discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE)
        first_req.node.id = node
        self.requests.put_nowait(first_req)
        self.call = cds_pb2_grpc.ClusterDiscoveryServiceStub(ch).StreamClusters(requests())

    async def next(self) -> discovery_pb2.DiscoveryResponse:
        resp = await asyncio.wait_for(self.call.read(), 60)
        assert resp is not grpc.aio.EOF
        self.requests.put_nowait(discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE, version_info=resp.version_info,
                                                                response_nonce=resp.nonce))
        return resp

    def close(self) -> None:
        self.requests.put_nowait(None)
        self.call.cancel()


def names(resp: discovery_pb2.DiscoveryResponse) -> list[str]:
    return sorted(cluster_pb2.Cluster.FromString(a.value).name for a in resp.resources)


def status_rows(s) -> list[dict]:
    return json.loads(s.get("/status")[2])["streams"]


def unknown(node: str, reason: str) -> str:
    return f'WARNING unknown node "{node}": {reason}; serving an empty cluster set'


async def fetch(target: str, trust: bytes, pair: Pair, node: str) -> str | tuple[grpc.StatusCode, str]:
    async with channel(target, trust, pair) as ch:
        req = discovery_pb2.DiscoveryRequest()
        req.node.id = node
        try:
            return (await cds_pb2_grpc.ClusterDiscoveryServiceStub(ch).FetchClusters(req, timeout=60)).version_info
        except grpc.aio.AioRpcError as exc:
            return exc.code(), exc.details() or ""


def test_certificate_pair_is_the_proxy_never_a_resplit_of_the_node_id(tmp_path: Path, certs: Certs) -> None:
    """The confusable ids of the issue. ``spiffe://web-01/dataplane/kuma-demo`` spells node id
    ``web-01.kuma-demo``, which without mTLS is proxy web-01.kuma-demo of mesh default: the certificate names
    mesh web-01, so it gets nothing. ``spiffe://a.b/dataplane/c`` and ``spiffe://a/dataplane/b.c`` both spell
    ``a.b.c``: each gets its own proxy, before and after a reload adds the other, whatever the longest mesh is."""
    d = write(tmp_path, BASE)
    before = versions(d)
    ab_c, a_bc, web_demo = certs.pair("spiffe://a.b/dataplane/c"), certs.pair("spiffe://a/dataplane/b.c"), \
        certs.pair("spiffe://web-01/dataplane/kuma-demo")
    with serve(str(d), args=certs.args()) as s:

        async def scenario() -> None:
            async with channel(s.xds, certs.ca.pem, ab_c) as ch1, channel(s.xds, certs.ca.pem, a_bc) as ch2, \
                    channel(s.xds, certs.ca.pem, web_demo) as ch3:
                s1, s2, s3 = Session(ch1, "a.b.c"), Session(ch2, "a.b.c"), Session(ch3, "web-01.kuma-demo")
                try:
                    # a.b/c does not exist yet: its certificate must not be served a/b.c (what "a.b.c" re-splits
                    # to). Mesh web-01 does not exist: no fallback to default/web-01.kuma-demo.
                    got = [(r.version_info, names(r)) for r in [await s1.next(), await s2.next(), await s3.next()]]
                    assert got == [(EMPTY_VERSION, []), (before[("a", "b.c")], ["bc"]), (EMPTY_VERSION, [])]
                    s.wait_log(unknown("a.b.c", 'the client certificate names proxy "c" of mesh "a.b", which does '
                                                "not exist"))
                    s.wait_log(unknown("web-01.kuma-demo", 'the client certificate names proxy "kuma-demo" of mesh '
                                                           '"web-01", which does not exist'))
                    rows = {(r["node"], r["proxy"]) for r in status_rows(s)}
                    assert rows == {("a.b.c", None), ("a.b.c", "a/b.c"), ("web-01.kuma-demo", None)}
                    # The reload adds a.b/c, the longest mesh of "a.b.c": its certificate's stream gets it, the
                    # stream of a/b.c's certificate keeps a/b.c.
                    write(tmp_path, WITH_AB)
                    after = versions(d)
                    r1 = await s1.next()
                    assert (r1.version_info, names(r1)) == (after[("a.b", "c")], ["c"])
                    rows = {(r["node"], r["proxy"], r["sent_version"]) for r in status_rows(s)}
                    assert rows == {("a.b.c", "a.b/c", after[("a.b", "c")]),
                                    ("a.b.c", "a/b.c", after[("a", "b.c")]),
                                    ("web-01.kuma-demo", None, EMPTY_VERSION)}
                finally:
                    for session in (s1, s2, s3):
                        session.close()

        asyncio.run(scenario())


def test_each_certificate_gets_its_own_pair_when_every_split_exists(tmp_path: Path, certs: Certs) -> None:
    """Mesh a.b/proxy c and mesh a/proxy b.c both exist: node id ``a.b.c`` is a.b/c for the first certificate
    and a/b.c for the second (a longest-mesh-first split gives both a.b/c), on CDS and ADS; the unary fetch too."""
    d = write(tmp_path, WITH_AB)
    v = versions(d)
    ab_c, a_bc, web_demo = certs.pair("spiffe://a.b/dataplane/c"), certs.pair("spiffe://a/dataplane/b.c"), \
        certs.pair("spiffe://web-01/dataplane/kuma-demo")
    with serve(str(d), args=certs.args()) as s:
        got = []
        for pair in (ab_c, a_bc, web_demo):
            node = "web-01.kuma-demo" if pair is web_demo else "a.b.c"
            for ads in (False, True):
                resp = asyncio.run(first(s.xds, node, certs.ca.pem, pair, ads=ads))
                got.append((resp.version_info, names(resp)))
            got.append(asyncio.run(fetch(s.xds, certs.ca.pem, pair, node)))
        ab, a = (v[("a.b", "c")], ["c"]), (v[("a", "b.c")], ["bc"])
        empty = (EMPTY_VERSION, [])
        assert got == [ab, ab, ab[0], a, a, a[0], empty, empty, EMPTY_VERSION]
        # The certificate's id is web-01.kuma-demo, not default's spelling of the proxy it may look like.
        assert asyncio.run(first(s.xds, "default.web-01.kuma-demo", certs.ca.pem, web_demo)) == (
            grpc.StatusCode.PERMISSION_DENIED, 'node.id "default.web-01.kuma-demo" is not allowed by the client '
            "certificate (it allows web-01.kuma-demo)")
        assert "kumahc_xds_streams_denied_total 1.0" in s.get("/metrics")[2].splitlines()


def test_denials_name_the_reason(tmp_path: Path, certs: Certs) -> None:
    """Exact PERMISSION_DENIED messages: a URI SAN with a NUL (grpc's own ``peer_uri`` holds only the part before
    it, which names a real proxy) or another control character refuses the whole certificate; several SANs
    spelling the same node id refuse that id; nothing is served on any of these streams."""
    d = write(tmp_path, WITH_AB)
    nul = certs.pair(NUL_SAN)
    crlf = certs.pair("spiffe://default/dataplane/web-01", "spiffe://x/dataplane/y\r\nforged: line")
    both = certs.pair("spiffe://a.b/dataplane/c", "spiffe://a/dataplane/b.c")
    nul_refused = ('(it allows no node id: URI SAN "spiffe://default/dataplane/web-01\\x00.evil" has a control '
                   "character)")
    cases = [
        (nul, "default.web-01", f'node.id "default.web-01" is not allowed by the client certificate {nul_refused}'),
        (nul, "default.web-01\x00.evil",
         f'node.id "default.web-01\\x00.evil" is not allowed by the client certificate {nul_refused}'),
        (crlf, "default.web-01", 'node.id "default.web-01" is not allowed by the client certificate (it allows no '
                                 'node id: URI SAN "spiffe://x/dataplane/y\\r\\nforged: line" has a control '
                                 "character)"),
        (both, "a.b.c", 'node.id "a.b.c" is not allowed by the client certificate: it names more than one of its '
                        "proxies (a/b.c, a.b/c)"),
    ]
    with serve(str(d), args=certs.args()) as s:
        got, expected = [], []
        for pair, node, message in cases:
            got += [asyncio.run(first(s.xds, node, certs.ca.pem, pair, ads=ads)) for ads in (False, True)]
            got.append(asyncio.run(fetch(s.xds, certs.ca.pem, pair, node)))
            expected += [(grpc.StatusCode.PERMISSION_DENIED, message)] * 3
        assert got == expected
        s.wait_log("WARNING stream denied peer=ipv4:127.0.0.1:")
        metrics = s.get("/metrics")[2].splitlines()
        assert f"kumahc_xds_streams_denied_total {3.0 * len(cases)}" in metrics
        assert 'kumahc_xds_responses_total{api="sotw"} 0.0' in metrics
        # Each denial is one log line: the certificate's control characters are escaped, not written.
        log = s.stderr()
        assert "\x00" not in log and "\r" not in log
        assert not [line for line in log.splitlines() if line.startswith("forged")]
        denied = [line for line in log.splitlines() if " WARNING stream denied " in line]
        assert len(denied) == 2 * len(cases)  # the streams (SotW CDS and ADS); unary fetches are not logged
        assert denied[0].endswith(f"service=cds: {cases[0][2]}")


def test_plain_node_id_naming_two_proxies_is_unknown(tmp_path: Path) -> None:
    """Without mTLS the 06 §3 rule stays (longest mesh first, then mesh default), but an id that names two
    proxies is served neither: an empty set, a log line that names both, the unknown-nodes gauge."""
    d = write(tmp_path, WITH_AB)
    v = versions(d)
    with serve(str(d)) as s:

        async def scenario() -> None:
            async with grpc.aio.insecure_channel(s.xds) as ch:
                ambiguous = Session(ch, "a.b.c")
                try:
                    r = await ambiguous.next()
                    assert (r.version_info, names(r)) == (EMPTY_VERSION, [])
                    s.wait_log(unknown("a.b.c", "it names more than one proxy (a.b/c, a/b.c)"))
                    assert "kumahc_unknown_nodes 1.0" in s.get("/metrics")[2].splitlines()
                    assert [(r["node"], r["proxy"]) for r in status_rows(s)] == [("a.b.c", None)]
                finally:
                    ambiguous.close()

        asyncio.run(scenario())

        async def one(node: str) -> discovery_pb2.DiscoveryResponse:
            async with grpc.aio.insecure_channel(s.xds) as ch:
                session = Session(ch, node)
                try:
                    return await session.next()
                finally:
                    session.close()

        # Ids that name one proxy resolve as before, the mesh default fallback included.
        for node, key in (("web-01.kuma-demo", ("default", "web-01.kuma-demo")),
                          ("default.web-01.kuma-demo", ("default", "web-01.kuma-demo")),
                          ("web-01", ("default", "web-01")), ("a.b.c.d", None)):
            assert asyncio.run(one(node)).version_info == (v[key] if key else EMPTY_VERSION), node


def test_identity_read_from_the_certificate() -> None:
    """The SAN parsing itself: pairs, not strings; every C0 control and DEL refuses the certificate; a
    certificate without SANs, with only DNS SANs, or that does not parse authorizes nothing."""
    ca = CA("unit-ca")
    got = certificate_identity(ca.client("x", "y", uris=["spiffe://a.b/dataplane/c", "spiffe://a/dataplane/b.c",
                                                          "https://example.com/x"]).cert_pem)
    assert (got.pairs, got.refused) == (frozenset({("a.b", "c"), ("a", "b.c")}), None)
    assert got.node_ids() == ["a.b.c"]
    with pytest.raises(NotAllowed, match=r"^node.id \"a.b.c\" is not allowed by the client certificate: it names "
                                         r"more than one of its proxies \(a/b.c, a.b/c\)$"):
        got.authorize("a.b.c")
    assert identity_of(["spiffe://a.b/dataplane/c"]).authorize("a.b.c") == ("a.b", "c")
    assert identity_of(["spiffe://a/dataplane/b.c"]).authorize("a.b.c") == ("a", "b.c")
    for c in [chr(i) for i in range(0x20)] + ["\x7f"]:
        uri = f"spiffe://default/dataplane/web{c}01"
        refused = identity_of(["spiffe://default/dataplane/web-01", uri])
        assert (refused.pairs, refused.refused) == (frozenset(), f'URI SAN "{printable(uri)}" has a control '
                                                                 "character"), repr(c)
    assert identity_of(["spiffe://default/dataplane/web-01\u00e9"]).pairs == {("default", "web-01\u00e9")}
    dns_only = ca._issue("dns", [x509.DNSName("web-01")], x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH)
    assert certificate_identity(dns_only.cert_pem) == identity_of([])
    broken = certificate_identity(b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    assert broken.pairs == frozenset() and broken.refused.startswith("the client certificate cannot be read (")
    assert printable('a"b\\c\x00\n\u00e9') == 'a\\"b\\\\c\\x00\\n\\xe9'

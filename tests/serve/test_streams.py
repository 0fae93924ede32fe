"""The SotW and Delta state machines against the walk-through of spec 06 §5 and the rules of 06 §6."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from envoy.service.discovery.v3 import discovery_pb2
from google.rpc import status_pb2

from kumahc.pipeline import run
from kumahc.xds import snapshot as snapshots
from kumahc.xds.streams import ADS, CDS, DELTA, SOTW, Stream, StreamError
from kumahc.xds.tls import ClientIdentity

CLUSTER = snapshots.CLUSTER_TYPE


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple] = []

    def sent(self, api: str) -> None:
        self.events.append(("sent", api))

    def acked(self, api: str, node: str, type_url: str, version: str, nonce: str, seconds: float) -> None:
        assert 0 <= seconds < 60
        self.events.append(("ack", api))

    def nacked(self, api: str, node: str, type_url: str, version: str, nonce: str, message: str) -> None:
        self.events.append(("nack", version, nonce, message))

    def unknown_node(self, node: str, unknown: bool, reason: str = "") -> None:
        self.events.append(("unknown", node, unknown))


def mesh(tmp_path: Path, interval: str) -> snapshots.Snapshot:
    """A snapshot whose web-01 clusters differ only by the health-check interval (its own dir per call)."""
    tmp_path = tmp_path / interval
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "mesh.yaml").write_text(f"""\
type: Dataplane
name: web-01
networking:
  address: 10.0.0.1
  inbound: [{{port: 20000, tags: {{kuma.io/service: web, kuma.io/protocol: http}}}}]
  outbound: [{{tags: {{kuma.io/service: backend}}}}]
---
type: Dataplane
name: backend-01
networking:
  address: 10.0.0.2
  inbound: [{{port: 20001, tags: {{kuma.io/service: backend, kuma.io/protocol: http}}}}]
  outbound: []
---
type: MeshHealthCheck
name: hc
spec:
  to: [{{targetRef: {{kind: Mesh}}, default: {{interval: {interval}, http: {{}}}}}}]
""")
    return snapshots.build(run([str(tmp_path / "mesh.yaml")]))


def sotw(version: str = "", nonce: str = "", node: str = "", error: str | None = None,
         type_url: str = "") -> discovery_pb2.DiscoveryRequest:
    req = discovery_pb2.DiscoveryRequest(version_info=version, response_nonce=nonce, type_url=type_url)
    if node:
        req.node.id = node
    if error is not None:
        req.error_detail.CopyFrom(status_pb2.Status(code=3, message=error))
    return req


def parse(data: bytes) -> discovery_pb2.DiscoveryResponse:
    return discovery_pb2.DiscoveryResponse.FromString(data)


def test_sotw_walkthrough_of_spec_06_5(tmp_path: Path) -> None:
    s1, s2, s3 = mesh(tmp_path, "1s"), mesh(tmp_path, "2s"), mesh(tmp_path, "3s")
    s2b = mesh(tmp_path / "again", "2s")  # rebuilt from the same inputs: same version
    v1, v2, v3 = (s.proxies[("default", "web-01")].version for s in (s1, s2, s3))
    hooks = Recorder()
    st = Stream(SOTW, CDS, s1, hooks)
    # 1: fresh Envoy → every cluster at V1, nonce 1
    (r,) = st.on_request(sotw(node="default.web-01"))
    r = parse(r)
    assert (r.version_info, r.nonce, [a.type_url for a in r.resources]) == (v1, "1", [CLUSTER])
    assert r.control_plane.identifier.startswith("kumahc/")
    # 2: ACK
    assert st.on_request(sotw(v1, "1")) == []
    # 3: inputs change → V2, nonce 2
    (r,) = st.on_snapshot(s2)
    assert (parse(r).version_info, parse(r).nonce) == (v2, "2")
    # 4: NACK of V2 → nothing sent, logged with the rejected version
    assert st.on_request(sotw(v1, "2", error="bad cluster")) == []
    assert ("nack", v2, "2", "bad cluster") in hooks.events
    # 5: inputs change, web-01 still V2 → nothing (the rejected version is never resent)
    assert st.on_snapshot(s2b) == []
    # 6: V3 → sent, nonce 3
    (r,) = st.on_snapshot(s3)
    assert (parse(r).version_info, parse(r).nonce) == (v3, "3")
    # 7: late answer with nonce 2 → stale, ignored
    assert st.on_request(sotw(v1, "2")) == []
    # 8: ACK of V3
    assert st.on_request(sotw(v3, "3")) == []
    assert [e for e in hooks.events if e[0] in ("ack", "nack")] == [("ack", "sotw"), ("nack", v2, "2", "bad cluster"),
                                                                     ("ack", "sotw")]
    assert st.watches[CLUSTER].status.acked_version == v3


def test_sotw_one_response_in_flight_and_reconnect(tmp_path: Path) -> None:
    s1, s2 = mesh(tmp_path, "1s"), mesh(tmp_path, "2s")
    v1, v2 = (s.proxies[("default", "web-01")].version for s in (s1, s2))
    st = Stream(SOTW, CDS, s1, Recorder())
    st.on_request(sotw(node="default.web-01"))
    assert st.on_snapshot(s2) == []  # waiting for the ACK of nonce 1
    (r,) = st.on_request(sotw(v1, "1"))  # the ACK releases the pending change
    assert parse(r).version_info == v2
    # A reconnecting Envoy that already holds the current version gets nothing until something changes.
    again = Stream(SOTW, CDS, s2, Recorder())
    assert again.on_request(sotw(v2, node="web-01")) == []
    (r,) = again.on_snapshot(s1)
    assert parse(r).version_info == v1


def test_unknown_node_and_type_urls(tmp_path: Path) -> None:
    snap = mesh(tmp_path, "1s")
    hooks = Recorder()
    st = Stream(SOTW, CDS, snap, hooks)
    (r,) = st.on_request(sotw(node="nobody"))
    assert (parse(r).version_info, list(parse(r).resources)) == ("4f53cda18c2baa0c", [])
    assert hooks.events[0] == ("unknown", "nobody", True)
    with pytest.raises(StreamError, match='unsupported type_url "type.googleapis.com/x"'):
        Stream(SOTW, CDS, snap, hooks).on_request(sotw(node="a", type_url="type.googleapis.com/x"))
    with pytest.raises(StreamError, match="node.id is required"):
        Stream(SOTW, CDS, snap, hooks).on_request(sotw())
    with pytest.raises(StreamError, match="type_url is required"):
        Stream(SOTW, ADS, snap, hooks).on_request(sotw(node="a"))
    ads = Stream(SOTW, ADS, snap, hooks)
    listeners = "type.googleapis.com/envoy.config.listener.v3.Listener"
    (r,) = ads.on_request(sotw(node="default.web-01", type_url=listeners))
    assert (parse(r).type_url, list(parse(r).resources)) == (listeners, [])


def test_node_resolution_prefers_longest_mesh() -> None:
    snap = snapshots.Snapshot({("a.b", "c"): snapshots.EMPTY, ("a", "b.c"): snapshots.EMPTY,
                               ("default", "web-01.kuma-demo"): snapshots.EMPTY}, ("a.b", "a", "default"), {}, None)
    # "a.b.c" names two proxies: refused (unknown) rather than served the longest mesh's (tests/serve/test_identity.py)
    assert snap.resolve("a.b.c") is None
    assert snap.candidates("a.b.c") == [("a.b", "c"), ("a", "b.c")]
    assert snap.resolve("default.web-01.kuma-demo") == ("default", "web-01.kuma-demo")
    assert snap.resolve("web-01.kuma-demo") == ("default", "web-01.kuma-demo")
    assert snap.resolve("zzz") is None


def delta(node: str = "", nonce: str = "", initial: dict | None = None,
          error: str | None = None) -> discovery_pb2.DeltaDiscoveryRequest:
    req = discovery_pb2.DeltaDiscoveryRequest(response_nonce=nonce, initial_resource_versions=initial or {})
    if node:
        req.node.id = node
    if error is not None:
        req.error_detail.CopyFrom(status_pb2.Status(code=3, message=error))
    return req


def test_delta_diff_removed_and_nack(tmp_path: Path) -> None:
    s1, s2 = mesh(tmp_path, "1s"), mesh(tmp_path, "2s")
    res1 = s1.proxies[("default", "web-01")]
    hooks = Recorder()
    st = Stream(DELTA, CDS, s1, hooks)
    (r,) = st.on_request(delta(node="default.web-01", initial={"gone": "x"}))
    r = discovery_pb2.DeltaDiscoveryResponse.FromString(r)
    assert [(x.name, x.version) for x in r.resources] == [("backend", res1.versions["backend"])]
    assert list(r.removed_resources) == ["gone"]
    assert r.system_version_info == res1.version
    assert st.on_request(delta(nonce="1")) == []  # ACK
    (r,) = st.on_snapshot(s2)
    assert [x.name for x in discovery_pb2.DeltaDiscoveryResponse.FromString(r).resources] == ["backend"]
    assert st.on_request(delta(nonce="2", error="no")) == []  # NACK: not resent
    assert st.on_snapshot(s2) == []
    assert hooks.events.count(("ack", "delta")) == 1
    # A client that already holds everything still gets a first (empty) response.
    fresh = Stream(DELTA, CDS, s2, Recorder())
    (r,) = fresh.on_request(delta(node="web-01", initial=dict(s2.proxies[("default", "web-01")].versions)))
    r = discovery_pb2.DeltaDiscoveryResponse.FromString(r)
    assert (list(r.resources), list(r.removed_resources)) == ([], [])


def test_stream_before_the_first_snapshot_answers_with_it(tmp_path: Path) -> None:
    """Bind first: a stream may start before anything is loaded; its requests are taken and the first snapshot
    is its first response."""
    snap = mesh(tmp_path, "1s")
    st = Stream(SOTW, CDS, None, Recorder())
    assert st.on_request(sotw(node="default.web-01")) == []
    (r,) = st.on_snapshot(snap)
    assert (parse(r).version_info, parse(r).nonce) == (snap.proxies[("default", "web-01")].version, "1")


def test_node_ids_not_allowed_by_the_certificate_are_denied(tmp_path: Path) -> None:
    snap = mesh(tmp_path, "1s")
    allowed = ClientIdentity(frozenset({("default", "web-01")}))
    for node in ("default.backend-01", "web-01"):
        with pytest.raises(StreamError) as err:
            Stream(SOTW, CDS, snap, Recorder(), allowed).on_request(sotw(node=node))
        assert err.value.code == grpc.StatusCode.PERMISSION_DENIED
        assert err.value.message == (f'node.id "{node}" is not allowed by the client certificate (it allows '
                                     "default.web-01)")
    with pytest.raises(StreamError, match=r"\(it allows no node id\)"):
        Stream(DELTA, ADS, snap, Recorder(), ClientIdentity(frozenset())).on_request(delta(node="default.web-01"))
    (r,) = Stream(SOTW, CDS, snap, Recorder(), allowed).on_request(sotw(node="default.web-01"))
    assert parse(r).version_info == snap.proxies[("default", "web-01")].version

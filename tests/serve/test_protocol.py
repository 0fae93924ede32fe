"""The xDS protocol points a strict client and a real Envoy found (Envoy's xds_protocol.rst): assignments resent
after a cluster change with EDS, spontaneous Delta subscriptions, named SotW CDS subscriptions, undecodable
requests. First the :class:`Stream` state machines alone, then raw grpc clients against a real ``serve``."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import grpc
import pytest
from envoy.config.cluster.v3 import cluster_pb2
from envoy.service.discovery.v3 import discovery_pb2
from kumahc_serve import atomic_write, serve

from kumahc.pipeline import run
from kumahc.xds import snapshot as snapshots
from kumahc.xds.streams import ADS, CDS, DELTA, SOTW, Stream

CLUSTER = snapshots.CLUSTER_TYPE
ENDPOINT = snapshots.ENDPOINT_TYPE
KEY = ("default", "web-01")


def mesh_text(interval: str, backends: int = 1) -> str:
    """web-01 with outbounds backend (``backends`` endpoints) and db; a MeshHealthCheck every ``interval``."""
    docs = ["""type: Dataplane
name: web-01
networking:
  address: 10.0.0.1
  inbound: [{port: 20000, tags: {kuma.io/service: web, kuma.io/protocol: http}}]
  outbound: [{tags: {kuma.io/service: backend}}, {tags: {kuma.io/service: db}}]
""", """type: Dataplane
name: db-01
networking:
  address: 10.0.0.9
  inbound: [{port: 5432, tags: {kuma.io/service: db, kuma.io/protocol: tcp}}]
  outbound: []
"""]
    docs += [f"""type: Dataplane
name: backend-0{i}
networking:
  address: 10.0.1.{i}
  inbound: [{{port: 20001, tags: {{kuma.io/service: backend, kuma.io/protocol: http}}}}]
  outbound: []
""" for i in range(1, backends + 1)]
    docs.append(f"""type: MeshHealthCheck
name: hc
spec:
  to: [{{targetRef: {{kind: MeshService, name: backend}}, default: {{interval: {interval}, http: {{path: /health}}}}}}]
""")
    return "---\n".join(docs)


def snapshot(tmp_path: Path, interval: str, backends: int = 1, endpoints: str = "eds") -> snapshots.Snapshot:
    d = tmp_path / f"{interval}-{backends}-{endpoints}"
    d.mkdir(parents=True)
    (d / "mesh.yaml").write_text(mesh_text(interval, backends))
    return snapshots.build(run([str(d / "mesh.yaml")]), endpoints=endpoints)


class Hooks:
    def __init__(self) -> None:
        self.acks = 0

    def sent(self, api: str) -> None: ...
    def acked(self, *args: object) -> None:
        self.acks += 1

    def nacked(self, *args: object) -> None: ...
    def unknown_node(self, node: str, unknown: bool) -> None: ...


def sotw_req(type_url: str, version: str = "", nonce: str = "", names: tuple[str, ...] = (),
             node: str = "") -> discovery_pb2.DiscoveryRequest:
    req = discovery_pb2.DiscoveryRequest(type_url=type_url, version_info=version, response_nonce=nonce,
                                         resource_names=names)
    if node:
        req.node.id = node
    return req


def delta_req(type_url: str, nonce: str = "", subscribe: tuple[str, ...] = (),
              node: str = "") -> discovery_pb2.DeltaDiscoveryRequest:
    req = discovery_pb2.DeltaDiscoveryRequest(type_url=type_url, response_nonce=nonce,
                                              resource_names_subscribe=subscribe)
    if node:
        req.node.id = node
    return req


def sotw(data: bytes) -> discovery_pb2.DiscoveryResponse:
    return discovery_pb2.DiscoveryResponse.FromString(data)


def delta(data: bytes) -> discovery_pb2.DeltaDiscoveryResponse:
    return discovery_pb2.DeltaDiscoveryResponse.FromString(data)


def intervals(resp: discovery_pb2.DiscoveryResponse) -> dict[str, list[int]]:
    """Cluster name → the intervals (seconds) of its health checks."""
    clusters = [cluster_pb2.Cluster.FromString(a.value) for a in resp.resources]
    return {c.name: [h.interval.seconds for h in c.health_checks] for c in clusters}


def sotw_ads_settled(snap: snapshots.Snapshot) -> tuple[Stream, discovery_pb2.DiscoveryResponse]:
    """A SotW ADS stream of web-01 that got and ACKed its clusters and its assignments (as Envoy does)."""
    st = Stream(SOTW, ADS, snap, Hooks())
    c = sotw(st.on_request(sotw_req(CLUSTER, node="default.web-01"))[0])
    assert st.on_request(sotw_req(CLUSTER, c.version_info, c.nonce)) == []
    (e,) = st.on_request(sotw_req(ENDPOINT, names=("backend", "db")))
    e = sotw(e)
    assert st.on_request(sotw_req(ENDPOINT, e.version_info, e.nonce, ("backend", "db"))) == []
    return st, e


# --- assignments follow a cluster change (EDS) -----------------------------------------------------------------

def test_sotw_cluster_change_is_followed_by_the_assignments(tmp_path: Path) -> None:
    s1, s2 = snapshot(tmp_path, "5s"), snapshot(tmp_path, "7s")
    assert s1.endpoints[KEY].version == s2.endpoints[KEY].version  # only the health check changes
    st, e = sotw_ads_settled(s1)
    c2, e2 = (sotw(r) for r in st.on_snapshot(s2))
    assert (c2.type_url, c2.version_info, c2.nonce) == (CLUSTER, s2.proxies[KEY].version, "3")
    assert intervals(c2) == {"backend": [7], "db": []}
    # The same assignments again, with a new nonce, right after the clusters.
    assert (e2.type_url, e2.version_info, e2.nonce) == (ENDPOINT, e.version_info, "4")
    assert list(e2.resources) == list(e.resources)
    # Envoy answers the clusters, then asks for EDS again with the nonce it last had (now stale): nothing more.
    assert st.on_request(sotw_req(CLUSTER, c2.version_info, c2.nonce)) == []
    assert st.on_request(sotw_req(ENDPOINT, e.version_info, e.nonce, ("backend", "db"))) == []
    assert st.on_request(sotw_req(ENDPOINT, e2.version_info, e2.nonce, ("backend", "db"))) == []
    assert st.on_snapshot(s2) == []


def test_sotw_assignment_resend_waits_for_the_pending_ack(tmp_path: Path) -> None:
    s1, s3 = snapshot(tmp_path, "5s"), snapshot(tmp_path, "5s", backends=2)
    s3h = snapshot(tmp_path, "7s", backends=2)
    st, _ = sotw_ads_settled(s1)
    (e,) = st.on_snapshot(s3)  # an endpoint change: EDS only, not acknowledged yet
    assert (sotw(e).type_url, sotw(e).nonce) == (ENDPOINT, "3")
    (c,) = st.on_snapshot(s3h)  # a cluster change while the assignments are in flight: clusters now
    assert (sotw(c).type_url, sotw(c).nonce) == (CLUSTER, "4")
    (e2,) = st.on_request(sotw_req(ENDPOINT, sotw(e).version_info, "3", ("backend", "db")))  # ACK → resend
    assert (sotw(e2).type_url, sotw(e2).version_info, sotw(e2).nonce) == (ENDPOINT, sotw(e).version_info, "5")


def test_delta_cluster_change_is_followed_by_the_modified_assignments(tmp_path: Path) -> None:
    s1, s2 = snapshot(tmp_path, "5s"), snapshot(tmp_path, "7s")
    st = Stream(DELTA, ADS, s1, Hooks())
    (c,) = st.on_request(delta_req(CLUSTER, node="default.web-01"))
    assert st.on_request(delta_req(CLUSTER, delta(c).nonce)) == []
    (e,) = st.on_request(delta_req(ENDPOINT, subscribe=("backend", "db")))
    assert st.on_request(delta_req(ENDPOINT, delta(e).nonce)) == []
    c2, e2 = (delta(r) for r in st.on_snapshot(s2))
    assert (c2.type_url, [r.name for r in c2.resources], c2.nonce) == (CLUSTER, ["backend"], "3")  # db: no check
    assert (e2.type_url, [r.name for r in e2.resources], e2.nonce) == (ENDPOINT, ["backend"], "4")
    (backend,) = [r for r in delta(e).resources if r.name == "backend"]
    assert e2.resources[0] == backend  # the same assignment, same version
    assert st.on_request(delta_req(ENDPOINT, e2.nonce)) == []


def test_static_endpoints_cluster_change_sends_clusters_only(tmp_path: Path) -> None:
    s1, s2 = snapshot(tmp_path, "5s", endpoints="static"), snapshot(tmp_path, "7s", endpoints="static")
    st = Stream(SOTW, ADS, s1, Hooks())
    c = sotw(st.on_request(sotw_req(CLUSTER, node="default.web-01"))[0])
    st.on_request(sotw_req(CLUSTER, c.version_info, c.nonce))
    e = sotw(st.on_request(sotw_req(ENDPOINT, names=("x",)))[0])
    st.on_request(sotw_req(ENDPOINT, e.version_info, e.nonce, ("x",)))
    assert [sotw(r).type_url for r in st.on_snapshot(s2)] == [CLUSTER]


# --- spontaneous Delta subscriptions, named SotW CDS subscriptions ---------------------------------------------

def test_delta_spontaneous_subscription_is_answered(tmp_path: Path) -> None:
    snap = snapshot(tmp_path, "5s")
    hooks = Hooks()
    st = Stream(DELTA, ADS, snap, hooks)
    (c,) = st.on_request(delta_req(CLUSTER, node="default.web-01"))
    st.on_request(delta_req(CLUSTER, delta(c).nonce))
    (e,) = st.on_request(delta_req(ENDPOINT, subscribe=("backend",)))
    st.on_request(delta_req(ENDPOINT, delta(e).nonce))
    acks = hooks.acks
    # No response_nonce: a spontaneous request (xds_protocol.rst) subscribing db. It is answered with db (sent
    # again: the first response held every assignment of the proxy), and it counts as no ACK.
    (r,) = st.on_request(delta_req(ENDPOINT, subscribe=("db",)))
    r = delta(r)
    assert (r.type_url, [x.name for x in r.resources], r.nonce) == (ENDPOINT, ["db"], "3")
    assert hooks.acks == acks
    # The same for a cluster named on a Delta CDS stream.
    cds = Stream(DELTA, CDS, snap, Hooks())
    (c,) = cds.on_request(delta_req(CLUSTER, node="default.web-01"))
    assert cds.on_request(delta_req(CLUSTER, delta(c).nonce)) == []
    (r,) = cds.on_request(delta_req(CLUSTER, subscribe=("db",)))
    assert [x.name for x in delta(r).resources] == ["db"]


def test_sotw_cds_named_subscription_change_is_answered_at_the_same_version(tmp_path: Path) -> None:
    snap = snapshot(tmp_path, "5s", endpoints="static")
    st = Stream(SOTW, CDS, snap, Hooks())
    (c,) = st.on_request(sotw_req(CLUSTER, names=("backend",), node="default.web-01"))
    c = sotw(c)
    assert st.on_request(sotw_req(CLUSTER, c.version_info, c.nonce, ("backend",))) == []
    (r,) = st.on_request(sotw_req(CLUSTER, c.version_info, c.nonce, ("backend", "db")))
    r = sotw(r)
    assert (r.version_info, r.nonce) == (c.version_info, "2")
    assert [cluster_pb2.Cluster.FromString(a.value).name for a in r.resources] == ["backend", "db"]
    # The same names again (an ACK): nothing.
    assert st.on_request(sotw_req(CLUSTER, r.version_info, r.nonce, ("db", "backend"))) == []


# --- raw grpc clients against a real ``serve`` -----------------------------------------------------------------

READ = 60.0  # generous: the machine is shared
BAD = b"\x0a\x05ab"  # field 1 claims 5 bytes, 2 follow: no DiscoveryRequest nor DeltaDiscoveryRequest
METHODS = {
    "StreamClusters": ("/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters", SOTW, CDS),
    "DeltaClusters": ("/envoy.service.cluster.v3.ClusterDiscoveryService/DeltaClusters", DELTA, CDS),
    "StreamAggregatedResources": ("/envoy.service.discovery.v3.AggregatedDiscoveryService/"
                                  "StreamAggregatedResources", SOTW, ADS),
    "DeltaAggregatedResources": ("/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources",
                                 DELTA, ADS),
}


class Client:
    """One raw bidirectional xDS stream: requests are bytes (so a test may send anything), responses are parsed."""

    def __init__(self, channel: grpc.aio.Channel, method: str):
        path, self.api, _ = METHODS[method]
        self.queue: asyncio.Queue = asyncio.Queue()
        parse = discovery_pb2.DiscoveryResponse if self.api == SOTW else discovery_pb2.DeltaDiscoveryResponse

        async def requests():
            while (item := await self.queue.get()) is not None:
                yield item

        self.call = channel.stream_stream(path, request_serializer=lambda b: b,
                                          response_deserializer=parse.FromString)(requests())

    def send(self, req: bytes | discovery_pb2.DiscoveryRequest | discovery_pb2.DeltaDiscoveryRequest) -> None:
        self.queue.put_nowait(req if isinstance(req, bytes) else req.SerializeToString())

    async def read(self):
        return await asyncio.wait_for(self.call.read(), READ)

    def close(self) -> None:
        self.queue.put_nowait(None)
        self.call.cancel()


async def with_client(target: str, method: str, steps) -> object:
    async with grpc.aio.insecure_channel(target) as channel:
        client = Client(channel, method)
        try:
            return await steps(client)
        finally:
            client.close()


@pytest.fixture
def eds_mesh(tmp_path: Path) -> Path:
    d = tmp_path / "mesh"
    d.mkdir()
    (d / "mesh.yaml").write_text(mesh_text("5s"))
    return d


def test_undecodable_requests_end_the_stream_with_invalid_argument(eds_mesh: Path) -> None:
    async def first_bad(client: Client) -> tuple:
        client.send(BAD)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await client.read()
        return err.value.code(), err.value.details()

    async def later_bad(client: Client) -> tuple:
        client.send(sotw_req(CLUSTER, node="default.web-01"))
        first = await client.read()
        client.send(BAD)
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await client.read()
        return first.type_url, err.value.code(), err.value.details()

    async def fetch_bad(target: str) -> tuple:
        async with grpc.aio.insecure_channel(target) as channel:
            fetch = channel.unary_unary("/envoy.service.cluster.v3.ClusterDiscoveryService/FetchClusters",
                                        request_serializer=lambda b: b)
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await asyncio.wait_for(fetch(BAD), READ)
            return err.value.code(), err.value.details()

    with serve(str(eds_mesh), args=("--endpoints", "eds")) as s:
        expected = []
        for method, (_, api, service) in METHODS.items():
            kind = "DiscoveryRequest" if api == SOTW else "DeltaDiscoveryRequest"
            message = f"request is not a valid envoy.service.discovery.v3.{kind} (4 bytes)"
            mark = len(s.stderr())
            assert asyncio.run(with_client(s.xds, method, first_bad)) == (grpc.StatusCode.INVALID_ARGUMENT, message)
            s.wait_log(f"WARNING undecodable request node=- api={api} service={service} peer=", after=mark)
            expected.append(("-", api, service, message))
        message = "request is not a valid envoy.service.discovery.v3.DiscoveryRequest (4 bytes)"
        mark = len(s.stderr())
        assert asyncio.run(with_client(s.xds, "StreamAggregatedResources", later_bad)) == (
            CLUSTER, grpc.StatusCode.INVALID_ARGUMENT, message)
        s.wait_log("INFO stream closed node=default.web-01 api=sotw service=ads peer=", after=mark)
        expected.append(("default.web-01", "sotw", "ads", message))
        mark = len(s.stderr())
        assert asyncio.run(fetch_bad(s.xds)) == (grpc.StatusCode.INVALID_ARGUMENT, message)
        s.wait_log("WARNING undecodable request node=- api=sotw service=cds", after=mark)
        expected.append(("-", "sotw", "cds", message))
        # One WARNING line per bad request, nothing from grpc, no traceback.
        found = re.findall(r"^.*WARNING undecodable request node=(\S+) api=(\S+) service=(\S+) peer=\S+: (.*)$",
                           s.stderr(), re.M)
        assert found == expected
        assert "Traceback" not in s.stderr() and "deserializ" not in s.stderr()


@pytest.mark.parametrize("method", ["StreamAggregatedResources", "DeltaAggregatedResources"])
def test_cluster_change_is_followed_by_the_assignments_on_the_stream(method: str, eds_mesh: Path) -> None:
    async def steps(client: Client) -> tuple:
        sotw_api = client.api == SOTW
        names = ("backend", "db")
        if sotw_api:
            client.send(sotw_req(CLUSTER, node="default.web-01"))
            c = await client.read()
            client.send(sotw_req(CLUSTER, c.version_info, c.nonce))
            client.send(sotw_req(ENDPOINT, names=names))
            e = await client.read()
            client.send(sotw_req(ENDPOINT, e.version_info, e.nonce, names))
        else:
            client.send(delta_req(CLUSTER, node="default.web-01"))
            c = await client.read()
            client.send(delta_req(CLUSTER, c.nonce))
            client.send(delta_req(ENDPOINT, subscribe=names))
            e = await client.read()
            client.send(delta_req(ENDPOINT, e.nonce))
        await asyncio.sleep(0.5)  # let the ACKs arrive first (not needed for the result: a resend waits for them)
        atomic_write(str(eds_mesh / "mesh.yaml"), mesh_text("7s"))
        c2 = await client.read()
        e2 = await client.read()
        return e, c2, e2

    with serve(str(eds_mesh), args=("--endpoints", "eds")) as s:
        e, c2, e2 = asyncio.run(with_client(s.xds, method, steps))
    assert (c2.type_url, e2.type_url) == (CLUSTER, ENDPOINT)  # the assignments follow the clusters
    assert int(e2.nonce) == int(c2.nonce) + 1
    if method == "StreamAggregatedResources":
        assert intervals(c2) == {"backend": [7], "db": []}
        assert (e2.version_info, list(e2.resources)) == (e.version_info, list(e.resources))
    else:
        assert [r.name for r in c2.resources] == ["backend"]
        assert list(e2.resources) == [r for r in e.resources if r.name == "backend"]
        assert e2.system_version_info == e.system_version_info


def test_spontaneous_delta_subscription_and_named_sotw_cds_over_grpc(eds_mesh: Path) -> None:
    async def spontaneous(client: Client) -> list[str]:
        client.send(delta_req(CLUSTER, node="default.web-01"))
        c = await client.read()
        client.send(delta_req(CLUSTER, c.nonce))
        client.send(delta_req(ENDPOINT, subscribe=("backend",)))
        e = await client.read()
        client.send(delta_req(ENDPOINT, e.nonce))
        client.send(delta_req(ENDPOINT, subscribe=("db",)))  # no response_nonce
        r = await client.read()
        return [r.type_url, r.nonce, *(x.name for x in r.resources)]

    async def named(client: Client) -> tuple:
        client.send(sotw_req(CLUSTER, names=("backend",), node="default.web-01"))
        c = await client.read()
        client.send(sotw_req(CLUSTER, c.version_info, c.nonce, ("backend",)))
        client.send(sotw_req(CLUSTER, c.version_info, c.nonce, ("backend", "db")))
        r = await client.read()
        return c.version_info, r.version_info, r.nonce, sorted(intervals(r))

    with serve(str(eds_mesh), args=("--endpoints", "eds")) as s:
        assert asyncio.run(with_client(s.xds, "DeltaAggregatedResources", spontaneous)) == [ENDPOINT, "3", "db"]
        v1, v2, nonce, names = asyncio.run(with_client(s.xds, "StreamClusters", named))
        assert (v2, nonce, names) == (v1, "2", ["backend", "db"])

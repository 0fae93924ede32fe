"""``serve --render connected`` (the default): only connected proxies' clusters are built, and what a proxy is served
is exactly what ``--render all`` serves it: the same versions and the same response bytes."""

from __future__ import annotations

import asyncio
import json
import random
import time
from pathlib import Path

import grpc
import pytest
from envoy.service.cluster.v3 import cds_pb2_grpc
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from kumahc_serve import WEB_ONLY, atomic_write, backend_http_check, serve, web_and_backend, write_mesh

from bench.generator import apply_edit, generate
from kumahc.pipeline import LazyClusters, RunCache, run
from kumahc.render import document, to_json
from kumahc.xds import snapshot as snapshots
from kumahc.xds.connected import Connected
from kumahc.xds.materialize import snapshot_of
from kumahc.xds.streams import ADS, DELTA, SOTW, Stream

WAIT = 120  # s: generous waits for events on a loaded machine; nothing here measures time


class Hooks:
    def sent(self, api: str) -> None: ...
    def acked(self, *args: object) -> None: ...
    def nacked(self, *args: object) -> None: ...
    def unknown_node(self, node: str, unknown: bool, reason: str = "") -> None: ...


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bench's ``small`` mesh: 50 proxies, MeshHealthChecks, legacy HealthChecks and Kong policies."""
    root = tmp_path_factory.mktemp("small")
    generate(root, "small", seed=5)
    return root


def same_resources(a: snapshots.ProxyResources, b: snapshots.ProxyResources) -> None:
    assert a.version == b.version
    assert a.names == b.names
    assert a.versions == b.versions
    assert a.delta_entries == b.delta_entries
    assert a.sotw("7") == b.sotw("7")


def assert_served_alike(lazy: snapshots.Snapshot, eager: snapshots.Snapshot, keys: set) -> None:
    """Every materialized proxy of ``lazy`` (exactly ``keys``) has eager's resources, byte for byte."""
    assert set(lazy.proxies) == keys
    for key in keys:
        same_resources(lazy.proxies[key], eager.proxies[key])
        if eager.mode == "eds":
            same_resources(lazy.endpoints[key], eager.endpoints[key])


@pytest.mark.parametrize("endpoints", ["static", "eds"])
def test_materialized_proxies_get_exactly_the_eager_resources(small: Path, endpoints: str) -> None:
    eager = snapshots.build(run([str(small)]), None, endpoints)
    result = run([str(small)], lazy=True)
    assert isinstance(result.clusters, LazyClusters)
    empty, warned = snapshot_of(result, None, endpoints, ())
    assert (empty.proxies, warned) == ({}, [])
    assert empty.lazy and set(empty.names) == set(eager.proxies)
    assert empty.cluster_count == eager.cluster_count  # one cluster per destination, built or not
    keys = sorted(eager.proxies)
    random.Random(3).shuffle(keys)
    first = set(keys[:7])
    snap, _ = snapshot_of(result, empty, endpoints, first)
    assert_served_alike(snap, eager, first)
    # A later batch builds on the snapshot before it: the proxies already built keep their very resources.
    more, _ = snapshot_of(result, snap, endpoints, set(keys))
    assert all(more.proxies[k] is snap.proxies[k] for k in first)
    assert_served_alike(more, eager, set(keys))
    # Dropping proxies leaves the others as they were.
    fewer, _ = snapshot_of(result, more, endpoints, set(keys[7:]))
    assert_served_alike(fewer, eager, set(keys[7:]))
    assert fewer.materialized(None) and not fewer.materialized(keys[0]) and fewer.materialized(keys[-1])
    assert fewer.materialized(("default", "no-such-proxy"))  # an unknown node is served the empty set at once


def test_the_document_of_a_lazy_snapshot_is_the_whole_render_document(small: Path) -> None:
    eager = run([str(small)])
    snap, _ = snapshot_of(run([str(small)], lazy=True), None, "static", {sorted(eager.clusters)[0]})
    assert to_json(snap.document) == to_json(document(eager))
    assert len(snap.proxies) == 1  # the walk built every proxy for the document and kept none


def test_reloads_keep_connected_proxies_current(tmp_path: Path) -> None:
    """Edits reloaded lazily (one RunCache, as serve keeps it) give the connected proxies what a fresh eager render
    of the edited inputs gives them."""
    root = tmp_path / "edited"
    manifest = generate(root, "small", seed=5)
    cache = RunCache()
    first = run([str(root)], cache=cache, lazy=True)
    keys = set(sorted(run([str(root)]).clusters)[::3])
    snap, _ = snapshot_of(first, None, "static", keys)
    for edit in (manifest.edit_one, manifest.edit_mesh):
        apply_edit(root, edit)
        snap, _ = snapshot_of(run([str(root)], cache=cache, lazy=True), snap, "static", keys)
        assert_served_alike(snap, snapshots.build(run([str(root)])), keys)


def test_a_stream_waits_for_its_proxy_then_gets_the_eager_response(small: Path) -> None:
    async def scenario() -> None:
        eager = snapshots.build(run([str(small)]))
        key = sorted(eager.proxies)[4]
        node = f"{key[0]}.{key[1]}"
        result = run([str(small)], lazy=True)
        empty, _ = snapshot_of(result, None, "static", ())
        connected = Connected(grace=3600)
        for api, service in ((SOTW, ADS), (DELTA, ADS)):
            want = Stream(api, service, eager, Hooks())
            stream = Stream(api, service, empty, Hooks(), connected=connected)
            req = (discovery_pb2.DiscoveryRequest if api == SOTW else discovery_pb2.DeltaDiscoveryRequest)(
                type_url=snapshots.CLUSTER_TYPE)
            req.node.id = node
            expected = want.on_request(req)
            assert stream.on_request(req) == [] and stream.pending
            assert connected.wanted == {key} and connected.streams == {key: 1}
            wanted, gone = connected.take()
            snap, _ = snapshot_of(result, empty, "static", wanted)
            assert stream.on_snapshot(snap) == expected
            assert not stream.pending
            stream.close()
            assert connected.streams == {} and key in connected.leaving
        connected.close()

    asyncio.run(scenario())


def test_a_proxy_is_dropped_after_the_grace_period_unless_it_reconnects() -> None:
    async def scenario() -> None:
        connected = Connected(grace=0.01)
        key = ("default", "web-01")
        connected.attach(key)
        connected.detach(key)
        connected.attach(key)  # reconnected within the grace period: kept
        await asyncio.sleep(0.05)
        assert (connected.gone, connected.keys()) == (set(), {key})
        connected.detach(key)
        await asyncio.wait_for(connected.wake.wait(), WAIT)
        assert connected.take() == (set(), {key})
        assert connected.keys() == set()

    asyncio.run(scenario())


# --- a real serve process ------------------------------------------------------------------------------------------

MESH = web_and_backend(web_labels="{app: web}")


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    return write_mesh(tmp_path, MESH, backend_http_check("10s", WEB_ONLY))


async def first_responses(target: str, node: str) -> list[bytes]:
    """The first Cluster response to ``node`` over CDS SotW, ADS SotW and ADS Delta, serialized."""
    out = []
    async with grpc.aio.insecure_channel(target) as channel:
        req = discovery_pb2.DiscoveryRequest(type_url=snapshots.CLUSTER_TYPE)
        req.node.id = node
        delta = discovery_pb2.DeltaDiscoveryRequest(type_url=snapshots.CLUSTER_TYPE)
        delta.node.id = node
        ads = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel)
        for call in (cds_pb2_grpc.ClusterDiscoveryServiceStub(channel).StreamClusters(iter([req])),
                     ads.StreamAggregatedResources(iter([req])), ads.DeltaAggregatedResources(iter([delta]))):
            try:
                out.append((await asyncio.wait_for(call.read(), WAIT)).SerializeToString())
            finally:
                call.cancel()
        fetched = await cds_pb2_grpc.ClusterDiscoveryServiceStub(channel).FetchClusters(req, timeout=WAIT)
        out.append(fetched.SerializeToString())
    return out


def status(s) -> dict:
    return json.loads(s.get("/status")[2])


def wait_for(check, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def test_lazy_serve_serves_what_eager_serve_serves(inputs: Path) -> None:
    with serve(str(inputs), args=("--render", "all")) as eager, serve(str(inputs)) as lazy:
        assert status(lazy)["render"] == "connected" and status(eager)["render"] == "all"
        assert (status(lazy)["proxies"], status(lazy)["materialized"]) == (2, [])
        assert status(eager)["materialized"] == ["default/backend-01", "default/web-01"]
        assert lazy.get("/config_dump")[2] == eager.get("/config_dump")[2]
        assert lazy.get("/config_dump?materialized=true")[2] == to_json({"proxies": []})
        for node in ("default.web-01", "backend-01", "default.nope"):
            assert asyncio.run(first_responses(lazy.xds, node)) == asyncio.run(first_responses(eager.xds, node))
        assert status(lazy)["materialized"] == ["default/backend-01", "default/web-01"]
        assert "kumahc_snapshot_materialized_proxies 2.0" in lazy.get("/metrics")[2].splitlines()
        web = json.loads(lazy.get("/config_dump?materialized=true&proxy=web-01")[2])
        assert web == json.loads(eager.get("/config_dump?proxy=web-01")[2])
        # An edit: the materialized proxies are rebuilt, and a proxy connecting later gets the new state too.
        marks = len(eager.stderr()), len(lazy.stderr())
        atomic_write(str(inputs / "policy.yaml"), backend_http_check("7s", WEB_ONLY))
        eager.wait_log("INFO reloaded: 2 proxies, 3 clusters", after=marks[0], timeout=WAIT)
        lazy.wait_log("INFO reloaded: 2 proxies, 3 clusters", after=marks[1], timeout=WAIT)
        for node in ("default.web-01", "default.backend-01"):
            assert asyncio.run(first_responses(lazy.xds, node)) == asyncio.run(first_responses(eager.xds, node))


def test_a_proxy_without_streams_is_dropped_after_the_grace_period(inputs: Path) -> None:
    with serve(str(inputs), args=("--render-grace", "0.2")) as s:
        asyncio.run(first_responses(s.xds, "default.web-01"))
        # Every stream is closed: after the grace period nothing stays built.
        wait_for(lambda: status(s)["materialized"] == [], "web-01 dropped after the grace period")
        assert "kumahc_snapshot_materialized_proxies 0.0" in s.get("/metrics")[2].splitlines()
        assert "kumahc_snapshot_clusters 3.0" in s.get("/metrics")[2].splitlines()
        # It comes back when it reconnects, and stays while its stream is open.
        assert asyncio.run(held_open(s, "default.web-01")) == ["default/web-01"]


async def held_open(s, node: str) -> list[str]:
    """``/status``'s materialized proxies while a stream of ``node`` is open (after its first response)."""
    async with grpc.aio.insecure_channel(s.xds) as channel:
        queue: asyncio.Queue = asyncio.Queue()

        async def requests():
            while (req := await queue.get()) is not None:
                yield req

        req = discovery_pb2.DiscoveryRequest(type_url=snapshots.CLUSTER_TYPE)
        req.node.id = node
        queue.put_nowait(req)
        call = cds_pb2_grpc.ClusterDiscoveryServiceStub(channel).StreamClusters(requests())
        try:
            await asyncio.wait_for(call.read(), WAIT)
            return (await asyncio.to_thread(status, s))["materialized"]
        finally:
            queue.put_nowait(None)
            call.cancel()

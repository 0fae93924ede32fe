"""A replica under ``serve --render connected`` reads the stored parts of its connected proxies only (and, on a
commit, only the changed ones among them), and serves them byte for byte as a replica reading every part does."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import grpc
from envoy.service.cluster.v3 import cds_pb2_grpc
from envoy.service.discovery.v3 import discovery_pb2
from kumahc_serve import serve
from test_store_cli import UNIVERSAL, kumahc, write

from bench.generator import apply_edit, generate
from kumahc.pipeline import Options
from kumahc.sources.store import connection
from kumahc.sources.store.rendered import DIGEST_BYTES, Stored
from kumahc.sources.store.replica import Replica
from kumahc.xds import snapshot as snapshots

WAIT = 120  # s: generous waits for events on a loaded machine


def eager(store: str) -> snapshots.Snapshot:
    out = Replica(store, Options()).produce()
    assert isinstance(out, Stored) and out.names is None
    return snapshots.from_parts(snapshots.Parts(out.clusters, out.proxies))


def lazy(stored: Stored | object, previous: snapshots.Snapshot | None = None) -> snapshots.Snapshot:
    assert isinstance(stored, Stored) and stored.names is not None, "the replica did not read connected parts"
    return snapshots.from_parts(snapshots.Parts(stored.clusters, stored.proxies, stored.names), previous)


def referenced(stored: Stored) -> set[bytes]:
    return {ks[i:i + DIGEST_BYTES] for _, ks in stored.proxies.values() for i in range(0, len(ks), DIGEST_BYTES)}


def assert_served_alike(part: snapshots.Snapshot, whole: snapshots.Snapshot, keys: set) -> None:
    assert set(part.proxies) == keys
    assert dict(part.known) == {k: r.clusters for k, r in whole.proxies.items()}
    assert part.cluster_count == whole.cluster_count and part.meshes == whole.meshes
    for key in keys:
        x, y = part.proxies[key], whole.proxies[key]
        assert (x.version, x.names, x.versions, x.delta_entries, x.sotw("3")) == (
            y.version, y.names, y.versions, y.delta_entries, y.sotw("3")), key


def catch_up(store: str, replica: Replica) -> bool:
    async def go() -> bool:
        async with await connection.connect_async(store) as conn:
            return await replica.catch_up(conn)

    return asyncio.run(go())


def test_a_replica_reading_connected_parts_serves_what_one_reading_all_serves(store: str, tmp_path: Path) -> None:
    manifest = generate(tmp_path / "mesh", "small", seed=4)
    assert kumahc("apply", "-f", str(tmp_path / "mesh"), "--store", store).code == 0
    whole = eager(store)
    replica = Replica(store, Options(), lazy=True)
    first = replica.produce(set())
    assert isinstance(first, Stored) and (first.proxies, first.clusters) == ({}, {})
    snap = lazy(first)
    assert snap.lazy and snap.proxies == {} and set(snap.names) == set(whole.proxies)
    keys = sorted(whole.proxies)
    random.Random(2).shuffle(keys)
    some = set(keys[:6])
    held = replica.produce(some)
    assert isinstance(held, Stored) and set(held.clusters) == referenced(held)  # nothing beyond what they use
    part = lazy(held, snap)
    assert_served_alike(part, whole, some)
    assert len(held.clusters) < len(Replica(store, Options()).produce().clusters)

    # Commits: the replica reads what changed among its proxies, and serves the new state as a full read does.
    for edit in (manifest.edit_one, manifest.edit_mesh):
        apply_edit(tmp_path / "mesh", edit)
        assert kumahc("apply", "-f", str(tmp_path / "mesh"), "--store", store).code == 0
        assert catch_up(store, replica) is True
        held = replica.produce(some)
        assert set(held.clusters) == referenced(held)
        part = lazy(held, part)
        assert_served_alike(part, eager(store), some)


def test_a_deleted_proxy_leaves_what_the_replica_holds(store: str) -> None:
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    replica = Replica(store, Options(), lazy=True)
    keys = {("default", "web-01"), ("default", "db-01")}
    held = replica.produce(keys)
    assert isinstance(held, Stored) and set(held.proxies) == keys
    assert kumahc("delete", "dataplane", "db-01", "--mesh", "default", "--store", store).code == 0
    assert catch_up(store, replica) is True
    held = replica.produce(keys)
    assert ("default", "db-01") not in held.names and set(held.proxies) == {("default", "web-01")}
    assert set(held.clusters) == referenced(held)
    assert_served_alike(lazy(held), eager(store), {("default", "web-01")})


async def first_response(target: str, node: str) -> bytes:
    async with grpc.aio.insecure_channel(target) as channel:
        req = discovery_pb2.DiscoveryRequest(type_url=snapshots.CLUSTER_TYPE)
        req.node.id = node
        call = cds_pb2_grpc.ClusterDiscoveryServiceStub(channel).StreamClusters(iter([req]))
        try:
            return (await asyncio.wait_for(call.read(), WAIT)).SerializeToString()
        finally:
            call.cancel()


def test_serve_store_reads_connected_parts_and_serves_the_same_bytes(store: str, tmp_path: Path) -> None:
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    with serve(args=("--store", store)) as part, serve(args=("--store", store, "--render", "all")) as every:
        assert json.loads(part.get("/status")[2])["materialized"] == []
        assert part.get("/config_dump")[2] == every.get("/config_dump")[2]
        for node in ("default.web-01", "default.backend-01", "default.nope"):
            assert asyncio.run(first_response(part.xds, node)) == asyncio.run(first_response(every.xds, node))
        assert json.loads(part.get("/status")[2])["materialized"] == ["default/backend-01", "default/web-01"]
        assert "serving the clusters the store's writer rendered" in part.stderr()
        edited = Path(UNIVERSAL).read_text().replace("interval: 5s", "interval: 7s")
        marks = len(part.stderr()), len(every.stderr())
        assert kumahc("apply", "-f", write(tmp_path, "e.yaml", edited), "--store", store).code == 0
        part.wait_log("INFO reloaded: ", after=marks[0], timeout=WAIT)
        every.wait_log("INFO reloaded: ", after=marks[1], timeout=WAIT)
        for node in ("default.web-01", "default.backend-01"):
            assert asyncio.run(first_response(part.xds, node)) == asyncio.run(first_response(every.xds, node))

"""Metrics of ``kumahc serve`` no other test moves (docs/serve.md): ``kumahc_unknown_nodes`` following a connected
node whose Dataplane a reload removes and brings back, and the ``api="delta"`` series of a Delta ADS stream
(responses, ACK, NACK). Real serve process, real grpc.aio clients over loopback."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
from envoy.service.cluster.v3 import cds_pb2_grpc
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from kumahc_serve import (
    WEB_ONLY,
    ServeProcess,
    atomic_write,
    backend_http_check,
    dataplane,
    serve,
    web_and_backend,
    write_mesh,
)

from kumahc.xds.snapshot import CLUSTER_TYPE

MESH = web_and_backend(web_labels="{app: web}")
BACKEND_ONLY = dataplane("backend-01", "10.0.0.2", 20001, "backend")
WAIT = 120.0  # seconds: a generous bound for each awaited event on a loaded machine


def metric_lines(s: ServeProcess) -> list[str]:
    return s.get("/metrics")[2].splitlines()


def wait_metric(s: ServeProcess, line: str) -> None:
    """Wait until ``/metrics`` has exactly ``line``."""
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if line in metric_lines(s):
            return
        time.sleep(0.05)
    raise AssertionError(f"{line!r} not in /metrics within {WAIT}s:\n" + "\n".join(
        m for m in metric_lines(s) if m.startswith("kumahc_")))


class Session:
    """One open xDS stream: requests go through a queue, responses are read with :meth:`read`."""

    def __init__(self, call, queue: asyncio.Queue) -> None:
        self.call = call
        self.queue = queue

    async def read(self):
        return await asyncio.wait_for(self.call.read(), WAIT)

    def send(self, req) -> None:
        self.queue.put_nowait(req)


async def open_stream(channel: grpc.aio.Channel, delta: bool, node: str) -> Session:
    queue: asyncio.Queue = asyncio.Queue()

    async def requests():
        while (req := await queue.get()) is not None:
            yield req

    if delta:
        call = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel).DeltaAggregatedResources(requests())
        first = discovery_pb2.DeltaDiscoveryRequest(type_url=CLUSTER_TYPE)
    else:
        call = cds_pb2_grpc.ClusterDiscoveryServiceStub(channel).StreamClusters(requests())
        first = discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE)
    first.node.id = node
    queue.put_nowait(first)
    return Session(call, queue)


def test_unknown_nodes_follows_a_removed_and_restored_dataplane(tmp_path: Path) -> None:
    inputs = write_mesh(tmp_path, MESH, backend_http_check("10s", WEB_ONLY))
    mesh = str(inputs / "mesh.yaml")

    async def go(s: ServeProcess) -> list[discovery_pb2.DiscoveryResponse]:
        async with grpc.aio.insecure_channel(s.xds) as channel:
            stream = await open_stream(channel, delta=False, node="default.web-01")
            try:
                got = [await stream.read()]
                stream.send(discovery_pb2.DiscoveryRequest(version_info=got[-1].version_info,
                                                           response_nonce=got[-1].nonce, type_url=CLUSTER_TYPE))
                await asyncio.to_thread(wait_metric, s, 'kumahc_xds_acks_total{api="sotw"} 1.0')
                assert "kumahc_unknown_nodes 0.0" in metric_lines(s)

                # web-01's Dataplane is removed: the open stream's node resolves to no proxy.
                mark = len(s.stderr())
                atomic_write(mesh, BACKEND_ONLY)
                got.append(await stream.read())
                await asyncio.to_thread(wait_metric, s, "kumahc_unknown_nodes 1.0")
                await asyncio.to_thread(s.wait_log, 'WARNING unknown node "default.web-01": serving an empty '
                                        "cluster set", WAIT, mark)
                stream.send(discovery_pb2.DiscoveryRequest(version_info=got[-1].version_info,
                                                           response_nonce=got[-1].nonce, type_url=CLUSTER_TYPE))

                # It comes back: known again.
                atomic_write(mesh, MESH)
                got.append(await stream.read())
                await asyncio.to_thread(wait_metric, s, "kumahc_unknown_nodes 0.0")
                return got
            finally:
                stream.send(None)
                stream.call.cancel()

    with serve(str(inputs), timeout=WAIT) as s:
        first, empty, back = asyncio.run(go(s))
        assert [r.type_url for r in first.resources] == [CLUSTER_TYPE]
        assert (empty.version_info, list(empty.resources)) == ("4f53cda18c2baa0c", [])
        assert back.version_info == first.version_info and len(back.resources) == 1
        # The stream closed: nothing counts as unknown.
        wait_metric(s, 'kumahc_xds_streams{api="sotw"} 0.0')
        assert "kumahc_unknown_nodes 0.0" in metric_lines(s)


def test_delta_stream_metrics(tmp_path: Path) -> None:
    inputs = write_mesh(tmp_path, MESH, backend_http_check("10s", WEB_ONLY))

    async def go(s: ServeProcess) -> list[discovery_pb2.DeltaDiscoveryResponse]:
        async with grpc.aio.insecure_channel(s.xds) as channel:
            stream = await open_stream(channel, delta=True, node="default.web-01")
            try:
                got = [await stream.read()]
                stream.send(discovery_pb2.DeltaDiscoveryRequest(type_url=CLUSTER_TYPE, response_nonce=got[-1].nonce))
                await asyncio.to_thread(wait_metric, s, 'kumahc_xds_acks_total{api="delta"} 1.0')

                atomic_write(str(inputs / "policy.yaml"), backend_http_check("3s", WEB_ONLY))
                got.append(await stream.read())
                nack = discovery_pb2.DeltaDiscoveryRequest(type_url=CLUSTER_TYPE, response_nonce=got[-1].nonce)
                nack.error_detail.message = "rejected for the test"
                stream.send(nack)
                await asyncio.to_thread(wait_metric, s, 'kumahc_xds_nacks_total{api="delta"} 1.0')
                lines = metric_lines(s)
                for line in ('kumahc_xds_streams{api="delta"} 1.0', 'kumahc_xds_responses_total{api="delta"} 2.0',
                             'kumahc_xds_acks_total{api="delta"} 1.0', 'kumahc_xds_ack_latency_seconds_count{'
                             'api="delta"} 1.0',
                             'kumahc_xds_streams{api="sotw"} 0.0', 'kumahc_xds_responses_total{api="sotw"} 0.0'):
                    assert line in lines, line
                assert not [line for line in lines if "default.web-01" in line]  # node ids are no metric labels
                return got
            finally:
                stream.send(None)
                stream.call.cancel()

    with serve(str(inputs), timeout=WAIT) as s:
        first, second = asyncio.run(go(s))
        assert [(r.name, r.resource.type_url) for r in first.resources] == [("backend", CLUSTER_TYPE)]
        assert [r.name for r in second.resources] == ["backend"]
        assert (first.nonce, second.nonce) == ("1", "2")
        s.wait_log(f"WARNING NACK node=default.web-01 type={CLUSTER_TYPE} version={second.system_version_info} "
                   "nonce=2: rejected for the test", WAIT)
        wait_metric(s, 'kumahc_xds_streams{api="delta"} 0.0')

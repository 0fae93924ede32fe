"""The operator surface of ``kumahc serve``: log formats and levels (stream open/close, ACK at DEBUG, NACK with
Envoy's error_detail), and the operator metrics (build info, process, last success, stale snapshot)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import grpc
from envoy.service.cluster.v3 import cds_pb2_grpc
from envoy.service.discovery.v3 import discovery_pb2
from harness import wait_until
from kumahc_serve import atomic_write, backend_http_check, serve, web_and_backend, write_mesh

from kumahc import __version__
from kumahc.xds.snapshot import CLUSTER_TYPE

MESH = web_and_backend()


def inputs(tmp_path: Path) -> Path:
    return write_mesh(tmp_path, MESH, backend_http_check("10s"))


async def counted(s, line: str) -> None:
    """Wait (generously) until ``/metrics`` shows ``line``: the server has handled what it counts."""
    deadline = time.monotonic() + 120
    while line not in (await asyncio.to_thread(s.get, "/metrics"))[2].splitlines():
        assert time.monotonic() < deadline, f"{line} not in /metrics"
        await asyncio.sleep(0.05)


async def ack_then_nack(s, node: str) -> str:
    """First response ACKed; then the stream is closed by the client. A second stream NACKs its first response.
    Each stream is closed only once the server has counted its reply. Returns the version sent."""
    async with grpc.aio.insecure_channel(s.xds) as channel:
        stub = cds_pb2_grpc.ClusterDiscoveryServiceStub(channel)
        for nack in (False, True):
            queue: asyncio.Queue = asyncio.Queue()

            async def requests(q: asyncio.Queue = queue):
                while (req := await q.get()) is not None:
                    yield req

            call = stub.StreamClusters(requests())
            first = discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE)
            first.node.id = node
            queue.put_nowait(first)
            resp = await asyncio.wait_for(call.read(), 20)
            reply = discovery_pb2.DiscoveryRequest(version_info="" if nack else resp.version_info,
                                                   response_nonce=resp.nonce, type_url=CLUSTER_TYPE)
            if nack:
                reply.error_detail.message = "cluster backend: bad health check"
            queue.put_nowait(reply)
            await counted(s, f'kumahc_xds_{"nacks" if nack else "acks"}_total{{api="sotw"}} 1.0')
            queue.put_nowait(None)
            call.cancel()
        return resp.version_info


def test_json_logs_at_debug(tmp_path: Path) -> None:
    d = inputs(tmp_path)
    with serve(str(d), args=("--log-format", "json", "--log-level", "debug")) as s:
        version = asyncio.run(ack_then_nack(s, "default.web-01"))
        s.wait_log('"event":"nack"')
        wait_until(lambda: s.stderr().count('"event":"stream_closed"') >= 2, 15, 0.1, "two closed streams")
        records = [json.loads(line) for line in s.stderr().splitlines()]  # every line is one JSON object
    assert {r["level"] for r in records} <= {"DEBUG", "INFO", "WARNING"}
    for r in records:
        assert set(r) >= {"time", "level", "msg"}
        time.strptime(r["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    events = [r for r in records if "event" in r]
    opened = [r for r in events if r["event"] == "stream_opened"]
    assert [(r["node"], r["api"], r["service"], r["level"]) for r in opened] == [
        ("default.web-01", "sotw", "cds", "INFO")] * 2
    assert opened[0]["peer"].startswith("ipv4:127.0.0.1:")
    (ack,) = [r for r in events if r["event"] == "ack"]
    assert (ack["level"], ack["node"], ack["version"], ack["nonce"], ack["type_url"]) == (
        "DEBUG", "default.web-01", version, "1", CLUSTER_TYPE)
    (nack,) = [r for r in events if r["event"] == "nack"]
    assert (nack["level"], nack["node"], nack["version"], nack["error_detail"]) == (
        "WARNING", "default.web-01", version, "cluster backend: bad health check")
    assert nack["msg"] == (f"NACK node=default.web-01 type={CLUSTER_TYPE} version={version} nonce=1: "
                           "cluster backend: bad health check")
    closed = [r for r in events if r["event"] == "stream_closed"]
    assert [(r["node"], r["level"]) for r in closed] == [("default.web-01", "INFO")] * 2
    assert all(r["seconds"] >= 0 and r["reason"] for r in closed)
    assert any(r["msg"].startswith("loaded: 2 proxies, 3 clusters in ") for r in records)


def test_text_logs_at_warning_leave_out_info(tmp_path: Path) -> None:
    d = inputs(tmp_path)
    with serve(str(d), args=("--log-level", "warning")) as s:
        asyncio.run(ack_then_nack(s, "default.web-01"))
        s.wait_log("WARNING NACK node=default.web-01 ")
        # Both streams closed (their INFO lines, if any, are written before the gauge drops), then a known
        # WARNING: every line up to it is checked, whenever it came.
        asyncio.run(counted(s, 'kumahc_xds_streams{api="sotw"} 0.0'))
        asyncio.run(unknown_node(s.xds))
        log = s.wait_log('WARNING unknown node "nobody": serving an empty cluster set', timeout=120)
    lines = log.splitlines()
    lines = lines[:next(i for i, line in enumerate(lines) if 'WARNING unknown node "nobody"' in line) + 1]
    assert [line.split(" ", 2)[1] for line in lines] == ["WARNING", "WARNING"], lines


async def unknown_node(target: str) -> None:
    """Open a CDS stream as node "nobody" (kumahc logs a WARNING for it) and read its first response."""
    async with grpc.aio.insecure_channel(target) as channel:
        req = discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE)
        req.node.id = "nobody"
        call = cds_pb2_grpc.ClusterDiscoveryServiceStub(channel).StreamClusters(iter([req]))
        try:
            await asyncio.wait_for(call.read(), 120)
        finally:
            call.cancel()


def metric(s, name: str) -> float:
    for line in s.get("/metrics")[2].splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no metric {name}")


def test_operator_metrics_and_stale_snapshot(tmp_path: Path) -> None:
    d = inputs(tmp_path)
    before = time.time()
    with serve(str(d)) as s:
        lines = s.get("/metrics")[2].splitlines()
        assert any(line.startswith('kumahc_build_info{python_version="') and f'version="{__version__}"' in line
                   and line.endswith(" 1.0") for line in lines)
        for name in ("process_resident_memory_bytes", "process_cpu_seconds_total", "process_open_fds",
                     "process_start_time_seconds"):
            assert metric(s, name) > 0, name
        first = metric(s, "kumahc_snapshot_last_success_timestamp_seconds")
        assert before - 1 <= first <= time.time()
        assert (metric(s, "kumahc_snapshot_stale"), metric(s, "kumahc_ready")) == (0, 1)
        # Invalid newest inputs: the older snapshot is served and the gauge says so.
        mark = len(s.stderr())
        atomic_write(str(d / "policy.yaml"), backend_http_check("-1s"))
        s.wait_log("ERROR reload failed; keeping the last good snapshot", after=mark)
        assert metric(s, "kumahc_snapshot_stale") == 1
        assert metric(s, "kumahc_snapshot_last_success_timestamp_seconds") == first
        assert s.get("/ready")[0] == 200
        # Fixed: fresh again, and the timestamp moves.
        mark = len(s.stderr())
        atomic_write(str(d / "policy.yaml"), backend_http_check("3s"))
        s.wait_log("INFO reloaded: 2 proxies, 3 clusters", after=mark)
        assert metric(s, "kumahc_snapshot_stale") == 0
        assert metric(s, "kumahc_snapshot_last_success_timestamp_seconds") > first

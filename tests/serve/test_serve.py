"""``kumahc serve`` as a real process, driven by real grpc.aio xDS clients over loopback (spec 06)."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from envoy.service.cluster.v3 import cds_pb2_grpc
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from kumahc_serve import WEB_ONLY, atomic_write, backend_http_check, serve, web_and_backend, write_mesh

from kumahc.pipeline import run
from kumahc.render import document, to_json
from kumahc.xds.snapshot import CLUSTER_TYPE, content_version

MESH = web_and_backend(web_labels="{app: web}")
STOP_TIMEOUT = 60  # s: a generous wait for the exit after SIGTERM; how fast it comes is not what is tested


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    return write_mesh(tmp_path, MESH, backend_http_check("10s", WEB_ONLY))


def rendered(path: Path, proxy: str | None = None) -> dict:
    return document(run([str(path)]), proxy)


def interval(s) -> str:
    """The health check interval web-01's first cluster is served with (``/config_dump``)."""
    return json.loads(s.get("/config_dump?proxy=web-01")[2])["proxies"][0]["clusters"][0]["health_checks"][0][
        "interval"]


async def counted(s, line: str) -> None:
    """Wait (generously) until ``/metrics`` shows ``line``: the server has handled what it counts."""
    deadline = time.monotonic() + 120
    while line not in (await asyncio.to_thread(s.get, "/metrics"))[2].splitlines():
        assert time.monotonic() < deadline, f"{line} not in /metrics"
        await asyncio.sleep(0.05)


def proxy_version(path: Path, proxy: str) -> str:
    return content_version(rendered(path, proxy)["proxies"][0]["clusters"])


async def sotw_session(target: str, node: str, steps) -> list[discovery_pb2.DiscoveryResponse]:
    """Open a CDS SotW stream, send the first request, then let ``steps(responses, send)`` drive it."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = cds_pb2_grpc.ClusterDiscoveryServiceStub(channel)
        queue: asyncio.Queue = asyncio.Queue()

        async def requests():
            while (req := await queue.get()) is not None:
                yield req

        call = stub.StreamClusters(requests())
        first = discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE)
        first.node.id = node
        queue.put_nowait(first)
        got: list[discovery_pb2.DiscoveryResponse] = []
        try:
            await asyncio.wait_for(steps(call, got, queue), 120)  # generous: the machine may be loaded
        finally:
            queue.put_nowait(None)
            call.cancel()
        return got


def ack(resp: discovery_pb2.DiscoveryResponse) -> discovery_pb2.DiscoveryRequest:
    return discovery_pb2.DiscoveryRequest(version_info=resp.version_info, response_nonce=resp.nonce,
                                          type_url=resp.type_url)


def test_admin_endpoints(inputs: Path) -> None:
    with serve(str(inputs)) as s:
        assert s.get("/ready") == (200, "text/plain; charset=utf-8", "ready\n")
        status, ctype, body = s.get("/config_dump")
        assert status == 200 and ctype.startswith("application/json")
        assert body == to_json(rendered(inputs))
        assert s.get("/config_dump?proxy=web-01")[2] == to_json(rendered(inputs, "web-01"))
        assert s.get("/config_dump?proxy=nope")[::2] == (404, 'no proxy matches "nope"\n')
        assert s.get("/nothing-here")[0] == 404
        metrics = s.get("/metrics")[2]
        for line in ("kumahc_snapshot_proxies 2.0", "kumahc_snapshot_clusters 3.0",
                     'kumahc_reloads_total{result="success"} 0.0', 'kumahc_xds_streams{api="sotw"} 0.0',
                     'kumahc_xds_nacks_total{api="delta"} 0.0', "kumahc_unknown_nodes 0.0"):
            assert line in metrics.splitlines(), line
        assert json.loads(s.get("/status")[2])["streams"] == []


def test_sotw_stream_ack_nack_and_status(inputs: Path) -> None:
    version = proxy_version(inputs, "web-01")

    async def steps(call, got, queue):
        resp = await call.read()
        got.append(resp)
        queue.put_nowait(ack(resp))
        nack = discovery_pb2.DiscoveryRequest(version_info="", response_nonce=resp.nonce, type_url=resp.type_url)
        nack.error_detail.message = "rejected for the test"
        await counted(s, 'kumahc_xds_acks_total{api="sotw"} 1.0')  # the ACK handled first
        queue.put_nowait(nack)  # stale now? no: same nonce as last sent, so it counts as a NACK
        await counted(s, 'kumahc_xds_nacks_total{api="sotw"} 1.0')  # handled before the stream closes

    with serve(str(inputs)) as s:
        got = asyncio.run(sotw_session(s.xds, "default.web-01", steps))
        assert [(r.version_info, r.nonce) for r in got] == [(version, "1")]
        assert got[0].control_plane.identifier == "kumahc/0.1.0"
        assert [r.type_url for r in got[0].resources] == [CLUSTER_TYPE]
        s.wait_log(f"WARNING NACK node=default.web-01 type={CLUSTER_TYPE} version={version} nonce=1: "
                   "rejected for the test")
        metrics = s.get("/metrics")[2].splitlines()
        assert 'kumahc_xds_acks_total{api="sotw"} 1.0' in metrics
        assert 'kumahc_xds_nacks_total{api="sotw"} 1.0' in metrics
        assert 'kumahc_xds_responses_total{api="sotw"} 1.0' in metrics
        assert not [m for m in metrics if "default.web-01" in m]  # node ids are never labels (docs/limits.md)
        assert 'kumahc_xds_ack_latency_seconds_count{api="sotw"} 1.0' in metrics
        (generation,) = [m for m in metrics if m.startswith("kumahc_snapshot_generation_seconds ")]
        assert 0 < float(generation.split()[1]) < 30


def test_unknown_node_and_invalid_requests(inputs: Path) -> None:
    async def one(call, got, queue):
        got.append(await call.read())

    async def bad(target: str, node: str, type_url: str) -> grpc.StatusCode:
        async with grpc.aio.insecure_channel(target) as channel:
            req = discovery_pb2.DiscoveryRequest(type_url=type_url)
            req.node.id = node
            call = cds_pb2_grpc.ClusterDiscoveryServiceStub(channel).StreamClusters(iter([req]))
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await asyncio.wait_for(call.read(), 10)
            return err.value.code(), err.value.details()

    with serve(str(inputs)) as s:
        (resp,) = asyncio.run(sotw_session(s.xds, "nobody", one))
        assert (resp.version_info, list(resp.resources)) == ("4f53cda18c2baa0c", [])
        s.wait_log('WARNING unknown node "nobody": serving an empty cluster set')
        assert asyncio.run(bad(s.xds, "", CLUSTER_TYPE)) == (grpc.StatusCode.INVALID_ARGUMENT, "node.id is required")
        assert asyncio.run(bad(s.xds, "web-01", "type.googleapis.com/x")) == (
            grpc.StatusCode.INVALID_ARGUMENT, 'unsupported type_url "type.googleapis.com/x"')


def test_fetch_and_delta_and_ads(inputs: Path) -> None:
    version = proxy_version(inputs, "web-01")

    async def go(target: str) -> tuple:
        async with grpc.aio.insecure_channel(target) as channel:
            req = discovery_pb2.DiscoveryRequest()
            req.node.id = "web-01"
            fetched = await cds_pb2_grpc.ClusterDiscoveryServiceStub(channel).FetchClusters(req, timeout=10)
            dreq = discovery_pb2.DeltaDiscoveryRequest(type_url=CLUSTER_TYPE)
            dreq.node.id = "default.web-01"
            call = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel).DeltaAggregatedResources(iter([dreq]))
            delta = await asyncio.wait_for(call.read(), 10)
            call.cancel()
            return fetched, delta

    with serve(str(inputs)) as s:
        fetched, delta = asyncio.run(go(s.xds))
        assert fetched.version_info == version and len(fetched.resources) == 1
        assert delta.system_version_info == version
        assert [(r.name, r.version) for r in delta.resources] == [
            ("backend", content_version(rendered(inputs, "web-01")["proxies"][0]["clusters"][0]))]


def test_reload_valid_then_invalid(inputs: Path) -> None:
    v1 = proxy_version(inputs, "web-01")

    with serve(str(inputs)) as s:
        async def steps(call, got, queue):
            first = await call.read()
            got.append(first)
            queue.put_nowait(ack(first))
            mark = len(s.stderr())
            atomic_write(str(inputs / "policy.yaml"), backend_http_check("3s", WEB_ONLY))
            second = await call.read()
            got.append(second)
            queue.put_nowait(ack(second))
            s.wait_log("INFO reloaded: 2 proxies, 3 clusters", after=mark)
            mark = len(s.stderr())
            atomic_write(str(inputs / "policy.yaml"), backend_http_check("-1s", WEB_ONLY))
            s.wait_log("ERROR reload failed; keeping the last good snapshot", after=mark)
            assert interval(s) == "3s"  # the last good snapshot is still served
            # The failed reload sends nothing: the next response on the stream is the one the next valid edit
            # brings (an unexpected send in between would be read here instead), however long either took.
            atomic_write(str(inputs / "policy.yaml"), backend_http_check("5s", WEB_ONLY))
            got.append(await call.read())

        got = asyncio.run(sotw_session(s.xds, "default.web-01", steps))
        assert got[0].version_info == v1
        assert got[1].version_info != v1 and got[1].nonce == "2"
        assert (got[2].version_info, got[2].nonce) == (proxy_version(inputs, "web-01"), "3")  # the 5 s edit
        log = s.stderr()
        assert "policy.yaml:7: MeshHealthCheck backend-http: spec.to[0].default.interval: must be greater than zero " \
               "when defined" in log
        assert 'kumahc_reloads_total{result="failure"} 1.0' in s.get("/metrics")[2].splitlines()
        assert s.get("/ready")[0] == 200
        assert interval(s) == "5s"


def test_same_size_edits_within_a_second_are_both_seen(inputs: Path) -> None:
    """06 §7 polls (size, mtime): nanosecond mtimes, so quick edits of equal length are not lost."""
    policy = inputs / "policy.yaml"
    with serve(str(inputs)) as s:
        for interval in ("3s", "4s", "5s"):
            mark = len(s.stderr())
            atomic_write(str(policy), backend_http_check(interval, WEB_ONLY))  # same size every time
            s.wait_log("INFO reloaded: 2 proxies, 3 clusters", after=mark)
            hc = json.loads(s.get("/config_dump?proxy=web-01")[2])["proxies"][0]["clusters"][0]["health_checks"][0]
            assert hc["interval"] == interval
        mark = len(s.stderr())
        s.proc.send_signal(signal.SIGHUP)  # forced reload, nothing changed
        s.wait_log("INFO reloaded: 2 proxies, 3 clusters", after=mark)


def test_two_hundred_clients_receive_a_change(tmp_path: Path) -> None:
    n = 200
    d = tmp_path / "big"
    d.mkdir()
    docs = [f"""\
type: Dataplane
name: web-{i:03d}
labels: {{app: web}}
networking:
  address: 10.0.{i // 250}.{i % 250 + 1}
  inbound: [{{port: 20000, tags: {{kuma.io/service: web, kuma.io/protocol: http}}}}]
  outbound: [{{tags: {{kuma.io/service: backend}}}}]
""" for i in range(n)]
    docs.append("type: Dataplane\nname: backend-01\nnetworking:\n  address: 10.9.0.1\n  inbound: [{port: 20001, tags: "
                "{kuma.io/service: backend, kuma.io/protocol: http}}]\n  outbound: []\n")
    (d / "mesh.yaml").write_text("---\n".join(docs))
    (d / "policy.yaml").write_text(backend_http_check("10s", WEB_ONLY))

    async def client(target: str, node: str, changed: asyncio.Event, versions: dict) -> None:
        async with grpc.aio.insecure_channel(target) as channel:
            queue: asyncio.Queue = asyncio.Queue()

            async def requests():
                while (req := await queue.get()) is not None:
                    yield req

            call = cds_pb2_grpc.ClusterDiscoveryServiceStub(channel).StreamClusters(requests())
            first = discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE)
            first.node.id = node
            queue.put_nowait(first)
            for _ in range(2):
                resp = await call.read()
                versions.setdefault(node, []).append(resp.version_info)
                queue.put_nowait(ack(resp))
            queue.put_nowait(None)
            call.cancel()

    async def go(s) -> dict:
        versions: dict = {}
        changed = asyncio.Event()
        tasks = [asyncio.ensure_future(client(s.xds, f"default.web-{i:03d}", changed, versions)) for i in range(n)]
        deadline = time.monotonic() + 60
        while sum(len(v) for v in versions.values()) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        atomic_write(str(d / "policy.yaml"), backend_http_check("4s", WEB_ONLY))
        await asyncio.wait_for(asyncio.gather(*tasks), 90)
        return versions

    with serve(str(d)) as s:
        versions = asyncio.run(go(s))
    assert len(versions) == n
    firsts = {v[0] for v in versions.values()}
    seconds = {v[1] for v in versions.values()}
    assert len(firsts) == 1 and len(seconds) == 1 and firsts != seconds


def test_shutdown_listen_failure_and_invalid_start(inputs: Path, tmp_path: Path) -> None:
    with serve(str(inputs)) as s:
        second = subprocess.run([sys.executable, "-c", "from kumahc.cli import main; main()", "serve", str(inputs),
                                 "--xds-address", s.xds, "--admin-address", "127.0.0.1:0"],
                                capture_output=True, text=True, timeout=60)
        assert second.returncode == 1 and second.stdout == ""
        assert second.stderr.splitlines()[-1].startswith(f"error: cannot listen on {s.xds}: ")
        assert s.stop(STOP_TIMEOUT) == 0  # SIGTERM: exit 0 (a kill after the timeout would give -9)
        s.wait_log("INFO shutting down")
        assert s.stderr().rstrip().endswith("INFO shutting down")
    bad = tmp_path / "bad.yaml"
    bad.write_text(backend_http_check("0s", WEB_ONLY))
    proc = subprocess.run([sys.executable, "-c", "from kumahc.cli import main; main()", "serve", str(bad),
                           "--xds-address", "127.0.0.1:0", "--admin-address", "127.0.0.1:0"],
                          capture_output=True, text=True, timeout=60)
    # The listeners bind before the first render, so the address lines come first; then the errors, exit 1.
    assert proc.returncode == 1
    assert [line.rsplit(" ", 1)[0] for line in proc.stdout.splitlines()] == ["xds listening on",
                                                                             "admin listening on"]
    assert [line for line in proc.stderr.splitlines() if not line.endswith("INFO shutting down")] == [
        f"{bad}:7: MeshHealthCheck backend-http: spec.to[0].default.interval: must be greater than zero when defined",
        "found 1 error"]

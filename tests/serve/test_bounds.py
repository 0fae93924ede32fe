"""What a client can make ``kumahc serve`` do, bounded (docs/limits.md, "Bounds of serve"), on a real process:
admin clients that drip their headers are dropped and capped while xDS keeps answering, the admin port rebinds
at once after a restart, streams per connection and type URLs per stream are capped, NACKs add no metric series
per node, client strings are logged escaped and cut, and a listener other hosts may reach unprotected is
warned about at start."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import resource
import select
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import grpc
import pytest
from envoy.service.discovery.v3 import ads_pb2_grpc, discovery_pb2
from kumahc_serve import ServeProcess, first_response, web_and_backend, write_mesh
from kumahc_serve import serve as harness_serve

from kumahc.xds.admin import ADMIN_HEADER_TIMEOUT, ADMIN_MAX_CONNECTIONS, BUSY
from kumahc.xds.metrics import LOG_VALUE_BYTES
from kumahc.xds.server import MAX_STREAMS_PER_CONNECTION
from kumahc.xds.snapshot import CLUSTER_TYPE
from kumahc.xds.streams import MAX_TYPE_URLS

WAIT = 120.0  # generous: the machine is shared; nothing below asserts how fast anything is


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    return write_mesh(tmp_path, web_and_backend())


def _fd_limit(n: int):
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
    return limit


def serve(*paths: str, fd_limit: int | None = None, **options: object) -> contextlib.AbstractContextManager:
    """``kumahc serve`` as the harness starts it; with ``fd_limit``, the open-files limit (soft and hard, so serve
    cannot raise it) set in the child."""
    return harness_serve(*paths, timeout=WAIT, preexec_fn=_fd_limit(fd_limit) if fd_limit else None, **options)


def port_of(target: str) -> int:
    return int(target.rsplit(":", 1)[1])


def connect(admin: str, n: int) -> list[socket.socket]:
    """``n`` admin connections that sent nothing yet."""
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port_of(admin)), timeout=WAIT)
        s.setblocking(False)
        out.append(s)
    return out


def read_until_closed(socks: list[socket.socket], count: int, drip: bool = False, limit: float = 60.0
                      ) -> tuple[dict[socket.socket, bytes], set[socket.socket]]:
    """Read every connection until ``count`` of them are closed by the server (or ``limit`` seconds). With
    ``drip``, send one more header line on each every second (never the end of the head). Returns (bytes
    received per connection, connections still open)."""
    got = {s: b"" for s in socks}
    live = set(socks)
    deadline = time.monotonic() + limit
    while len(socks) - len(live) < count and time.monotonic() < deadline:
        for s in list(live) if drip else ():
            try:
                s.send(b"X-Drip: 1\r\n")
            except BlockingIOError:
                pass
            except OSError:  # reset: the server closed it
                live.discard(s)
        readable, _, _ = select.select(list(live), [], [], 1.0)
        for s in readable:
            try:
                data = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                got[s] += data
            else:
                live.discard(s)
    return got, live


def start_requests(socks: list[socket.socket] | set[socket.socket]) -> None:
    """Send the start of a request head, not its end."""
    for s in socks:
        s.send(b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n")


async def first_cds(target: str, node: str) -> discovery_pb2.DiscoveryResponse:
    return await first_response(target, node, WAIT, ads=True)


def xds_answers(s: ServeProcess) -> None:
    resp = asyncio.run(first_cds(s.xds, "default.web-01"))
    assert resp.type_url == CLUSTER_TYPE and len(resp.resources) > 0


# --- admin port ----------------------------------------------------------------------------------------------------

def test_admin_drops_connections_that_never_finish_their_headers(inputs: Path) -> None:
    with serve(str(inputs)) as s:
        socks = connect(s.admin, 20)
        try:
            start_requests(socks)
            xds_answers(s)  # while they hang
            assert s.get("/ready")[0] == 200  # below the cap: other admin clients are served meanwhile
            got, live = read_until_closed(socks, len(socks), drip=True)
            assert not live, f"{len(live)} dripping connections still open"
            assert set(got.values()) == {b""}  # closed without a response
        finally:
            for sock in socks:
                sock.close()
        assert s.get("/ready")[0] == 200
    assert ADMIN_HEADER_TIMEOUT == 10.0


def test_admin_connection_cap_under_a_low_fd_limit_keeps_xds_answering(inputs: Path) -> None:
    """The finding: 300 connections dripping headers under a 256-file limit took every descriptor and xDS stopped
    answering. Now the first ADMIN_MAX_CONNECTIONS are held (until the header timeout), every other one gets
    BUSY at once, and xDS answers."""
    with serve(str(inputs), fd_limit=256) as s:
        socks = connect(s.admin, 300)
        try:
            refused = 300 - ADMIN_MAX_CONNECTIONS
            got, live = read_until_closed(socks, refused)
            busy = [sock for sock in socks if got[sock] == BUSY]
            assert len(busy) == refused and set(busy).isdisjoint(live)
            assert len(live) == ADMIN_MAX_CONNECTIONS == 64 and all(got[sock] == b"" for sock in live)
            xds_answers(s)  # while the held ones hang
            # A new client is turned away while the cap is reached...
            with socket.create_connection(("127.0.0.1", port_of(s.admin)), timeout=WAIT) as extra:
                data = b""
                while chunk := extra.recv(65536):
                    data += chunk
                assert data == BUSY
            # ...and the held ones, dripping headers, are dropped by the header timeout.
            start_requests(live)
            got, live = read_until_closed(list(live), len(live), drip=True)
            assert not live
        finally:
            for sock in socks:
                sock.close()
        metrics = s.get("/metrics")[2].splitlines()
        assert f"kumahc_admin_connections_refused_total {refused + 1}.0" in metrics
        assert "Too many open files" not in s.stderr()
    assert BUSY == (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n"
                    b"Content-Length: 55\r\nConnection: close\r\n\r\n"
                    b"busy: too many admin connections open, try again later\n")


def test_admin_port_rebinds_at_once_after_sigterm_with_a_keepalive_client(inputs: Path) -> None:
    with serve(str(inputs)) as s:
        port = port_of(s.admin)
        client = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
        try:
            client.sendall(b"GET /ready HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")  # HTTP/1.1: kept alive
            head = b""
            while not head.endswith(b"ready\n"):
                head += client.recv(65536)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            assert s.stop() == 0  # the server closes the kept-alive connection: its side is left in TIME_WAIT
            with serve(str(inputs), admin=f"127.0.0.1:{port}") as again:
                assert port_of(again.admin) == port
                assert again.get("/ready")[0] == 200
                # SO_REUSEADDR does not let a second server bind a port that is listening.
                second = subprocess.run([sys.executable, "-c", "from kumahc.cli import main; main()", "serve",
                                         str(inputs), "--xds-address", "127.0.0.1:0", "--admin-address", again.admin],
                                        capture_output=True, text=True, timeout=WAIT)
                assert (second.returncode, second.stdout) == (1, "")
                assert second.stderr.splitlines()[-1] == (f"error: cannot listen on {again.admin}: "
                                                          "Address already in use")
        finally:
            client.close()


# --- xDS -----------------------------------------------------------------------------------------------------------

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
SETTINGS, HEADERS, RST_STREAM, GOAWAY = 0x4, 0x1, 0x3, 0x7
MAX_CONCURRENT_STREAMS, REFUSED_STREAM = 0x3, 0x7


def frame(kind: int, flags: int, stream: int, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def literal(name: bytes, value: bytes) -> bytes:
    """HPACK literal header field without indexing, new name, no Huffman (names and values < 127 bytes)."""
    return b"\x00" + bytes([len(name)]) + name + bytes([len(value)]) + value


def read_frame(sock: socket.socket) -> tuple[int, int, int, bytes]:
    def exact(n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = sock.recv(n - len(data))
            if not chunk:
                raise EOFError("connection closed")
            data += chunk
        return data

    head = exact(9)
    length = int.from_bytes(head[:3], "big")
    return head[3], head[4], int.from_bytes(head[5:9], "big") & 0x7FFFFFFF, exact(length)


def test_streams_per_connection_are_capped(inputs: Path) -> None:
    """A raw HTTP/2 client: the server advertises SETTINGS_MAX_CONCURRENT_STREAMS, and a client that ignores it
    gets exactly the stream beyond it reset with REFUSED_STREAM (a grpc client sees UNAVAILABLE)."""
    block = literal(b":method", b"POST") + literal(b":scheme", b"http") + literal(
        b":path", b"/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources") + literal(
        b":authority", b"127.0.0.1") + literal(b"content-type", b"application/grpc") + literal(b"te", b"trailers")
    with serve(str(inputs)) as s, socket.create_connection(("127.0.0.1", s.xds_port), timeout=WAIT) as sock:
        sock.sendall(PREFACE + frame(SETTINGS, 0, 0))
        settings = None
        acked = False
        while settings is None or not acked:
            kind, flags, _, payload = read_frame(sock)
            if kind == SETTINGS and flags & 1:
                acked = True
            elif kind == SETTINGS:
                settings = {int.from_bytes(payload[i:i + 2], "big"): int.from_bytes(payload[i + 2:i + 6], "big")
                            for i in range(0, len(payload), 6)}
                sock.sendall(frame(SETTINGS, 1, 0))
        assert settings.get(MAX_CONCURRENT_STREAMS) == MAX_STREAMS_PER_CONNECTION == 1000
        over = 2 * MAX_STREAMS_PER_CONNECTION + 1  # stream ids are odd: the 1,001st stream
        sock.sendall(b"".join(frame(HEADERS, 0x4, 2 * i + 1, block) for i in range(MAX_STREAMS_PER_CONNECTION + 1)))
        resets: dict[int, int] = {}
        while over not in resets:
            kind, _, stream, payload = read_frame(sock)
            assert kind != GOAWAY, payload
            if kind == RST_STREAM:
                resets[stream] = int.from_bytes(payload, "big")
        assert resets == {over: REFUSED_STREAM}
        xds_answers(s)


def test_type_urls_per_stream_are_capped(inputs: Path) -> None:
    types = [CLUSTER_TYPE] + [f"type.googleapis.com/test.bounds.T{i}" for i in range(MAX_TYPE_URLS)]

    async def session(target: str) -> tuple[list[str], grpc.aio.AioRpcError]:
        reqs = []
        for type_url in types:
            req = discovery_pb2.DiscoveryRequest(type_url=type_url)
            req.node.id = "default.web-01"
            reqs.append(req)
        async with grpc.aio.insecure_channel(target) as channel:
            call = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel).StreamAggregatedResources(iter(reqs))
            got = []
            try:
                while True:
                    resp = await asyncio.wait_for(call.read(), WAIT)
                    assert resp is not grpc.aio.EOF
                    got.append(resp.type_url)
            except grpc.aio.AioRpcError as exc:
                return got, exc

    with serve(str(inputs)) as s:
        got, exc = asyncio.run(session(s.xds))
        assert got == types[:MAX_TYPE_URLS] and MAX_TYPE_URLS == 32
        assert exc.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert exc.details() == "more than 32 distinct type URLs on one stream"
        s.wait_log("INFO stream closed node=default.web-01 api=sotw service=ads peer=")
        s.wait_log(": RESOURCE_EXHAUSTED: more than 32 distinct type URLs on one stream\n")
        xds_answers(s)


async def nack(channel: grpc.aio.Channel, node: str, detail: str) -> object:
    """An ADS stream as ``node`` that NACKs its first response with ``detail``, then half-closes; returns what
    the server sends after the NACK (EOF: nothing)."""
    queue: asyncio.Queue = asyncio.Queue()

    async def requests():
        while (req := await queue.get()) is not None:
            yield req

    first = discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE)
    first.node.id = node
    queue.put_nowait(first)
    call = ads_pb2_grpc.AggregatedDiscoveryServiceStub(channel).StreamAggregatedResources(requests())
    resp = await asyncio.wait_for(call.read(), WAIT)
    rejected = discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE, response_nonce=resp.nonce)
    rejected.error_detail.message = detail
    queue.put_nowait(rejected)
    queue.put_nowait(None)
    after = await asyncio.wait_for(call.read(), WAIT)
    call.cancel()
    return after


def test_nacks_add_no_metric_series_per_node(inputs: Path) -> None:
    async def many(target: str, nodes: list[str]) -> None:
        async with grpc.aio.insecure_channel(target) as channel:
            gate = asyncio.Semaphore(25)  # well below the streams-per-connection cap

            async def one(node: str) -> None:
                async with gate:
                    assert await nack(channel, node, f"rejected by {node}") is grpc.aio.EOF

            await asyncio.gather(*(one(n) for n in nodes))

    def nack_series(s: ServeProcess, total: int) -> tuple[list[str], str]:
        want = f'kumahc_xds_nacks_total{{api="sotw"}} {total}.0'
        for _ in range(int(WAIT * 10)):  # until every NACK is counted
            text = s.get("/metrics")[2]
            if want in text.splitlines():
                break
            time.sleep(0.1)
        assert want in text.splitlines()
        return [line.rsplit(" ", 1)[0] for line in text.splitlines() if "nack" in line.lower()], text

    with serve(str(inputs)) as s:
        asyncio.run(many(s.xds, ["bounds-node-first"]))
        one, _ = nack_series(s, 1)
        nodes = [f"bounds-node-{i:04d}" for i in range(500)]
        asyncio.run(many(s.xds, nodes))
        after, text = nack_series(s, 501)
        assert after == one
        assert "bounds-node" not in text
        # Per node, the NACK stays in the log line.
        s.wait_log("WARNING NACK node=bounds-node-0499 type=type.googleapis.com/envoy.config.cluster.v3.Cluster "
                   "version=")


# --- logs ----------------------------------------------------------------------------------------------------------

FORGED = "evil\n2026-01-01T00:00:00Z INFO forged line\r\x1b[2K"
FORGED_TEXT = "evil\\n2026-01-01T00:00:00Z INFO forged line\\r\\x1b[2K"
HUGE = "n" * (2 << 20)  # 2 MiB


def huge_logged() -> str:
    marker = "…[cut: 2,097,152 characters]"
    return "n" * (LOG_VALUE_BYTES - len(marker.encode())) + marker


async def hostile_streams(target: str) -> None:
    """A stream for each hostile node id, each NACKing with a detail holding a newline."""
    async with grpc.aio.insecure_channel(target, options=[("grpc.max_send_message_length", 16 << 20)]) as channel:
        for node in (FORGED, HUGE):
            await nack(channel, node, FORGED)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_client_strings_are_logged_escaped_and_cut(inputs: Path, fmt: str) -> None:
    with serve(str(inputs), args=("--log-format", fmt)) as s:
        asyncio.run(hostile_streams(s.xds))
        for _ in range(int(WAIT * 10)):  # opened, unknown node, NACK: logged for both
            if s.stderr().count(huge_logged()) >= (6 if fmt == "json" else 3):
                break
            time.sleep(0.1)
        assert s.stop() == 0  # closes what is still open
        lines = s.stderr().splitlines()
        if fmt == "text":
            assert not [line for line in lines if line.startswith("2026-01-01T00:00:00Z INFO forged")]
            assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (INFO|WARNING|ERROR) ", line) for line in lines)
        assert all(len(line.encode()) < 3 * LOG_VALUE_BYTES for line in lines), max(len(x) for x in lines)
        if fmt == "text":
            assert any(line.endswith(f' WARNING unknown node "{FORGED_TEXT}": serving an empty cluster set')
                       for line in lines)
            assert any(f" WARNING NACK node={FORGED_TEXT} type={CLUSTER_TYPE} " in line
                       and line.endswith(f": {FORGED_TEXT}") for line in lines)
            assert any(line.endswith(f' WARNING unknown node "{huge_logged()}": serving an empty cluster set')
                       for line in lines)
            assert sum(huge_logged() in line for line in lines) == 4  # opened, unknown, NACK, closed
        else:
            records = [json.loads(line) for line in lines]
            unknown = [r["node"] for r in records if r.get("event") == "unknown_node"]
            assert unknown == [FORGED_TEXT, huge_logged()]
            nacks = [(r["node"], r["error_detail"]) for r in records if r.get("event") == "nack"]
            assert nacks == [(FORGED_TEXT, FORGED_TEXT), (huge_logged(), FORGED_TEXT)]
            assert [r["msg"] for r in records if r.get("event") == "unknown_node"] == [
                f'unknown node "{FORGED_TEXT}": serving an empty cluster set',
                f'unknown node "{huge_logged()}": serving an empty cluster set']


# --- start-up warning ----------------------------------------------------------------------------------------------

XDS_WARNING = ("WARNING xDS listens on 0.0.0.0:0, not a loopback address, in plaintext: any host that reaches it "
               "can read every proxy's clusters (give --xds-tls-cert and --xds-tls-key, and --xds-client-ca to "
               "check who connects)")
ADMIN_WARNING = ("WARNING the admin port listens on 0.0.0.0:0, not a loopback address, without a token: any host "
                 "that reaches it can read /config_dump and /status (give --admin-token-file)")


def test_warning_for_an_unprotected_listener_other_hosts_may_reach(inputs: Path, tmp_path: Path) -> None:
    with serve(str(inputs), xds="0.0.0.0:0", admin="0.0.0.0:0") as s:
        xds_answers(s)
        warnings = [line.split(" ", 1)[1] for line in s.stderr().splitlines() if "loopback" in line]
        assert warnings == [XDS_WARNING, ADMIN_WARNING]
    token = tmp_path / "admin.token"
    token.write_text("s3cret-token\n")
    with serve(str(inputs), xds="0.0.0.0:0", admin="0.0.0.0:0", args=("--admin-token-file", str(token))) as s:
        assert [line.split(" ", 1)[1] for line in s.stderr().splitlines() if "loopback" in line] == [XDS_WARNING]
    with serve(str(inputs)) as s:
        xds_answers(s)
        assert "loopback" not in s.stderr() and " WARNING " not in s.stderr()

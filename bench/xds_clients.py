"""A worker process of simulated xDS clients (``python -m bench.xds_clients``), used against ``kumahc serve`` and
against the bare server alike.

Reads one JSON line on stdin: ``{"target": "127.0.0.1:PORT", "nodes": [node ids]}``. Each node gets its own
``grpc.aio`` channel (local subchannel pool, so one TCP connection per client, like one Envoy each) and one CDS
SotW stream (``StreamClusters``): first request with the node id, then an ACK for every response. Prints one JSON
line per response on stdout:

* ``{"ev": "first", "node": id, "version": v, "t": ack_time}`` — the first response (connect + initial fetch);
* ``{"ev": "resp", "node": id, "version": v, "t_recv": t, "t_ack": t}`` — every later response;
* ``{"ev": "error", "node": id, "msg": text}`` — the stream ended otherwise than by the worker.

Times are ``time.monotonic()`` (system-wide on Linux, so comparable with the coordinator's). The worker runs
until its stdin closes, then cancels every stream and exits.
"""

from __future__ import annotations

import asyncio
import json
import sys
import threading
import time

import grpc
from envoy.service.discovery.v3 import discovery_pb2

METHOD = "/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters"
CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
CONNECT_CONCURRENCY = 100  # streams opening at the same time
OPTIONS = [("grpc.use_local_subchannel_pool", 1), ("grpc.max_receive_message_length", 256 * 1024 * 1024)]


def emit(event: dict) -> None:
    sys.stdout.write(json.dumps(event, separators=(",", ":")) + "\n")
    sys.stdout.flush()


async def client(target: str, node: str, gate: asyncio.Semaphore) -> None:
    ack = discovery_pb2.DiscoveryRequest
    channel = None
    try:
        async with gate:  # connection set-up and the initial exchange, CONNECT_CONCURRENCY at a time
            channel = grpc.aio.insecure_channel(target, options=OPTIONS)
            call = channel.stream_stream(METHOD, request_serializer=ack.SerializeToString,
                                         response_deserializer=discovery_pb2.DiscoveryResponse.FromString)()
            first = ack(type_url=CLUSTER_TYPE)
            first.node.id = node
            await call.write(first)
            resp = await call.read()
            if resp is grpc.aio.EOF:
                emit({"ev": "error", "node": node, "msg": "stream ended before the first response"})
                return
            await call.write(ack(version_info=resp.version_info, response_nonce=resp.nonce, type_url=resp.type_url))
        emit({"ev": "first", "node": node, "version": resp.version_info, "t": time.monotonic()})
        while True:
            resp = await call.read()
            if resp is grpc.aio.EOF:
                emit({"ev": "error", "node": node, "msg": "stream ended"})
                return
            t_recv = time.monotonic()
            await call.write(ack(version_info=resp.version_info, response_nonce=resp.nonce, type_url=resp.type_url))
            emit({"ev": "resp", "node": node, "version": resp.version_info, "t_recv": t_recv,
                  "t_ack": time.monotonic()})
    except asyncio.CancelledError:
        raise
    except grpc.aio.AioRpcError as exc:
        emit({"ev": "error", "node": node, "msg": f"{exc.code().name}: {exc.details()}"})
    finally:
        if channel is not None:
            await channel.close()


async def main() -> None:
    config = json.loads(sys.stdin.readline())
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def wait_stdin() -> None:
        sys.stdin.read()  # returns at EOF: the coordinator closed our stdin
        loop.call_soon_threadsafe(done.set)

    threading.Thread(target=wait_stdin, daemon=True).start()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    tasks = [asyncio.ensure_future(client(config["target"], node, gate)) for node in config["nodes"]]
    await done.wait()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main())

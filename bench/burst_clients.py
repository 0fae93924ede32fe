"""A worker process of a connection burst (``python -m bench.burst_clients``): many xDS clients that all connect at
one moment, as Envoys do when they reconnect together (kumahc restarted, a load balancer flipped).

Reads one JSON line on stdin: ``{"target": "HOST:PORT", "nodes": [node ids], "start_at": t, "timeout": s,
"retry_until": r}`` with
``t`` a ``time.monotonic()`` value (system-wide on Linux, so the coordinator and every worker share it). Each node
gets its own channel (local subchannel pool: one TCP connection each, like one Envoy) connected before ``t``; at
``t`` every client opens its CDS SotW stream and sends its first request at once (no gate, no retry, no
``wait_for_ready``: the first try must succeed). Prints one JSON line and exits::

    {"ok": n, "errors": {"CANCELLED: ...": count}, "start_spread_s": s, "sent_spread_s": s, "first_s": [...],
     "retried": {"UNAVAILABLE: ...": count}}

``retry_until`` (optional, a ``time.monotonic()`` value; tests use it, the bench does not): a client whose try
fails tries again on its channel after a backoff (0.1 s doubling to 5 s) until then; ``retried`` counts the errors
that were retried, ``errors`` only the last error of clients that never got a response.

``start_spread_s`` = last call started − ``t`` (how tight the burst was); ``sent_spread_s`` = last first request
handed to the transport − ``t``; ``first_s`` = each client's first response − ``t``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter

import grpc
from envoy.service.discovery.v3 import discovery_pb2

METHOD = "/envoy.service.cluster.v3.ClusterDiscoveryService/StreamClusters"
CLUSTER_TYPE = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
OPTIONS = [("grpc.use_local_subchannel_pool", 1), ("grpc.max_receive_message_length", 256 * 1024 * 1024)]


async def one(channel: grpc.aio.Channel, node: str, start_at: float, timeout: float, retry_until: float | None
              ) -> tuple[str | None, float, float, float, list[str]]:
    """(error or None, times after start_at: call started, first request written, first response; the errors
    of the tries retried), retrying with backoff until ``retry_until`` (None: the first try only)."""
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    retried: list[str] = []
    backoff = 0.1
    while True:
        err, started, sent, first = await _try(channel, node, start_at, timeout)
        if err is None or retry_until is None or time.monotonic() + backoff >= retry_until:
            return err, started, sent, first, retried
        retried.append(err)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 5.0)


async def _try(channel: grpc.aio.Channel, node: str, start_at: float, timeout: float
               ) -> tuple[str | None, float, float, float]:
    req = discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE)
    req.node.id = node
    call = channel.stream_stream(METHOD, request_serializer=discovery_pb2.DiscoveryRequest.SerializeToString,
                                 response_deserializer=discovery_pb2.DiscoveryResponse.FromString)()
    started = time.monotonic() - start_at
    sent = 0.0
    try:
        await call.write(req)
        sent = time.monotonic() - start_at
        resp = await asyncio.wait_for(call.read(), timeout)
        if resp is grpc.aio.EOF:
            return "EOF: stream ended before the first response", started, sent, 0.0
        return None, started, sent, time.monotonic() - start_at
    except grpc.aio.AioRpcError as exc:
        return f"{exc.code().name}: {exc.details()}", started, sent, 0.0
    except TimeoutError:
        return f"no response within {timeout} s", started, sent, 0.0
    finally:
        call.cancel()


async def main() -> None:
    config = json.loads(sys.stdin.readline())
    channels = [grpc.aio.insecure_channel(config["target"], options=OPTIONS) for _ in config["nodes"]]
    # Connect before the start time, so the burst is one of calls (what the server's pending-call limit sees),
    # not spread out by this process's own TCP and HTTP/2 set-up of each connection.
    # Bounded, with room for a loaded machine; a worker that is still connecting at the start time starts late
    # (the "started" spread shows it) rather than failing.
    retry_until = config.get("retry_until")
    ready_until = max(config["start_at"] + 60.0, retry_until or 0.0)
    await asyncio.wait_for(asyncio.gather(*(ch.channel_ready() for ch in channels)), ready_until - time.monotonic())
    try:
        results = await asyncio.gather(*(one(ch, node, config["start_at"], config.get("timeout", 60.0), retry_until)
                                         for ch, node in zip(channels, config["nodes"], strict=True)))
    finally:
        await asyncio.gather(*(ch.close() for ch in channels), return_exceptions=True)
    errors = Counter(err for err, _, _, _, _ in results if err is not None)
    out = {"ok": sum(1 for r in results if r[0] is None), "errors": dict(errors),
           "start_spread_s": max((r[1] for r in results), default=0.0),
           "sent_spread_s": max((r[2] for r in results), default=0.0),
           "first_s": sorted(r[3] for r in results if r[0] is None),
           "retried": dict(Counter(err for r in results for err in r[4]))}
    sys.stdout.write(json.dumps(out) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    asyncio.run(main())

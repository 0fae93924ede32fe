"""The gRPC side of ``serve`` (spec 06 §2): CDS and ADS, SotW and Delta, on ``grpc.aio``.

Responses are pre-serialized bytes (:mod:`kumahc.xds.snapshot`), so the handlers are registered with a
pass-through response serializer instead of the generated stubs' ``SerializeToString``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
from envoy.service.discovery.v3 import discovery_pb2
from google.protobuf.message import DecodeError, Message

from kumahc.xds.cache import SnapshotCache
from kumahc.xds.connected import Connected
from kumahc.xds.metrics import Metrics, event
from kumahc.xds.snapshot import Snapshot
from kumahc.xds.streams import ADS, CDS, DELTA, SOTW, Stream, StreamError, WatchStatus
from kumahc.xds.tls import ClientIdentity, peer_identity

RECEIVE_LIMIT = 16 * 1024 * 1024
# grpc core queues calls that arrive before the application asked for the next one ("pending requests"); beyond
# a soft limit (default 1,000) it starts cancelling new calls at random, beyond a hard limit (3,000) all of them,
# before Python sees them. grpc.aio asks for calls one at a time from one event loop, so a mass reconnect of a few
# thousand Envoys (kumahc restarted, a load balancer flipped) piles up there: measured on 2 cores, 57 of 1,500
# and 2,268 of 5,000 clients got CANCELLED on their first try. The limits below hold a reconnect of every proxy
# of a large mesh (10,000+); a queued call costs a few hundred bytes until it is served.
MAX_PENDING_REQUESTS = 50_000
MAX_PENDING_REQUESTS_HARD = 100_000
# HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS advertised on every xDS connection. An Envoy opens one stream per xDS
# service it uses on a connection (ADS: one; CDS and EDS apart: two), but one process may multiplex many nodes on
# one connection (grpc clients share a connection between channels to one target by default: a relay, a test
# harness of 200 nodes). 1,000 leaves those room while one client can no longer hold tens of thousands of streams
# (each a task, a queue and watches) on a single connection. A gRPC client queues a stream beyond it once it has
# the server's settings; a stream opened before that, or by a client that ignores the setting, is reset with
# REFUSED_STREAM (docs/limits.md).
MAX_STREAMS_PER_CONNECTION = 1_000
_END = object()


def _identity(data: bytes) -> bytes:
    return data


@dataclass(frozen=True, slots=True)
class Undecodable:
    """What the request deserializer hands on for bytes that do not decode as the RPC's request message. A raising
    deserializer makes grpc hand None to the handler, which ended the stream with status OK and no kumahc log
    line; the handlers end the stream with ``INVALID_ARGUMENT`` and ``message`` instead, and log one WARNING."""

    message: str


def decoder(message_type: type[Message]) -> Callable[[bytes], Message | Undecodable]:
    """The request deserializer of ``message_type``: the decoded message, or :class:`Undecodable` with
    ``request is not a valid <full message name> (<N> bytes)`` (never raises)."""
    name = message_type.DESCRIPTOR.full_name

    def decode(data: bytes) -> Message | Undecodable:
        try:
            return message_type.FromString(data)
        except DecodeError:
            return Undecodable(f"request is not a valid {name} ({len(data)} bytes)")

    return decode


def _log_undecodable(bad: Undecodable, node: str | None, api: str, service: str, peer: str) -> None:
    event(logging.WARNING, f"undecodable request node={node or '-'} api={api} service={service} peer={peer}: "
          f"{bad.message}", event="request_undecodable", node=node, api=api, service=service, peer=peer,
          reason=bad.message)


class XdsServer:
    """Serves the cache's snapshot to every stream; keeps the streams for ``/status``."""

    def __init__(self, cache: SnapshotCache, metrics: Metrics, identity: bool = False,
                 connected: Connected | None = None):
        """``identity``: client certificates are required and name the node ids a stream may use
        (:mod:`kumahc.xds.tls`). ``connected``: ``--render connected``'s proxies with a stream."""
        self.cache = cache
        self.connected = connected
        self.metrics = metrics
        self.identity = identity
        self.streams: set[Stream] = set()

    def _allowed(self, context: grpc.aio.ServicerContext) -> ClientIdentity | None:
        """Under mTLS, what the peer's verified certificate authorizes (read from its PEM, not grpc's
        ``peer_uri``); None without a client CA."""
        return peer_identity(context.auth_context()) if self.identity else None

    def status(self) -> list[WatchStatus]:
        rows = [w.status for s in self.streams for w in s.watches.values()]
        return sorted(rows, key=lambda r: (r.node, r.api, r.service, r.type_url))

    async def _serve(self, requests: AsyncIterator, context: grpc.aio.ServicerContext, api: str,
                     service: str) -> AsyncIterator[bytes]:
        stream = Stream(api, service, self.cache.snapshot, self.metrics, self._allowed(context), self.connected)
        queue: asyncio.Queue = asyncio.Queue()
        opened = time.monotonic()
        peer = context.peer()
        stream.peer = peer
        ended = "client closed the stream"

        def on_snapshot(snapshot: Snapshot) -> None:
            for data in stream.on_snapshot(snapshot):
                queue.put_nowait(data)

        async def read() -> None:
            try:
                async for req in requests:
                    if isinstance(req, Undecodable):
                        _log_undecodable(req, stream.node, api, service, peer)
                        raise StreamError(req.message)
                    known = stream.node is not None
                    for data in stream.on_request(req):
                        queue.put_nowait(data)
                    if not known and stream.node is not None:
                        event(logging.INFO, f"stream opened node={stream.node} api={api} service={service} "
                              f"peer={peer}", event="stream_opened", node=stream.node, api=api, service=service,
                              peer=peer)
                if self.cache.snapshot is None:
                    # The client half-closed before the first snapshot: its requests are taken, so answer them
                    # (on_snapshot queues the responses before _END) rather than end the stream empty.
                    await self.cache.loaded()
                while stream.pending:  # --render connected: likewise until its proxy is materialized
                    await self.cache.changed()
            except StreamError as exc:
                queue.put_nowait(exc)
            except (asyncio.CancelledError, grpc.aio.AioRpcError):
                pass
            finally:
                queue.put_nowait(_END)

        self.streams.add(stream)
        self.metrics.streams.labels(api).inc()
        self.cache.subscribe(on_snapshot)
        reader = asyncio.ensure_future(read())
        try:
            while True:
                item = await queue.get()
                if item is _END:
                    return
                if isinstance(item, StreamError):
                    ended = f"{item.code.name}: {item.message}"
                    if item.code == grpc.StatusCode.PERMISSION_DENIED:
                        self.metrics.denied.inc()
                        event(logging.WARNING, f"stream denied peer={peer} api={api} service={service}: "
                              f"{item.message}", event="stream_denied", api=api, service=service, peer=peer,
                              reason=item.message)
                    await context.abort(item.code, item.message)
                yield item
        except asyncio.CancelledError:
            ended = "cancelled (client gone or server stopping)"
            raise
        finally:
            self.cache.unsubscribe(on_snapshot)
            reader.cancel()
            self.streams.discard(stream)
            self.metrics.streams.labels(api).dec()
            stream.close()
            if stream.node is not None:
                seconds = time.monotonic() - opened
                event(logging.INFO, f"stream closed node={stream.node} api={api} service={service} peer={peer} "
                      f"after={seconds:.1f}s: {ended}", event="stream_closed", node=stream.node, api=api,
                      service=service, peer=peer, seconds=round(seconds, 3), reason=ended)

    def _stream_handler(self, api: str, service: str) -> Callable:
        # grpc.aio recognises streaming handlers by being async generator functions.
        async def handler(requests: AsyncIterator, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
            async for data in self._serve(requests, context, api, service):
                yield data

        return handler

    async def fetch_clusters(self, req: discovery_pb2.DiscoveryRequest | Undecodable,
                             context: grpc.aio.ServicerContext) -> bytes:
        """Unary CDS: what the first SotW response would be (06 §2); waits for the first snapshot. An
        undecodable request → ``INVALID_ARGUMENT``."""
        if isinstance(req, Undecodable):
            _log_undecodable(req, None, SOTW, CDS, context.peer())
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, req.message)
        stream = Stream(SOTW, CDS, await self.cache.loaded(), _NoHooks(), self._allowed(context), self.connected)
        try:
            out = stream.on_request(discovery_pb2.DiscoveryRequest(node=req.node, type_url=req.type_url))
            while not out:  # --render connected: the proxy's clusters are being built
                out = stream.on_snapshot(await self.cache.changed())
        except StreamError as exc:
            if exc.code == grpc.StatusCode.PERMISSION_DENIED:
                self.metrics.denied.inc()
            await context.abort(exc.code, exc.message)
        finally:
            stream.close()
        return out[0]

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        sotw = dict(request_deserializer=decoder(discovery_pb2.DiscoveryRequest), response_serializer=_identity)
        delta = dict(request_deserializer=decoder(discovery_pb2.DeltaDiscoveryRequest), response_serializer=_identity)
        cds = grpc.method_handlers_generic_handler("envoy.service.cluster.v3.ClusterDiscoveryService", {
            "StreamClusters": grpc.stream_stream_rpc_method_handler(self._stream_handler(SOTW, CDS), **sotw),
            "DeltaClusters": grpc.stream_stream_rpc_method_handler(self._stream_handler(DELTA, CDS), **delta),
            "FetchClusters": grpc.unary_unary_rpc_method_handler(self.fetch_clusters, **sotw),
        })
        ads = grpc.method_handlers_generic_handler("envoy.service.discovery.v3.AggregatedDiscoveryService", {
            "StreamAggregatedResources": grpc.stream_stream_rpc_method_handler(self._stream_handler(SOTW, ADS), **sotw),
            "DeltaAggregatedResources": grpc.stream_stream_rpc_method_handler(self._stream_handler(DELTA, ADS),
                                                                              **delta),
        })
        return [cds, ads]


class _NoHooks:
    def sent(self, api: str) -> None: ...
    def acked(self, *args: object) -> None: ...
    def nacked(self, *args: object) -> None: ...
    def unknown_node(self, node: str, unknown: bool, reason: str = "") -> None: ...


def make_server() -> grpc.aio.Server:
    """``grpc.aio`` server: no port sharing (a second server on a used port must fail), 16 MiB receive limit,
    pending-call limits raised for reconnect bursts (see :data:`MAX_PENDING_REQUESTS`), at most
    :data:`MAX_STREAMS_PER_CONNECTION` concurrent streams per connection."""
    return grpc.aio.server(options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", RECEIVE_LIMIT),
                                    ("grpc.server.max_pending_requests", MAX_PENDING_REQUESTS),
                                    ("grpc.server.max_pending_requests_hard_limit", MAX_PENDING_REQUESTS_HARD),
                                    ("grpc.max_concurrent_streams", MAX_STREAMS_PER_CONNECTION)])

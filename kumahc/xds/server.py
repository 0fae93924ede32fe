"""The gRPC side of ``serve`` (spec 06 §2): CDS and ADS, SotW and Delta, on ``grpc.aio``.

Responses are pre-serialized bytes (:mod:`kumahc.xds.snapshot`), so the handlers are registered with a
pass-through response serializer instead of the generated stubs' ``SerializeToString``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import grpc
from envoy.service.discovery.v3 import discovery_pb2

from kumahc.xds.cache import SnapshotCache
from kumahc.xds.metrics import Metrics
from kumahc.xds.snapshot import Snapshot
from kumahc.xds.streams import ADS, CDS, DELTA, SOTW, Stream, StreamError, WatchStatus

RECEIVE_LIMIT = 16 * 1024 * 1024
_END = object()


def _identity(data: bytes) -> bytes:
    return data


class XdsServer:
    """Serves the cache's snapshot to every stream; keeps the streams for ``/status``."""

    def __init__(self, cache: SnapshotCache, metrics: Metrics):
        self.cache = cache
        self.metrics = metrics
        self.streams: set[Stream] = set()

    def status(self) -> list[WatchStatus]:
        rows = [w.status for s in self.streams for w in s.watches.values()]
        return sorted(rows, key=lambda r: (r.node, r.api, r.service, r.type_url))

    async def _serve(self, requests: AsyncIterator, context: grpc.aio.ServicerContext, api: str,
                     service: str) -> AsyncIterator[bytes]:
        stream = Stream(api, service, self.cache.snapshot, self.metrics)
        queue: asyncio.Queue = asyncio.Queue()

        def on_snapshot(snapshot: Snapshot) -> None:
            for data in stream.on_snapshot(snapshot):
                queue.put_nowait(data)

        async def read() -> None:
            try:
                async for req in requests:
                    for data in stream.on_request(req):
                        queue.put_nowait(data)
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
                    await context.abort(item.code, item.message)
                yield item
        finally:
            self.cache.unsubscribe(on_snapshot)
            reader.cancel()
            self.streams.discard(stream)
            self.metrics.streams.labels(api).dec()
            stream.close()

    def _stream_handler(self, api: str, service: str) -> Callable:
        # grpc.aio recognises streaming handlers by being async generator functions.
        async def handler(requests: AsyncIterator, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
            async for data in self._serve(requests, context, api, service):
                yield data

        return handler

    async def fetch_clusters(self, req: discovery_pb2.DiscoveryRequest, context: grpc.aio.ServicerContext) -> bytes:
        """Unary CDS: what the first SotW response would be (06 §2)."""
        stream = Stream(SOTW, CDS, self.cache.snapshot, _NoHooks())
        try:
            out = stream.on_request(discovery_pb2.DiscoveryRequest(node=req.node, type_url=req.type_url))
        except StreamError as exc:
            await context.abort(exc.code, exc.message)
        return out[0]

    def handlers(self) -> list[grpc.GenericRpcHandler]:
        sotw = dict(request_deserializer=discovery_pb2.DiscoveryRequest.FromString, response_serializer=_identity)
        delta = dict(request_deserializer=discovery_pb2.DeltaDiscoveryRequest.FromString,
                     response_serializer=_identity)
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
    def acked(self, api: str, seconds: float) -> None: ...
    def nacked(self, *args: object) -> None: ...
    def unknown_node(self, node: str, unknown: bool) -> None: ...


def make_server() -> grpc.aio.Server:
    """``grpc.aio`` server: no port sharing (a second server on a used port must fail), 16 MiB receive limit."""
    return grpc.aio.server(options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", RECEIVE_LIMIT)])

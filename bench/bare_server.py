"""The fan-out floor (``python -m bench.bare_server DATA.pickle``): a bare ``grpc.aio`` CDS server that streams
pre-serialized responses, with no inputs, no policy logic and no snapshot building.

``DATA.pickle`` = ``{"states": [{node id: (version, body)}, ...]}``: ``body`` is a serialized DiscoveryResponse
without nonce (the bytes ``kumahc serve`` sends, taken from ``kumahc.xds.snapshot``). It serves state 0 first;
every ``SIGUSR1`` moves to the next state (cyclically) and pushes it to every stream, following the same SotW rules
as kumahc (spec 06 §5: the nonce appended per response, at most one response in flight per stream, nothing sent
when the version did not change). Unknown nodes get an empty body. Same server options as kumahc (no port
sharing, 16 MiB receive limit). Prints ``xds listening on 127.0.0.1:PORT``; SIGTERM stops it.
"""

from __future__ import annotations

import asyncio
import pickle
import signal
import sys

import grpc
from envoy.service.discovery.v3 import discovery_pb2

from kumahc.xds.snapshot import varint

EMPTY = ("", b"")




def _nonce_field(nonce: str) -> bytes:
    data = nonce.encode()
    return b"\x2a" + varint(len(data)) + data  # field 5 (nonce), length-delimited


class _Stream:
    __slots__ = ("node", "last_sent", "last_nonce", "waiting", "counter", "queue")

    def __init__(self) -> None:
        self.node: str | None = None
        self.last_sent: str | None = None
        self.last_nonce = ""
        self.waiting = False
        self.counter = 0
        self.queue: asyncio.Queue = asyncio.Queue()


class Bare:
    def __init__(self, states: list[dict[str, tuple[str, bytes]]]):
        self.states = states
        self.current = 0
        self.streams: set[_Stream] = set()

    def maybe_send(self, st: _Stream) -> None:
        if not st.waiting:
            return
        version, body = self.states[self.current].get(st.node, EMPTY)
        if version == st.last_sent:
            return
        st.counter += 1
        st.last_nonce = str(st.counter)
        st.queue.put_nowait(body + _nonce_field(st.last_nonce))
        st.last_sent = version
        st.waiting = False

    def on_request(self, st: _Stream, req: discovery_pb2.DiscoveryRequest) -> None:
        if st.node is None:
            st.node = req.node.id
            st.last_sent = req.version_info
        elif req.response_nonce != st.last_nonce:
            return  # stale
        st.waiting = True
        self.maybe_send(st)

    def advance(self) -> None:
        self.current = (self.current + 1) % len(self.states)
        for st in list(self.streams):
            self.maybe_send(st)

    async def stream_clusters(self, requests, context):
        st = _Stream()

        async def read() -> None:
            try:
                async for req in requests:
                    self.on_request(st, req)
            except (asyncio.CancelledError, grpc.aio.AioRpcError):
                pass
            finally:
                st.queue.put_nowait(None)

        self.streams.add(st)
        reader = asyncio.ensure_future(read())
        try:
            while (item := await st.queue.get()) is not None:
                yield item
        finally:
            reader.cancel()
            self.streams.discard(st)


async def main(path: str) -> None:
    with open(path, "rb") as fh:
        states = pickle.load(fh)["states"]
    bare = Bare(states)
    server = grpc.aio.server(options=[("grpc.so_reuseport", 0), ("grpc.max_receive_message_length", 16 << 20)])
    handler = grpc.method_handlers_generic_handler("envoy.service.cluster.v3.ClusterDiscoveryService", {
        "StreamClusters": grpc.stream_stream_rpc_method_handler(
            bare.stream_clusters, request_deserializer=discovery_pb2.DiscoveryRequest.FromString,
            response_serializer=lambda data: data)})
    server.add_generic_rpc_handlers([handler])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    print(f"xds listening on 127.0.0.1:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGUSR1, bare.advance)
    await stop.wait()
    await server.stop(grace=1)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))

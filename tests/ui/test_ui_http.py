"""The operator pages over plain HTTP (issue 22), no browser: where they are mounted, ``--ui/--no-ui``, the
security headers, no inline script or style, escaping of what clients send, the Host check, and the proxies
table's search, filter, sort and pagination."""

from __future__ import annotations

import re
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kumahc_serve import serve

from kumahc.ui import model
from kumahc.ui.web import CSP

MESH = """\
type: Dataplane
name: web-01
networking:
  address: 127.0.0.1
  inbound: [{port: 1, tags: {kuma.io/service: web, kuma.io/protocol: http}}]
"""
PAGES = ("/ui/", "/ui/proxies", "/ui/proxies/default.web-01", "/ui/policies", "/ui/login")


@pytest.fixture
def mesh(tmp_path: Path) -> Path:
    d = tmp_path / "mesh"
    d.mkdir()
    (d / "mesh.yaml").write_text(MESH)
    return d


def test_pages_headers_and_no_inline_code(mesh: Path) -> None:
    with serve(str(mesh)) as s:
        status, _, _ = s.get("/")
        assert status == 200  # urllib followed the redirect to /ui/
        for page in PAGES:
            status, ctype, body = s.get(page)
            assert (status, ctype) == (200, "text/html; charset=utf-8"), page
            assert re.findall(r"<script[^>]*>", body) == ['<script src="/ui/static/ui.js" defer>'], page
            assert not re.search(r"\son\w+=|\sstyle=|javascript:", body), page
        with urllib.request.urlopen(f"http://{s.admin}/ui/proxies", timeout=30) as resp:
            headers = dict(resp.headers)
        assert headers["Content-Security-Policy"] == CSP
        assert CSP == ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
        assert (headers["X-Content-Type-Options"], headers["X-Frame-Options"], headers["Cache-Control"]) == (
            "nosniff", "DENY", "no-store")
        assert s.get("/ui/static/ui.js")[:2] == (200, "text/javascript")
        assert s.get("/ui/static/ui.css")[:2] == (200, "text/css")
        assert s.get("/ui/static/../web.py")[0] == 404
        assert s.get("/ui/proxies/nobody")[0] == 404
        # The admin port's Host check runs before the pages.
        status, _, body = s.get("/ui/", headers={"Host": "evil.example"})
        assert (status, body) == (403, 'forbidden: Host "evil.example" is not one of 127.0.0.1, localhost '
                                       "(add names with --admin-allowed-host)\n")


def test_no_ui(mesh: Path) -> None:
    with serve(str(mesh), args=("--no-ui",)) as s:
        for page in ("/", "/ui", *PAGES):
            assert s.get(page)[0] == 404, page
        assert s.get("/status")[0] == 200


def test_a_nack_message_and_names_are_escaped(mesh: Path) -> None:
    """What a client sends reaches the HTML as text: the node id and Envoy's error_detail."""
    import asyncio

    import grpc
    from envoy.service.cluster.v3 import cds_pb2_grpc
    from envoy.service.discovery.v3 import discovery_pb2

    from kumahc.xds.snapshot import CLUSTER_TYPE

    node = 'a"<b>&'
    message = "<img src=x onerror=alert(1)> & 'quoted'"

    with serve(str(mesh)) as s:
        async def nack() -> None:
            async with grpc.aio.insecure_channel(s.xds) as channel:
                queue: asyncio.Queue = asyncio.Queue()
                await queue.put(discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE, node={"id": node}))

                async def requests():  # noqa: ANN202
                    while True:
                        yield await queue.get()

                call = cds_pb2_grpc.ClusterDiscoveryServiceStub(channel).StreamClusters(requests())
                first = await call.read()
                await queue.put(discovery_pb2.DiscoveryRequest(
                    type_url=CLUSTER_TYPE, node={"id": node}, response_nonce=first.nonce,
                    error_detail={"code": 3, "message": message}))
                for _ in range(600):  # until /status shows the NACK (bounded: 600 x 0.1 s)
                    if message in s.get("/status")[2].replace('\\"', '"'):
                        break
                    await asyncio.sleep(0.1)
                body = s.get("/ui/proxies?state=unknown")[2]
                assert "a&#34;&lt;b&gt;&amp;" in body and node not in body
                assert "&lt;img src=x onerror=alert(1)&gt; &amp; &#39;quoted&#39;" in body and message not in body
                call.cancel()

        asyncio.run(nack())


def _rows(n: int) -> list[model.NodeRow]:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    states = [model.IN_SYNC, model.NACKING, model.PENDING, model.UNKNOWN]
    return [model.NodeRow(f"default.p-{i:05d}", "default", f"default/p-{i:05d}", states[i % 4],
                          start + timedelta(seconds=i)) for i in range(n)]


def test_search_filter_sort_and_pages() -> None:
    rows = _rows(10_000)
    page = model.select(rows)
    assert (page.total, page.page, page.pages, len(page.rows)) == (10_000, 1, 200, 50)
    assert {r.state for r in page.rows} == {model.NACKING}  # worst first
    assert [r.node for r in page.rows[:2]] == ["default.p-00001", "default.p-00005"]
    page = model.select(rows, state=model.PENDING, sort="node", desc=True, page=3, per=100)
    assert (page.total, page.pages, page.rows[0].node) == (2_500, 25, "default.p-09198")
    page = model.select(rows, q="P-0999", sort="since")
    assert [r.node for r in page.rows] == [f"default.p-0999{i}" for i in range(10)]
    assert model.select(rows, page=10**6).page == 200  # past the end: the last page
    assert model.select(rows, q="nothing").rows == []


def test_stream_history_is_bounded(mesh: Path) -> None:
    """The proxy page's history: the last 20 events of a stream, a NACK's message cut at 4,096 characters."""
    from envoy.service.discovery.v3 import discovery_pb2

    from kumahc.pipeline import run
    from kumahc.xds.snapshot import CLUSTER_TYPE, build
    from kumahc.xds.streams import CDS, HISTORY, HISTORY_MESSAGE, SOTW, Stream

    class Hooks:
        def sent(self, *args: object) -> None: ...
        def acked(self, *args: object) -> None: ...
        def nacked(self, *args: object) -> None: ...
        def unknown_node(self, *args: object) -> None: ...

    stream = Stream(SOTW, CDS, build(run([str(mesh)])), Hooks())
    (sent,) = stream.on_request(discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE, node={"id": "default.web-01"}))
    nonce = discovery_pb2.DiscoveryResponse.FromString(sent).nonce
    for _ in range(30):  # each NACK of the same version is answered by nothing: 30 events after the push
        stream.on_request(discovery_pb2.DiscoveryRequest(type_url=CLUSTER_TYPE, node={"id": "default.web-01"},
                                                         response_nonce=nonce,
                                                         error_detail={"message": "x" * 10_000}))
    assert (HISTORY, HISTORY_MESSAGE) == (20, 4096)
    assert [e.kind for e in stream.history] == ["nack"] * 20
    assert {len(e.message) for e in stream.history} == {4096}
    (watch,) = stream.watches.values()
    assert len(watch.status.nack_message) == 10_000  # /status keeps the whole message, as before

"""The operator pages of ``serve --store`` (issue 22) with the real PostgreSQL server (conftest.py): the overview
names the store, its connection and the revision served; a replica serving the parts the store's writer rendered
shows each proxy's clusters as JSON and says where origins are unavailable; a replica that renders the stored
resources itself (``--strict``) shows the policies with their stored origin."""

from __future__ import annotations

import re
from pathlib import Path

from kumahc_serve import serve
from test_store_cli import kumahc, write

MESH = """\
type: Dataplane
name: web-01
mesh: default
labels: {app: web}
networking:
  address: 127.0.0.1
  inbound: [{port: 1, tags: {kuma.io/service: web, kuma.io/protocol: http}}]
---
type: Dataplane
name: api-a
mesh: default
networking:
  address: 127.0.0.1
  inbound: [{port: 10001, tags: {kuma.io/service: api, kuma.io/protocol: http}}]
---
type: MeshHealthCheck
name: web-checks
mesh: default
spec:
  targetRef: {kind: Mesh}
  to:
  - targetRef: {kind: MeshService, name: api}
    default: {interval: 1s, timeout: 1s, unhealthyThreshold: 1, healthyThreshold: 1, http: {path: /health}}
"""


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def test_ui_of_a_store_replica(store: str, tmp_path: Path) -> None:
    r = kumahc("apply", "-f", write(tmp_path, "mesh.yaml", MESH), "--store", store)
    assert r.code == 0, r.err
    with serve(args=("--store", store)) as s:
        s.wait_log("listening on kumahc_store at revision 1")
        status, _, body = s.get("/ui/")
        shown = re.search(r'<td id="store">(.*?)</td>', body, re.S).group(1)
        where = s.get("/status")[2].split('"store": "')[1].split('"')[0]  # the redacted URL, as /status names it
        assert _text(shown) == (f"{where}: connected, revision 1 (store {where}: listening on kumahc_store at "
                                "revision 1)")
        assert "from the store writer's rendered parts" in body
        body = s.get("/ui/proxies/default.web-01")[2]
        assert "&#34;name&#34;: &#34;api&#34;" in body  # the cluster's JSON, from the stored parts
        assert "not available: this snapshot came from the store&#39;s rendered parts" in body
        body = s.get("/ui/policies")[2]
        assert "Policy details need the rendered inputs" in body
    with serve(args=("--store", store, "--strict")) as s:  # renders the stored resources itself
        body = s.get("/ui/policies")[2]
        row = _text(re.search(r"<tbody>(.*?)</tbody>", body, re.S).group(1))
        assert row == ("MeshHealthCheck web-checks default store: MeshHealthCheck default/web-checks "
                       "contributes to 2 clusters on 2 proxies; selects 0 more without contributing -")

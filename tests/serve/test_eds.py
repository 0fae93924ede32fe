"""``--endpoints eds``: the EDS form of the rendered clusters (``render``), and the stream state machines serving
ClusterLoadAssignments over ADS beside the clusters: an endpoint-only change pushes EDS and no CDS."""

from __future__ import annotations

import json
from pathlib import Path

from envoy.config.endpoint.v3 import endpoint_pb2
from envoy.service.discovery.v3 import discovery_pb2
from harness import validate
from helpers import run as cli

from kumahc.pipeline import run
from kumahc.xds import snapshot as snapshots
from kumahc.xds.streams import ADS, DELTA, SOTW, Stream

CLUSTER = snapshots.CLUSTER_TYPE
ENDPOINT = snapshots.ENDPOINT_TYPE
MESH = """\
type: Dataplane
name: web-01
networking:
  address: 10.0.0.1
  inbound: [{{port: 20000, tags: {{kuma.io/service: web, kuma.io/protocol: http}}}}]
  outbound: [{{tags: {{kuma.io/service: backend}}}}, {{tags: {{kuma.io/service: db}}}}]
---
type: Dataplane
name: db-01
networking:
  address: 10.0.0.9
  inbound: [{{port: 5432, tags: {{kuma.io/service: db, kuma.io/protocol: tcp}}}}]
  outbound: []
{backends}
---
type: MeshHealthCheck
name: hc
spec:
  to: [{{targetRef: {{kind: Mesh}}, default: {{interval: 5s, http: {{path: /health}}, tcp: {{}}}}}}]
"""


def backend(i: int) -> str:
    return f"""---
type: Dataplane
name: backend-0{i}
networking:
  address: 10.0.1.{i}
  inbound: [{{port: 20001, tags: {{kuma.io/service: backend, kuma.io/protocol: http}}}}]
  outbound: []
"""


def write_mesh(d: Path, backends: int) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    (d / "mesh.yaml").write_text(MESH.format(backends="".join(backend(i) for i in range(1, backends + 1))))
    return d / "mesh.yaml"


def test_render_eds_is_the_static_clusters_split(tmp_path: Path) -> None:
    path = write_mesh(tmp_path / "m", 2)
    static = cli("render", str(path), "--proxy", "web-01")
    eds = cli("render", str(path), "--proxy", "web-01", "--endpoints", "eds")
    assert (static.code, eds.code) == (0, 0)
    assert cli("render", str(path), "--proxy", "web-01", "--endpoints", "static").out == static.out
    (s,), (e,) = static.json["proxies"], eds.json["proxies"]
    assert [c["name"] for c in e["clusters"]] == [la["cluster_name"] for la in e["load_assignments"]] == [
        "backend", "db"]
    for sc, ec, la in zip(s["clusters"], e["clusters"], e["load_assignments"], strict=True):
        expected = {k: v for k, v in sc.items() if k != "load_assignment"}
        expected["type"] = "EDS"
        assert ec == {**expected, "eds_cluster_config": {"eds_config": {"ads": {}, "resource_api_version": "V3"}}}
        assert list(ec)[:4] == ["@type", "name", "type", "eds_cluster_config"]
        assert la == {"@type": "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment",
                      **sc["load_assignment"]}
    # The EDS clusters load in Envoy (ADS configured, as they require).
    boot = {"node": {"id": "default.web-01", "cluster": "t"},
            "dynamic_resources": {"ads_config": {"api_type": "GRPC", "transport_api_version": "V3",
                                                 "grpc_services": [{"envoy_grpc": {"cluster_name": "xds"}}]}},
            "static_resources": {"clusters": [
                {"name": "xds", "type": "STATIC", "connect_timeout": "1s", "typed_extension_protocol_options": {
                    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                        "explicit_http_config": {"http2_protocol_options": {}}}},
                 "load_assignment": {"cluster_name": "xds", "endpoints": [{"lb_endpoints": [{"endpoint": {
                     "address": {"socket_address": {"address": "127.0.0.1", "port_value": 1}}}}]}]}},
                *({k: v for k, v in c.items() if k != "@type"} for c in e["clusters"])]}}
    code, out = validate(boot)
    assert code == 0, out
    yaml_out = cli("render", str(path), "--endpoints", "eds", "-o", "yaml")
    assert yaml_out.code == 0 and "load_assignments:" in yaml_out.out


def snapshot(d: Path, backends: int) -> snapshots.Snapshot:
    return snapshots.build(run([str(write_mesh(d, backends))]), endpoints="eds")


def parse(data: bytes) -> discovery_pb2.DiscoveryResponse:
    return discovery_pb2.DiscoveryResponse.FromString(data)


def test_sotw_ads_endpoint_change_pushes_eds_only(tmp_path: Path) -> None:
    s2, s3 = snapshot(tmp_path / "two", 2), snapshot(tmp_path / "three", 3)
    key = ("default", "web-01")
    assert s2.proxies[key].version == s3.proxies[key].version  # the clusters do not change
    assert s2.endpoints[key].version != s3.endpoints[key].version
    (web,) = [p for p in json.loads(json.dumps(s2.document))["proxies"] if p["name"] == "web-01"]
    assert [la["cluster_name"] for la in web["load_assignments"]] == ["backend", "db"]  # /config_dump shows them
    st = Stream(SOTW, ADS, s2, _Hooks())
    req = discovery_pb2.DiscoveryRequest(type_url=CLUSTER)
    req.node.id = "default.web-01"
    (r,) = st.on_request(req)
    assert parse(r).type_url == CLUSTER
    st.on_request(discovery_pb2.DiscoveryRequest(type_url=CLUSTER, version_info=parse(r).version_info,
                                                 response_nonce="1"))
    (r,) = st.on_request(discovery_pb2.DiscoveryRequest(type_url=ENDPOINT, resource_names=["backend", "db"]))
    r = parse(r)
    las = [endpoint_pb2.ClusterLoadAssignment.FromString(a.value) for a in r.resources]
    assert [(la.cluster_name, len(la.endpoints[0].lb_endpoints)) for la in las] == [("backend", 2), ("db", 1)]
    st.on_request(discovery_pb2.DiscoveryRequest(type_url=ENDPOINT, version_info=r.version_info,
                                                 response_nonce=r.nonce, resource_names=["backend", "db"]))
    # A third backend: only the assignments are pushed.
    (r,) = st.on_snapshot(s3)
    r = parse(r)
    assert (r.type_url, r.version_info) == (ENDPOINT, s3.endpoints[key].version)
    backend_la = endpoint_pb2.ClusterLoadAssignment.FromString(r.resources[0].value)
    assert [e.endpoint.address.socket_address.address for e in backend_la.endpoints[0].lb_endpoints] == [
        "10.0.1.1", "10.0.1.2", "10.0.1.3"]
    # Envoy asks for a different set of names (a cluster came or went) at the same version: answered again.
    (r,) = st.on_request(discovery_pb2.DiscoveryRequest(type_url=ENDPOINT, version_info=r.version_info,
                                                        response_nonce=r.nonce, resource_names=["backend"]))
    assert parse(r).type_url == ENDPOINT


def test_delta_ads_endpoint_change_and_new_subscription(tmp_path: Path) -> None:
    s2, s3 = snapshot(tmp_path / "two", 2), snapshot(tmp_path / "three", 3)
    st = Stream(DELTA, ADS, s2, _Hooks())
    req = discovery_pb2.DeltaDiscoveryRequest(type_url=CLUSTER)
    req.node.id = "default.web-01"
    (r,) = st.on_request(req)
    st.on_request(discovery_pb2.DeltaDiscoveryRequest(type_url=CLUSTER, response_nonce="1"))
    (r,) = st.on_request(discovery_pb2.DeltaDiscoveryRequest(type_url=ENDPOINT,
                                                             resource_names_subscribe=["backend", "db"]))
    r = discovery_pb2.DeltaDiscoveryResponse.FromString(r)
    assert [x.name for x in r.resources] == ["backend", "db"]
    st.on_request(discovery_pb2.DeltaDiscoveryRequest(type_url=ENDPOINT, response_nonce=r.nonce))
    (r,) = st.on_snapshot(s3)
    r = discovery_pb2.DeltaDiscoveryResponse.FromString(r)
    assert (r.type_url, [x.name for x in r.resources]) == (ENDPOINT, ["backend"])  # db unchanged: not resent
    st.on_request(discovery_pb2.DeltaDiscoveryRequest(type_url=ENDPOINT, response_nonce=r.nonce))
    # Subscribing again to a name (its cluster was re-added) sends it again though its version did not change.
    (r,) = st.on_request(discovery_pb2.DeltaDiscoveryRequest(type_url=ENDPOINT, resource_names_subscribe=["db"],
                                                             response_nonce=r.nonce))
    assert [x.name for x in discovery_pb2.DeltaDiscoveryResponse.FromString(r).resources] == ["db"]


def test_static_snapshot_answers_endpoints_empty(tmp_path: Path) -> None:
    snap = snapshots.build(run([str(write_mesh(tmp_path / "m", 2))]))
    st = Stream(SOTW, ADS, snap, _Hooks())
    req = discovery_pb2.DiscoveryRequest(type_url=ENDPOINT, resource_names=["backend"])
    req.node.id = "default.web-01"
    (r,) = st.on_request(req)
    assert (parse(r).type_url, list(parse(r).resources)) == (ENDPOINT, [])


class _Hooks:
    def sent(self, api: str) -> None: ...
    def acked(self, *args: object) -> None: ...
    def nacked(self, *args: object) -> None: ...
    def unknown_node(self, node: str, unknown: bool, reason: str = "") -> None: ...

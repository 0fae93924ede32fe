"""The mesh view (spec 01 §6–§7): preview mode's synthesised proxies and destinations, destination names,
endpoints and their order, destination protocols, and outbounds. Rendered with MeshHealthCheck policies, whose
checks show each destination's protocol and each proxy's tags. Every test compares exact JSON and exact stderr
lines."""

from __future__ import annotations

import pytest
from helpers import Workspace, dataplane, docs, run
from mhc_helpers import (
    UNKNOWN,
    cluster,
    clusters,
    hc,
    http_check,
    names,
    policy,
    preview_note,
    render,
)

# --- 01 §7: preview mode -------------------------------------------------------------------------------------------

def preview(ws: Workspace, *policies: str, args: tuple[str, ...] = ()) -> tuple[dict, list[str]]:
    ws.write("p.yaml", docs(*policies))
    return render(ws, "p.yaml", *args)


@pytest.mark.parametrize("top, proxy, tags", [
    (None, "any-proxy", "&kuma.io/service=any-proxy&"),
    ("{kind: Mesh}", "any-proxy", "&kuma.io/service=any-proxy&"),
    ("{kind: Dataplane}", "any-proxy", "&kuma.io/service=any-proxy&"),
    ("{kind: MeshSubset}", "any-proxy", "&kuma.io/service=any-proxy&"),
    ("{kind: MeshSubset, tags: {kuma.io/service: web, app: x}}", "web", "&app=x&&kuma.io/service=web&"),
    ("{kind: MeshSubset, tags: {app: x, app.kubernetes.io/name: y}}", "x",
     "&app=x&&app.kubernetes.io/name=y&&kuma.io/service=x&"),
    ("{kind: MeshSubset, tags: {app.kubernetes.io/name: y, zone: z}}", "y",
     "&app.kubernetes.io/name=y&&kuma.io/service=y&&zone=z&"),
    ("{kind: MeshSubset, tags: {zone: z, version: v1, team: a}}", "a-v1-z",
     "&kuma.io/service=a-v1-z&&team=a&&version=v1&&zone=z&"),
    ("{kind: MeshService, name: web}", "web", "&kuma.io/service=web&"),
    ("{kind: MeshServiceSubset, name: web, tags: {version: v1}}", "web", "&kuma.io/service=web&&version=v1&"),
    ("{kind: Dataplane, labels: {app: web, version: v1}}", "web", "&kuma.io/service=web&"),
    ("{kind: Dataplane, labels: {team: a, tier: b}}", "a-b", "&kuma.io/service=a-b&"),
    ("{kind: Dataplane, name: web-01}", "web-01", "&kuma.io/service=web-01&"),
    ("{kind: Dataplane, name: web-01, namespace: ns}", "web-01.ns", "&kuma.io/service=web-01&"),
], ids=["absent", "mesh", "dataplane", "meshsubset-no-tags", "tags-service", "tags-app", "tags-k8s-name",
        "tags-joined", "meshservice", "meshservicesubset", "labels-app", "labels-joined", "name", "name-namespace"])
def test_preview_proxy_names(ws: Workspace, top: str | None, proxy: str, tags: str) -> None:
    """01 §7: one proxy per selector, named by its seed; its tags show in the x-kuma-tags header."""
    doc, lines = preview(ws, policy("p", top, to="{kind: Mesh}"))
    assert names(doc) == [f"default/{proxy}"]
    assert lines[0] == preview_note(f"default/{proxy}")
    assert doc["proxies"][0]["clusters"] == [cluster("any-service", hc=hc(http_check("/p", [
        {"header": {"key": "x-kuma-tags", "value": tags}}])))]


def test_preview_kubernetes_policy_namespace_for_dataplane_name(ws: Workspace) -> None:
    doc, lines = preview(ws, "apiVersion: kuma.io/v1alpha1\nkind: MeshHealthCheck\nmetadata: {name: p, namespace: "
                             "kuma-demo}\nspec:\n  targetRef: {kind: Dataplane, name: web}\n  to: [{targetRef: "
                             "{kind: Mesh}, default: {tcp: {}}}]\n")
    assert lines == [preview_note("default/web.kuma-demo")]
    assert names(doc) == ["default/web.kuma-demo"]


def test_preview_suffixes_and_same_selector(ws: Workspace) -> None:
    doc, lines = preview(
        ws,
        policy("a", "{kind: Dataplane, labels: {app: web}}", to="{kind: Mesh}"),
        policy("b", "{kind: MeshSubset, tags: {kuma.io/service: web}}", to="{kind: Mesh}"),
        policy("c", "{kind: Dataplane, labels: {app: web}}", to="{kind: Mesh}"),  # same selector as a
        policy("d", "{kind: MeshService, name: web}", to="{kind: Mesh}"),  # same tags as b
        policy("e", "{kind: Dataplane, name: web}", to="{kind: Mesh}"),
        policy("f", "{kind: Dataplane, labels: {app: web-2}}", to="{kind: Mesh}"),  # seed web-2 is taken
        policy("g", "{kind: Dataplane, labels: {app: web}}", to="{kind: Mesh}", head="mesh: other"),
    )
    assert names(doc) == ["default/web", "default/web-2", "default/web-2-2", "default/web-3", "other/web"]
    assert lines[0] == preview_note("default/web", "default/web-2", "default/web-2-2", "default/web-3", "other/web")
    by_name = {p["name"]: p for p in doc["proxies"] if p["mesh"] == "default"}
    tags = {n: p["clusters"][0]["health_checks"][0]["http_health_check"]["request_headers_to_add"][0]["header"]["value"]
            for n, p in by_name.items()}
    # labels proxies: tags {kuma.io/service: <proxy name>}; tags proxies: the selector; name proxies: the name
    assert tags == {"web": "&kuma.io/service=web&", "web-2": "&kuma.io/service=web&", "web-3": "&kuma.io/service=web&",
                    "web-2-2": "&kuma.io/service=web-2-2&"}


def test_preview_star_tags_replaced_by_proxy_name(ws: Workspace) -> None:
    doc, lines = preview(ws, policy("p", "{kind: MeshServiceSubset, name: web, tags: {version: '*', zone: z}}",
                                    to="{kind: Mesh}"))
    assert names(doc) == ["default/web"]
    header = doc["proxies"][0]["clusters"][0]["health_checks"][0]["http_health_check"]["request_headers_to_add"][0]
    assert header == {"header": {"key": "x-kuma-tags", "value": "&kuma.io/service=web&&version=web&&zone=z&"}}


@pytest.mark.parametrize("content", [
    "",
    policy("s", head="labels: {kuma.io/effect: shadow}"),
    policy("g", "{kind: MeshGateway, name: edge}"),
    policy("g", "{kind: Mesh, proxyTypes: [Gateway]}"),
], ids=["empty", "shadow", "mesh-gateway", "gateway-proxy-type"])
def test_preview_nothing_synthesised(ws: Workspace, content: str) -> None:
    ws.write("p.yaml", content)
    r = ws.ok("render", "p.yaml")
    assert r.out == '{\n  "proxies": []\n}\n'
    assert not any(line.startswith("info: preview") for line in r.lines)


def test_preview_destinations(ws: Workspace) -> None:
    doc, lines = preview(
        ws,
        policy("a", to="{kind: MeshService, name: backend}"),  # Universal MeshService, port 80
        policy("b", to="{kind: MeshService, name: backend, _port: 9000}"),  # same (name, namespace): nothing new
        policy("c", to="{kind: MeshService, name: api, namespace: ns, sectionName: '8080'}"),
        policy("d", to="{kind: MeshService, name: api, namespace: ns2, sectionName: grpc-port}"),
        policy("e", to="{kind: MeshService, name: db_kuma-demo_svc_5432}"),
        policy("f", to="{kind: MeshService, name: cache, _port: 6379}"),
        policy("g", to="{kind: Mesh}"),  # matches the destinations above: no any-service
        policy("h", to="{kind: MeshService, labels: {app: x}}"),  # labels: no destination
    )
    assert names(doc) == ["default/any-proxy"]
    assert sorted(clusters(doc, "any-proxy")) == ["api_ns2_svc_80", "api_ns_svc_8080", "backend", "cache",
                                                  "db_kuma-demo_svc_5432"]
    assert lines == [preview_note("default/any-proxy"),
                     "warning: p.yaml:39: MeshHealthCheck h: spec.to[0].targetRef: matches no destination"]
    # any-service only when no destination exists yet (input order): Mesh first, then a service
    doc, _ = preview(ws, policy("g", to="{kind: Mesh}"), policy("a", to="{kind: MeshService, name: backend}"))
    assert sorted(clusters(doc, "any-proxy")) == ["any-service", "backend"]
    assert clusters(doc, "any-proxy")["backend"]["health_checks"][0]["http_health_check"]["path"] == "/a"
    assert clusters(doc, "any-proxy")["any-service"]["health_checks"][0]["http_health_check"]["path"] == "/g"


def test_preview_kubernetes_policy_namespace_for_destinations(ws: Workspace) -> None:
    doc, _ = preview(ws, "apiVersion: kuma.io/v1alpha1\nkind: MeshHealthCheck\nmetadata: {name: p, namespace: "
                         "kuma-demo}\nspec:\n  to: [{targetRef: {kind: MeshService, name: backend}, default: "
                         "{tcp: {}}}]\n")
    assert sorted(clusters(doc, "any-proxy")) == ["backend_kuma-demo_svc_80"]


def test_preview_declared_meshservice_is_used(ws: Workspace) -> None:
    ws.write("ms.yaml", "type: MeshService\nname: backend\nspec:\n  ports: [{port: 3000, appProtocol: http2}]\n")
    doc, lines = preview(ws, policy("a", to="{kind: MeshService, name: backend}"), args=("ms.yaml",))
    assert clusters(doc, "any-proxy") == {"backend": cluster("backend", hc=hc(http_check(
        "/a", [{"header": {"key": "x-kuma-tags", "value": "&kuma.io/service=any-proxy&"}}],
        codec_client_type="HTTP2")), http2=True)}


@pytest.mark.parametrize("defaults, args, protocol", [
    (["{tcp: {}}"], (), "tcp"),
    (["{http: {disabled: true}, tcp: {}}"], (), "tcp"),
    (["{http: {}}", "{tcp: {}}"], (), "http"),
    (["{http: {}}", "{grpc: {}}"], (), "grpc"),
    (["{grpc: {disabled: true}, http: {}}"], (), "http"),
    (["{grpc: {}}"], ("--protocol", "http2"), "http2"),
], ids=["tcp", "http-disabled", "http-vote", "grpc-vote", "grpc-disabled", "flag"])
def test_preview_protocol(ws: Workspace, defaults: list[str], args: tuple[str, ...], protocol: str) -> None:
    # the first entry targets the service, the others target the whole mesh: all apply to `backend`
    policies = [policy(f"p{i}", to="{kind: MeshService, name: backend}" if i == 0 else "{kind: Mesh}", default=d)
                for i, d in enumerate(defaults)]
    doc, _ = preview(ws, *policies, args=args)
    backend = clusters(doc, "any-proxy")["backend"]
    assert ("typed_extension_protocol_options" in backend) == (protocol in ("grpc", "http2"))
    checker = next(k for k in backend["health_checks"][0] if k.endswith("_health_check")) \
        if "health_checks" in backend else None
    assert checker == {"tcp": "tcp_health_check", "http": "http_health_check", "grpc": "grpc_health_check",
                       "http2": None}[protocol]


# --- 01 §6: destinations, endpoints, protocols ---------------------------------------------------------------------

def test_destination_names(ws: Workspace) -> None:
    ws.write("mesh.yaml", docs(
        dataplane("web-01", "10.0.0.1", "web", protocol="http"),
        "type: MeshService\nname: single\nspec:\n  ports: [{port: 80}]\n",
        "type: MeshService\nname: multi\nspec:\n  ports: [{port: 3001}, {port: 3002}]\n",
        "apiVersion: kuma.io/v1alpha1\nkind: MeshService\nmetadata: {name: backend, namespace: kuma-demo}\nspec:\n"
        "  ports: [{port: 3001}]\n",
        "apiVersion: v1\nkind: Service\nmetadata: {name: backend, namespace: kuma-demo}\nspec:\n"
        "  ports: [{port: 3001}, {port: 3002, name: admin}]\n",
        "apiVersion: v1\nkind: Service\nmetadata: {name: noports}\nspec: {}\n",
        # an inbound named like a Universal MeshService does not add a destination of its own
        "type: Dataplane\nname: multi-01\nnetworking:\n  address: 10.0.0.5\n  inbound:\n  - port: 3001\n"
        "    tags: {kuma.io/service: multi}\n  outbound:\n  - tags: {kuma.io/service: extra}\n"
        "  - tags: {kuma.io/service: backend_kuma-demo_svc_3001}\n",
    ))
    doc, lines = render(ws, "mesh.yaml")
    assert lines == []
    assert sorted(clusters(doc, "web-01")) == ["backend_kuma-demo_svc_3001", "backend_kuma-demo_svc_3002", "extra",
                                               "multi_3001", "multi_3002", "single", "web"]
    assert sorted(clusters(doc, "multi-01")) == ["backend_kuma-demo_svc_3001", "extra"]


def test_endpoints_order_and_dedup(ws: Workspace) -> None:
    ws.write("mesh.yaml", docs(
        "type: Dataplane\nname: b-dp\nnetworking:\n  address: 10.0.0.2\n  inbound:\n"
        "  - {port: 81, tags: {kuma.io/service: backend}}\n  - {port: 80, tags: {kuma.io/service: backend}}\n"
        "  - {port: 82, address: 10.0.0.9, tags: {kuma.io/service: backend}}\n",
        "type: Dataplane\nname: a-dp\nnetworking:\n  address: 10.0.0.3\n  inbound:\n"
        "  - {port: 80, tags: {kuma.io/service: backend}}\n  - {port: 90, tags: {kuma.io/service: other}}\n",
        "type: Dataplane\nname: c-dp\nnetworking:\n  address: 10.0.0.3\n  inbound:\n"
        "  - {port: 80, tags: {kuma.io/service: backend}}\n",
        "type: Dataplane\nname: d-dp\nmesh: other\nnetworking:\n  address: 10.0.0.7\n  inbound:\n"
        "  - {port: 80, tags: {kuma.io/service: backend}}\n",
    ))
    doc, _ = render(ws, "mesh.yaml")
    assert clusters(doc, "a-dp")["backend"] == cluster(
        "backend", (("10.0.0.3", 80), ("10.0.0.2", 81), ("10.0.0.2", 80), ("10.0.0.9", 82)))
    assert clusters(doc, "d-dp", mesh="other")["backend"] == cluster("backend", (("10.0.0.7", 80),))
    assert names(doc) == ["default/a-dp", "default/b-dp", "default/c-dp", "other/d-dp"]


def test_meshservice_selector_endpoints(ws: Workspace) -> None:
    ws.write("mesh.yaml", docs(
        """\
        type: MeshService
        name: backend
        spec:
          selector: {dataplaneTags: {app: backend}}
          ports:
          - {port: 8080, targetPort: 20001}
          - {port: 9090, targetPort: metrics}
          - {port: 7070}
        """,
        "type: Dataplane\nname: be-1\nnetworking:\n  address: 10.0.0.2\n  inbound:\n"
        "  - {port: 20001, tags: {kuma.io/service: be, app: backend}}\n"
        "  - {port: 20002, name: metrics, tags: {kuma.io/service: be-metrics, app: backend}}\n"
        "  - {port: 7070, tags: {kuma.io/service: be-other, app: other}}\n",
        "type: Dataplane\nname: be-2\nnetworking:\n  address: 10.0.0.3\n  inbound:\n"
        "  - {port: 7070, tags: {kuma.io/service: backend_7070, app: backend}}\n",
    ))
    doc, _ = render(ws, "mesh.yaml")
    got = clusters(doc, "be-1")
    assert got["backend_8080"] == cluster("backend_8080", (("10.0.0.2", 20001),))
    assert got["backend_9090"] == cluster("backend_9090", (("10.0.0.2", 20002),))
    # tag-named inbound (backend_7070) and selector+targetPort (be-2, port 7070) both; be-1's 7070 is app: other
    assert got["backend_7070"] == cluster("backend_7070", (("10.0.0.3", 7070),))


@pytest.mark.parametrize("protocols, args, expected", [
    (["http", "http"], (), "http"),
    (["http", "http2"], (), "tcp"),
    (["http2", "http"], (), "tcp"),
    (["grpc", "http2"], (), "http2"),
    (["http", "tcp"], (), "tcp"),
    (["tls"], (), "none"),
    (["tls", "tcp"], (), "tcp"),
    (["grpc", "grpc", "http2"], (), "http2"),
    (["kafka", "tcp"], (), "tcp"),
    (["mysql", "tcp"], (), "unknown"),
    (["http", None], (), "unknown"),
    ([], (), "unknown"),
    ([], ("--protocol", "grpc"), "grpc"),
    ([None, "http"], ("--protocol", "http2"), "http2"),
    (["HTTP2"], (), "http2"),
    (["Grpc", "GRPC"], (), "grpc"),
    (["websocket"], (), "unknown"),
    (["websocket"], ("--protocol", "tcp"), "tcp"),
    (["http"], ("--protocol", "tcp"), "http"),
], ids=lambda v: "-".join(map(str, v)) if isinstance(v, list | tuple) else str(v))
def test_destination_protocol_from_endpoints(ws: Workspace, protocols: list[str | None], args: tuple[str, ...],
                                             expected: str) -> None:
    dps = [dataplane(f"be-{i}", f"10.0.0.{i + 2}", "backend", protocol=p) for i, p in enumerate(protocols)]
    ws.write("mesh.yaml", docs(dataplane("web-01", "10.0.0.1", "web", protocol="http",
                                         outbound="[{tags: {kuma.io/service: backend}}]"), *dps))
    ws.write("p.yaml", policy("p", default="{tcp: {}, http: {}, grpc: {}}"))
    doc, lines = render(ws, "mesh.yaml", "p.yaml", "--proxy", "web-01", *args)
    assert protocol_of(clusters(doc, "web-01")["backend"], lines) == expected


def protocol_of(c: dict, lines: list[str]) -> str:
    """Tell the destination protocol from a cluster rendered with tcp, http and grpc all enabled (02 §7)."""
    checks = c.get("health_checks", [{}])[0]
    h2 = "typed_extension_protocol_options" in c
    if "grpc_health_check" in checks:
        return "grpc"
    if "http_health_check" in checks:
        return "http2" if checks["http_health_check"].get("codec_client_type") == "HTTP2" and h2 else "http"
    if "tcp_health_check" in checks:
        return "tcp"
    return "unknown" if UNKNOWN in lines else "none"  # tls, kafka, mysql: no checker, no warning


@pytest.mark.parametrize("ms_protocol, svc_protocol, tag, expected", [
    ("http2", "grpc", "tcp", "http2"),
    (None, "grpc", "tcp", "grpc"),
    (None, None, "tcp", "tcp"),
    ("kuma.io/http", None, None, "http"),
    ("Kubernetes.io/h2c", None, None, "http2"),
    ("h3", None, "http", "unknown"),
], ids=["meshservice-first", "service-second", "tags-third", "kuma-prefix", "h2c", "unknown-appProtocol"])
def test_destination_protocol_app_protocol_first(ws: Workspace, ms_protocol: str | None, svc_protocol: str | None,
                                                 tag: str | None, expected: str) -> None:
    ms_app = f", appProtocol: '{ms_protocol}'" if ms_protocol else ""
    svc_app = f", appProtocol: '{svc_protocol}'" if svc_protocol else ""
    ws.write("mesh.yaml", docs(
        dataplane("web-01", "10.0.0.1", "web", protocol="http",
                  outbound="[{tags: {kuma.io/service: backend_ns_svc_80}}]"),
        dataplane("be-1", "10.0.0.2", "backend_ns_svc_80", port=8080, protocol=tag),
        "apiVersion: kuma.io/v1alpha1\nkind: MeshService\nmetadata: {name: backend, namespace: ns}\nspec:\n"
        f"  ports: [{{port: 80{ms_app}}}]\n",
        "apiVersion: v1\nkind: Service\nmetadata: {name: backend, namespace: ns}\nspec:\n"
        f"  ports: [{{port: 80{svc_app}}}]\n",
    ))
    ws.write("p.yaml", policy("p", to="{kind: MeshService, name: backend_ns_svc_80}",
                              default="{tcp: {}, http: {}, grpc: {}}"))
    doc, lines = render(ws, "mesh.yaml", "p.yaml", "--proxy", "web-01")
    c = clusters(doc, "web-01")["backend_ns_svc_80"]
    assert c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"] == {
        "address": "10.0.0.2", "port_value": 8080}
    assert protocol_of(c, [line.replace("backend_ns_svc_80", "backend") for line in lines]) == expected


# --- 01 §6.4: outbounds ---------------------------------------------------------------------------------------------

OUTBOUND_MESH = docs(
    "apiVersion: kuma.io/v1alpha1\nkind: MeshService\nmetadata: {name: api, namespace: ns}\nspec:\n"
    "  ports: [{port: 80}, {port: 81}]\n",
    "apiVersion: kuma.io/v1alpha1\nkind: MeshService\nmetadata: {name: one, namespace: ns}\nspec:\n"
    "  ports: [{port: 90}]\n",
    "type: MeshService\nname: uni\nspec:\n  ports: [{port: 70}]\n",
    dataplane("db-01", "10.0.0.3", "db"),
)


@pytest.mark.parametrize("outbound, expected", [
    (None, ["api_ns_svc_80", "api_ns_svc_81", "db", "one_ns_svc_90", "uni", "web"]),
    ("null", ["api_ns_svc_80", "api_ns_svc_81", "db", "one_ns_svc_90", "uni", "web"]),
    ("[]", []),
    ("[{tags: {kuma.io/service: db}}, {tags: {kuma.io/service: new}}, {tags: {kuma.io/service: db}}]", ["db", "new"]),
    ("[{backendRef: {kind: MeshService, name: api, namespace: ns, port: 81}}]", ["api_ns_svc_81"]),
    ("[{backendRef: {kind: MeshService, name: one, namespace: ns}}]", ["one_ns_svc_90"]),
    ("[{backendRef: {kind: MeshService, name: uni}}]", ["uni"]),
], ids=["absent", "null", "empty", "tags", "backendRef-port", "backendRef-single-port", "backendRef-universal"])
def test_outbounds(ws: Workspace, outbound: str | None, expected: list[str]) -> None:
    ws.write("mesh.yaml", docs(OUTBOUND_MESH, dataplane("web-01", "10.0.0.1", "web", outbound=outbound)))
    doc, lines = render(ws, "mesh.yaml", "--proxy", "web-01")
    assert lines == []
    assert list(clusters(doc, "web-01")) == expected


def test_outbound_created_destination_is_everyones(ws: Workspace) -> None:
    ws.write("mesh.yaml", docs(dataplane("web-01", "10.0.0.1", "web", outbound="[{tags: {kuma.io/service: new}}]"),
                               dataplane("db-01", "10.0.0.3", "db")))
    doc, _ = render(ws, "mesh.yaml")
    assert list(clusters(doc, "db-01")) == ["db", "new", "web"]
    assert list(clusters(doc, "web-01")) == ["new"]


def test_kubernetes_backend_ref_defaults_to_dataplane_namespace(ws: Workspace) -> None:
    ws.write("mesh.yaml", docs(OUTBOUND_MESH, """\
        apiVersion: kuma.io/v1alpha1
        kind: Dataplane
        metadata: {name: web, namespace: ns}
        spec:
          networking:
            address: 10.0.0.1
            inbound: [{port: 80, tags: {kuma.io/service: web}}]
            outbound: [{backendRef: {kind: MeshService, name: one}}, {backendRef: {kind: MeshService, name: uni}}]
        """))
    doc, lines = render(ws, "mesh.yaml", "--proxy", "web.ns")
    assert list(clusters(doc, "web.ns")) == ["one_ns_svc_90"]
    assert lines == ['warning: mesh.yaml:33: Dataplane ns/web: spec.networking.outbound[1]: references unknown '
                     'MeshService "ns/uni"; skipped']


def test_backend_ref_warnings(ws: Workspace) -> None:
    ws.write("mesh.yaml", OUTBOUND_MESH)
    ws.write("web.yaml", """\
        type: Dataplane
        name: web-01
        networking:
          address: 10.0.0.1
          inbound: [{port: 80, tags: {kuma.io/service: web}}]
          outbound:
          - backendRef: {kind: MeshService, name: nope}
          - backendRef:
              kind: MeshService
              name: api
              namespace: ns
          - backendRef:
              kind: MeshService
              name: api
              namespace: ns
              port: 82
          - tags: {kuma.io/service: db}
        """)
    doc, lines = render(ws, "mesh.yaml", "web.yaml", "--proxy", "web-01")
    assert list(clusters(doc, "web-01")) == ["db"]
    assert lines == [
        'warning: web.yaml:7: Dataplane web-01: networking.outbound[0]: references unknown MeshService "nope"; skipped',
        'warning: web.yaml:8: Dataplane web-01: networking.outbound[1].backendRef.port: must be set when MeshService '
        '"ns/api" has several ports; skipped',
        'warning: web.yaml:16: Dataplane web-01: networking.outbound[2].backendRef.port: MeshService "ns/api" has no '
        'port 82; skipped',
    ]
    r = run("render", "--strict", "mesh.yaml", "web.yaml")
    assert r.code == 1 and r.lines[-1] == "found 3 errors"

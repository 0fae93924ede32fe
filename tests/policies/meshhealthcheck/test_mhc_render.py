"""Rendering MeshHealthCheck (spec 02 §4–§9, 01 §6–§7, 05, 07): protocol selection, merge order, the Envoy
mapping, preview mode, destinations and endpoints, outbounds, and the ``render``/``validate`` command line. Every
test compares exact JSON (or bytes) and exact stderr lines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from helpers import DATA, REPO, Workspace, dataplane, docs, run

CLUSTER = "type.googleapis.com/envoy.config.cluster.v3.Cluster"
HTTP2_OPTIONS = {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
    "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
    "explicit_http_config": {"http2_protocol_options": {}}}}
WEB_TAGS = {"header": {"key": "x-kuma-tags", "value": "&kuma.io/protocol=http&&kuma.io/service=web&"}}
UNKNOWN = "warning: destination default/backend: protocol unknown; MeshHealthCheck adds no health check"


def preview_note(*proxies: str) -> str:
    return "info: preview mode: no Dataplane in the inputs; synthesised proxies: " + ", ".join(proxies)


def cluster(name: str, endpoints: tuple[tuple[str, int], ...] = (), hc: dict | None = None, http2: bool = False,
            lb: dict | None = None) -> dict[str, Any]:
    """The expected Cluster JSON of 05 §1."""
    c: dict[str, Any] = {"@type": CLUSTER, "name": name, "type": "STATIC", "connect_timeout": "5s"}
    if hc is not None:
        c["health_checks"] = [hc]
    if lb is not None:
        c["common_lb_config"] = lb
    if endpoints:
        c["load_assignment"] = {"cluster_name": name, "endpoints": [{"lb_endpoints": [
            {"endpoint": {"address": {"socket_address": {"address": a, "port_value": p}}}} for a, p in endpoints]}]}
    if http2:
        c["typed_extension_protocol_options"] = HTTP2_OPTIONS
    return c


def hc(checker: dict, **fields: Any) -> dict[str, Any]:
    """A health check with the 02 §2 defaults unless overridden."""
    return {"timeout": "15s", "interval": "60s", "unhealthy_threshold": 5, "healthy_threshold": 1, **fields, **checker}


def http_check(path: str = "/", headers: list | None = None, **extra: Any) -> dict:
    return {"http_health_check": {"path": path, "request_headers_to_add": headers or [WEB_TAGS], **extra}}


def clusters(doc: dict, proxy: str, mesh: str = "default") -> dict[str, dict]:
    """The clusters of one proxy by name (asserting they are sorted by name)."""
    for p in doc["proxies"]:
        if (p["mesh"], p["name"]) == (mesh, proxy):
            names = [c["name"] for c in p["clusters"]]
            assert names == sorted(names)
            return {c["name"]: c for c in p["clusters"]}
    raise AssertionError(f"no proxy {mesh}/{proxy} in {[(p['mesh'], p['name']) for p in doc['proxies']]}")


def policy(name: str, top: str | None = None, to: str = "{kind: MeshService, name: backend}",
           default: str | None = None, head: str = "") -> str:
    """A Universal MeshHealthCheck in flow style; the default conf sets ``http.path`` to ``/<name>``."""
    default = default or f"{{http: {{path: /{name}}}}}"
    lines = ["type: MeshHealthCheck", f"name: {name}", *([head] if head else []), "spec:"]
    if top is not None:
        lines.append(f"  targetRef: {top}")
    lines.append(f"  to: [{{targetRef: {to}, default: {default}}}]")
    return "\n".join(lines) + "\n"


def web_and_backend(protocol: str | None = "http", backend_protocol: str | None = "http") -> str:
    """web-01 (labels app: web, outbound backend only) and backend-01 (10.0.0.2:20001)."""
    return docs(dataplane("web-01", "10.0.0.1", "web", protocol=protocol, labels={"app": "web"},
                          outbound="[{tags: {kuma.io/service: backend}}]"),
                dataplane("backend-01", "10.0.0.2", "backend", port=20001, protocol=backend_protocol))


def render(ws: Workspace, *args: str) -> tuple[dict, list[str]]:
    r = ws.ok("render", *args)
    return r.json, r.lines


# --- 02 §7: protocol selection --------------------------------------------------------------------------------------

BLOCK = {"-": None, "{}": "{}", "dis": "{disabled: true}"}
PROTOCOL_TABLE = [
    ("tcp", "-", "-", "{}", None),
    ("tcp", "-", "{}", "-", None),
    ("http", "{}", "-", "-", None),
    ("grpc", "{}", "-", "-", None),
    ("grpc", "-", "{}", "-", None),
    ("grpc", "-", "-", "{}", "grpc"),
    ("http", "-", "{}", "-", "http"),
    ("http2", "-", "{}", "-", "http"),
    ("tcp", "{}", "-", "-", "tcp"),
    ("grpc", "-", "-", "dis", None),
    ("http", "-", "dis", "-", None),
    ("http2", "-", "dis", "-", None),
    ("tcp", "dis", "-", "-", None),
    ("http", "{}", "dis", "-", "tcp"),
    ("grpc", "{}", "-", "dis", "tcp"),
    ("grpc", "{}", "{}", "{}", "grpc"),
    ("http", "dis", "dis", "dis", None),
    ("kafka", "{}", "{}", "{}", None),
    ("unknown", "{}", "{}", "{}", None),
]


@pytest.mark.parametrize("protocol, tcp, http, grpc, result", PROTOCOL_TABLE,
                         ids=[f"{p}-tcp{t}-http{h}-grpc{g}" for p, t, h, g, _ in PROTOCOL_TABLE])
def test_protocol_selection(ws: Workspace, protocol: str, tcp: str, http: str, grpc: str, result: str | None) -> None:
    blocks = ", ".join(f"{k}: {BLOCK[v]}" for k, v in (("tcp", tcp), ("http", http), ("grpc", grpc)) if v != "-")
    ws.write("mesh.yaml", web_and_backend(backend_protocol=None if protocol == "unknown" else protocol))
    ws.write("p.yaml", policy("p", default=f"{{{blocks}}}"))
    doc, lines = render(ws, "mesh.yaml", "p.yaml", "--proxy", "web-01")
    assert lines == ([UNKNOWN] if protocol == "unknown" else [])
    checker = {None: None, "tcp": {"tcp_health_check": {}}, "grpc": {"grpc_health_check": {}},
               "http": http_check(**({"codec_client_type": "HTTP2"} if protocol == "http2" else {}))}[result]
    http2 = protocol in ("http2", "grpc")
    assert clusters(doc, "web-01") == {"backend": cluster("backend", (("10.0.0.2", 20001),),
                                                          hc(checker) if checker else None, http2=http2)}


def test_grpc_check_forces_http2_options(ws: Workspace) -> None:
    # --protocol is only for unknown destinations; a grpc destination always gets HTTP/2 options (05 §1)
    ws.write("mesh.yaml", web_and_backend(backend_protocol=None))
    ws.write("p.yaml", policy("p", default="{grpc: {serviceName: svc, authority: backend.local}}"))
    doc, lines = render(ws, "mesh.yaml", "p.yaml", "--proxy", "web-01", "--protocol", "grpc")
    assert lines == []
    assert clusters(doc, "web-01")["backend"] == cluster(
        "backend", (("10.0.0.2", 20001),),
        hc({"grpc_health_check": {"service_name": "svc", "authority": "backend.local"}}), http2=True)


def test_no_checker_still_writes_panic_settings(ws: Workspace) -> None:
    ws.write("mesh.yaml", web_and_backend(backend_protocol="kafka"))
    ws.write("p.yaml", policy("p", default="{healthyPanicThreshold: 60, failTrafficOnPanic: false, http: {}}"))
    doc, _ = render(ws, "mesh.yaml", "p.yaml", "--proxy", "web-01")
    assert clusters(doc, "web-01")["backend"] == cluster(
        "backend", (("10.0.0.2", 20001),), lb={"healthy_panic_threshold": {"value": 60.0}, "zone_aware_lb_config": {}})


# --- 02 §6: priority and merge --------------------------------------------------------------------------------------

def winner(ws: Workspace, *policies: str, extra: tuple[str, ...] = ()) -> str:
    """Render web-01 → backend with ``policies`` in this input order; return the merged ``http.path``."""
    ws.write("mesh.yaml", web_and_backend())
    ws.write("p.yaml", docs(*policies))
    doc, _ = render(ws, "mesh.yaml", *extra, "p.yaml", "--proxy", "web-01")
    return clusters(doc, "web-01")["backend"]["health_checks"][0]["http_health_check"]["path"]


TOP = {
    "absent": None,
    "Mesh": "{kind: Mesh}",
    "Dataplane": "{kind: Dataplane, labels: {app: web}}",
    "MeshSubset": "{kind: MeshSubset, tags: {kuma.io/service: web}}",
    "MeshService": "{kind: MeshService, name: web}",
    "MeshServiceSubset": "{kind: MeshServiceSubset, name: web, tags: {kuma.io/protocol: http}}",
}
RANKED = ["Mesh", "Dataplane", "MeshSubset", "MeshService", "MeshServiceSubset"]


@pytest.mark.parametrize("low, high", [(RANKED[i], RANKED[j]) for i in range(5) for j in range(i + 1, 5)])
def test_key1_top_level_kind_rank(ws: Workspace, low: str, high: str) -> None:
    # the higher rank wins whatever the input order and the names ("aaa" would win a name tie-break)
    assert winner(ws, policy("zzz", TOP[high]), policy("aaa", TOP[low])) == "/zzz"
    assert winner(ws, policy("aaa", TOP[low]), policy("zzz", TOP[high])) == "/zzz"


def test_key1_absent_target_ref_ranks_as_mesh(ws: Workspace) -> None:
    # same rank: key 4 (display name descending) decides, "aaa" merged last
    assert winner(ws, policy("aaa", TOP["absent"]), policy("bbb", TOP["Mesh"])) == "/aaa"
    assert winner(ws, policy("aaa", TOP["Mesh"]), policy("bbb", TOP["absent"])) == "/aaa"
    assert winner(ws, policy("zzz", TOP["Dataplane"]), policy("aaa", TOP["absent"])) == "/zzz"


def test_key2_dataplane_name_beats_labels(ws: Workspace) -> None:
    by_name, by_labels = "{kind: Dataplane, name: web-01}", "{kind: Dataplane, labels: {app: web}}"
    assert winner(ws, policy("zzz", by_name), policy("aaa", by_labels)) == "/zzz"
    assert winner(ws, policy("aaa", by_labels), policy("zzz", by_name)) == "/zzz"
    # Dataplane without name and labels ranks with labels-based ones (key 2 only orders labels < name)
    assert winner(ws, policy("aaa", "{kind: Dataplane}"), policy("bbb", by_labels)) == "/aaa"


def test_key3_to_kind_rank(ws: Workspace) -> None:
    to_mesh, to_service = "{kind: Mesh}", "{kind: MeshService, name: backend}"
    assert winner(ws, policy("zzz", to=to_service), policy("aaa", to=to_mesh)) == "/zzz"
    # key 1 comes first: a Dataplane policy to Mesh beats a Mesh policy to MeshService
    assert winner(ws, policy("zzz", TOP["Dataplane"], to=to_mesh), policy("aaa", to=to_service)) == "/zzz"


def test_key3_section_name_beats_plain_meshservice(ws: Workspace) -> None:
    ws.write("ms.yaml", """\
        type: MeshService
        name: backend
        spec:
          selector: {dataplaneTags: {kuma.io/service: backend}}
          ports: [{port: 20001, name: http, appProtocol: http}]
        """)
    plain, section = "{kind: MeshService, name: backend}", "{kind: MeshService, name: backend, sectionName: http}"
    extra = ("ms.yaml",)
    assert winner(ws, policy("zzz", to=section), policy("aaa", to=plain), extra=extra) == "/zzz"
    assert winner(ws, policy("aaa", to=plain), policy("zzz", to=section), extra=extra) == "/zzz"


def test_key4_display_name_descending(ws: Workspace) -> None:
    assert winner(ws, policy("aaa"), policy("zzz")) == "/aaa"
    assert winner(ws, policy("zzz"), policy("aaa")) == "/aaa"
    # the kuma.io/display-name label replaces the name
    assert winner(ws, policy("aaa", head="labels: {kuma.io/display-name: zzz}"), policy("mmm")) == "/mmm"


def test_key4_uses_metadata_name_not_namespace(ws: Workspace) -> None:
    def k8s(name: str, namespace: str, path: str) -> str:
        return (f"apiVersion: kuma.io/v1alpha1\nkind: MeshHealthCheck\nmetadata: {{name: {name}, namespace: "
                f"{namespace}}}\nspec:\n  to: [{{targetRef: {{kind: Mesh}}, default: {{http: {{path: {path}}}}}}}]\n")

    # "a/b" vs "z/a": by metadata.name, "b" is merged first and "a" (namespace z) wins
    assert winner(ws, k8s("b", "a", "/ab"), k8s("a", "z", "/za")) == "/za"
    assert winner(ws, k8s("a", "z", "/za"), k8s("b", "a", "/ab")) == "/za"


def test_ties_keep_input_order(ws: Workspace) -> None:
    def k8s(namespace: str) -> str:
        return (f"apiVersion: kuma.io/v1alpha1\nkind: MeshHealthCheck\nmetadata: {{name: p, namespace: {namespace}}}"
                f"\nspec:\n  to: [{{targetRef: {{kind: Mesh}}, default: {{http: {{path: /{namespace}}}}}}}]\n")

    assert winner(ws, k8s("one"), k8s("two")) == "/two"
    assert winner(ws, k8s("two"), k8s("one")) == "/one"


def test_ties_keep_to_index_order(ws: Workspace) -> None:
    both = ("type: MeshHealthCheck\nname: p\nspec:\n  to:\n"
            "  - {targetRef: {kind: MeshService, name: backend}, default: {http: {path: /first}}}\n"
            "  - {targetRef: {kind: MeshService, name: backend}, default: {http: {path: /second}}}\n"
            "  - {targetRef: {kind: Mesh}, default: {http: {path: /mesh}}}\n")
    assert winner(ws, both) == "/second"


def test_merge_example_of_the_spec(ws: Workspace) -> None:
    ws.write("mesh.yaml", web_and_backend())
    ws.write("p.yaml", """\
        type: MeshHealthCheck                        # rank 1: merged first
        name: mesh-defaults
        spec:
          to: [{targetRef: {kind: Mesh}, default: {interval: 5s, http: {path: /a, expectedStatuses: [200]}}}]
        ---
        type: MeshHealthCheck                        # rank 2: merged last, wins on conflicts
        name: web-backend
        spec:
          targetRef: {kind: Dataplane, labels: {app: web}}
          to: [{targetRef: {kind: MeshService, name: backend}, default: {http: {expectedStatuses: [204]}}}]
        """)
    doc, lines = render(ws, "mesh.yaml", "p.yaml", "--proxy", "web-01")
    assert lines == []
    assert clusters(doc, "web-01")["backend"]["health_checks"] == json.loads("""[{"timeout": "15s", "interval": "5s",
      "unhealthy_threshold": 5, "healthy_threshold": 1, "http_health_check": {"path": "/a",
      "request_headers_to_add": [{"header": {"key": "x-kuma-tags",
      "value": "&kuma.io/protocol=http&&kuma.io/service=web&"}}],
      "expected_statuses": [{"start": "204", "end": "205"}]}}]""")


def test_merge_replaces_lists_and_never_erases(ws: Workspace) -> None:
    ws.write("mesh.yaml", web_and_backend())
    ws.write("p.yaml", docs(
        policy("low", default="{interval: 5s, reuseConnection: true, healthyPanicThreshold: 30, http: {path: /low, "
                              "expectedStatuses: [200, 201, 202], requestHeadersToAdd: {add: [{name: x-a, value: a}], "
                              "set: [{name: x-s, value: s}]}}}"),
        policy("high", TOP["Dataplane"], default="{reuseConnection: false, healthyPanicThreshold: 0, http: "
                                                  "{expectedStatuses: [204], requestHeadersToAdd: {add: []}}}"),
    ))
    doc, lines = render(ws, "mesh.yaml", "p.yaml", "--proxy", "web-01")
    assert clusters(doc, "web-01")["backend"] == cluster("backend", (("10.0.0.2", 20001),), hc(
        http_check("/low", [WEB_TAGS, {"header": {"key": "x-s", "value": "s"},
                                       "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}],
                   expected_statuses=[{"start": "204", "end": "205"}]),
        interval="5s", reuse_connection=False), lb={"healthy_panic_threshold": {}})


def test_policy_of_other_mesh_or_shadow_contributes_nothing(ws: Workspace) -> None:
    ws.write("mesh.yaml", web_and_backend())
    ws.write("p.yaml", docs(policy("base"), policy("other", head="mesh: other"),
                            policy("aaa", TOP["Dataplane"], head="labels: {kuma.io/effect: shadow}")))
    doc, lines = render(ws, "mesh.yaml", "p.yaml", "--proxy", "web-01")
    assert clusters(doc, "web-01")["backend"]["health_checks"][0]["http_health_check"]["path"] == "/base"
    assert lines == ['warning: p.yaml:8: MeshHealthCheck other: mesh: mesh "other" has no proxies '
                     "(meshes with proxies: default)",
                     "warning: p.yaml:9: MeshHealthCheck other: spec.targetRef: matches no proxy",
                     "info: p.yaml:12: MeshHealthCheck aaa: shadow policy (kuma.io/effect: shadow); not applied"]


# --- 02 §4, §5: selection and destination matching -----------------------------------------------------------------

def test_each_selector_alone(ws: Workspace) -> None:
    ws.write("mesh.yaml", docs(
        dataplane("web-01", "10.0.0.1", "web", protocol="http", labels={"app": "web"}),
        dataplane("web-02", "10.0.0.2", "web", protocol="http", labels={"app": "web", "version": "v2"}),
        dataplane("db-01", "10.0.0.3", "db", protocol="http"),
        """\
        apiVersion: kuma.io/v1alpha1
        kind: Dataplane
        metadata: {name: web-01, namespace: ns}
        spec:
          networking:
            address: 10.0.0.4
            inbound: [{port: 80, tags: {kuma.io/service: web, kuma.io/protocol: http, zone: z}}]
        """))
    expected = {
        "{kind: Mesh, proxyTypes: [Sidecar, Gateway]}": ["db-01", "web-01", "web-01.ns", "web-02"],
        "{kind: Dataplane}": ["db-01", "web-01", "web-01.ns", "web-02"],
        "{kind: Dataplane, labels: {version: v2}}": ["web-02"],
        "{kind: Dataplane, labels: {kuma.io/display-name: web-01}}": ["web-01", "web-01.ns"],
        "{kind: Dataplane, labels: {k8s.kuma.io/namespace: ns}}": ["web-01.ns"],
        "{kind: Dataplane, name: web-01}": ["web-01"],
        "{kind: Dataplane, name: web-01, namespace: ns}": ["web-01.ns"],
        "{kind: MeshSubset, tags: {zone: z}}": ["web-01.ns"],
        "{kind: MeshSubset}": ["db-01", "web-01", "web-01.ns", "web-02"],
        "{kind: MeshService, name: db}": ["db-01"],
        "{kind: MeshServiceSubset, name: web, tags: {zone: '*'}}": ["web-01.ns"],
    }
    for top, names in expected.items():
        ws.write("p.yaml", policy("p", top, to="{kind: MeshService, name: db}"))
        doc, _ = render(ws, "mesh.yaml", "p.yaml")
        got = [p["name"] for p in doc["proxies"]
               if "health_checks" in next(c for c in p["clusters"] if c["name"] == "db")]
        assert got == names, top
    ws.write("p.yaml", policy("p", "{kind: Mesh, proxyTypes: [Gateway]}", to="{kind: MeshService, name: db}"))
    assert ws.ok("validate", "mesh.yaml", "p.yaml").lines == [
        "warning: p.yaml:4: MeshHealthCheck p: spec.targetRef: matches no proxy"]


def test_to_matching_by_identity(ws: Workspace) -> None:
    ws.write("mesh.yaml", docs(
        dataplane("web-01", "10.0.0.1", "web", protocol="http"),
        """\
        apiVersion: kuma.io/v1alpha1
        kind: MeshService
        metadata: {name: backend, namespace: kuma-demo, labels: {team: core}}
        spec:
          selector: {dataplaneTags: {app: backend}}
          ports:
          - {port: 3001, name: http, appProtocol: http}
          - {port: 3002, appProtocol: http}
        """,
        "type: Dataplane\nname: be-01\nnetworking:\n  address: 10.0.0.9\n  inbound:\n  - port: 3001\n"
        "    tags: {kuma.io/service: be, app: backend, kuma.io/protocol: http}\n  - port: 3002\n"
        "    tags: {kuma.io/service: be2, app: backend, kuma.io/protocol: http}\n",
    ))
    cases = {
        "{kind: MeshService, name: backend, namespace: kuma-demo}": ["backend_kuma-demo_svc_3001",
                                                                       "backend_kuma-demo_svc_3002"],
        "{kind: MeshService, name: backend, namespace: kuma-demo, sectionName: http}": ["backend_kuma-demo_svc_3001"],
        "{kind: MeshService, name: backend, namespace: kuma-demo, sectionName: '3002'}": ["backend_kuma-demo_svc_3002"],
        "{kind: MeshService, name: backend_kuma-demo_svc_3002}": ["backend_kuma-demo_svc_3002"],
        "{kind: MeshService, name: backend}": [],
        "{kind: MeshService, labels: {team: core}}": ["backend_kuma-demo_svc_3001", "backend_kuma-demo_svc_3002"],
        "{kind: MeshService, labels: {k8s.kuma.io/namespace: kuma-demo}, sectionName: http}":
            ["backend_kuma-demo_svc_3001"],
        "{kind: MeshService, labels: {kuma.io/display-name: be}}": ["be"],
        "{kind: MeshService, name: web}": ["web"],
    }
    for to, names in cases.items():
        ws.write("p.yaml", policy("p", to=to))
        doc, _ = render(ws, "mesh.yaml", "p.yaml", "--proxy", "web-01")
        got = [n for n, c in clusters(doc, "web-01").items() if "health_checks" in c]
        assert got == names, to


# --- 02 §8: mapping to Envoy ---------------------------------------------------------------------------------------

def test_all_fields_example_of_the_spec(ws: Workspace) -> None:
    ws.write("mesh.yaml", docs("""\
        type: Dataplane
        name: web-01
        networking:
          address: 10.0.0.1
          inbound:
          - {port: 20000, tags: {kuma.io/service: web, version: v1}}
          - {port: 20002, tags: {kuma.io/service: web-admin, version: v1}}
          outbound: [{tags: {kuma.io/service: backend}}]
        """, dataplane("backend-01", "10.0.0.2", "backend", port=20001, protocol="http2")))
    ws.write("p.yaml", """\
        type: MeshHealthCheck
        name: p
        spec:
          to:
          - targetRef: {kind: MeshService, name: backend}
            default: {interval: 10s, timeout: 2s, unhealthyThreshold: 3, healthyThreshold: 1, initialJitter: 13s,
              intervalJitter: 15s, intervalJitterPercent: 10, healthyPanicThreshold: "62.9", failTrafficOnPanic: true,
              eventLogPath: /tmp/hc.log, alwaysLogHealthCheckFailures: true, noTrafficInterval: 16s,
              reuseConnection: false,
              http: {path: /health, expectedStatuses: [200],
                     requestHeadersToAdd: {add: [{name: x-a, value: "1,2"}], set: [{name: x-b, value: v}]}}}
        """)
    doc, lines = render(ws, "mesh.yaml", "p.yaml", "--proxy", "web-01")
    assert lines == ["warning: p.yaml:7: MeshHealthCheck p: spec.to[0].default.healthyPanicThreshold: deprecated in "
                     "Kuma 2.10 (moved to MeshCircuitBreaker); kumahc still applies it"]
    expected = json.loads("""{
"health_checks": [{"timeout": "2s", "interval": "10s", "interval_jitter": "15s", "unhealthy_threshold": 3,
  "healthy_threshold": 1, "reuse_connection": false,
  "http_health_check": {"path": "/health", "request_headers_to_add": [
      {"header": {"key": "x-kuma-tags", "value": "&kuma.io/service=web,web-admin&&version=v1&"}},
      {"header": {"key": "x-a", "value": "1"}}, {"header": {"key": "x-a", "value": "2"}},
      {"header": {"key": "x-b", "value": "v"}, "append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}],
    "expected_statuses": [{"start": "200", "end": "201"}], "codec_client_type": "HTTP2"},
  "no_traffic_interval": "16s", "interval_jitter_percent": 10, "always_log_health_check_failures": true,
  "initial_jitter": "13s",
  "event_logger": [{"name": "envoy.health_check.event_sinks.file", "typed_config": {
      "@type": "type.googleapis.com/envoy.extensions.health_check.event_sinks.file.v3.HealthCheckEventFileSink",
      "event_log_path": "/tmp/hc.log"}}]}],
"common_lb_config": {"healthy_panic_threshold": {"value": 62.9},
                     "zone_aware_lb_config": {"fail_traffic_on_panic": true}}
}""")
    got = clusters(doc, "web-01")["backend"]
    assert got == {**cluster("backend", (("10.0.0.2", 20001),), http2=True), **expected}
    # field-number order of the health check (05 §2), as printed
    assert list(got["health_checks"][0]) == [
        "timeout", "interval", "interval_jitter", "unhealthy_threshold", "healthy_threshold", "reuse_connection",
        "http_health_check", "no_traffic_interval", "interval_jitter_percent", "always_log_health_check_failures",
        "initial_jitter", "event_logger"]


@pytest.mark.parametrize("default, expected_hc, expected_lb", [
    ("{interval: 500ms, timeout: 1m30s, alwaysLogHealthCheckFailures: false, reuseConnection: true, tcp: {}}",
     hc({"tcp_health_check": {}}, interval="0.500s", timeout="90s", reuse_connection=True), None),
    ("{healthyPanicThreshold: 60, tcp: {}}", hc({"tcp_health_check": {}}),
     {"healthy_panic_threshold": {"value": 60.0}}),
    ("{healthyPanicThreshold: '0', failTrafficOnPanic: false, tcp: {}}", hc({"tcp_health_check": {}}),
     {"healthy_panic_threshold": {}, "zone_aware_lb_config": {}}),
    ("{healthyPanicThreshold: '12.50', tcp: {}}", hc({"tcp_health_check": {}}),
     {"healthy_panic_threshold": {"value": 12.5}}),
    ("{tcp: {send: cGluZwo=, receive: [cG9uZwo=, AP8]}}",
     hc({"tcp_health_check": {"send": {"text": "70696e670a"}, "receive": [{"text": "706f6e670a"}, {"text": "00ff"}]}}),
     None),
    ("{tcp: {send: '-_8'}}", hc({"tcp_health_check": {"send": {"text": "fbff"}}}), None),
    ("{unhealthyThreshold: 1, healthyThreshold: 2, intervalJitterPercent: 0, tcp: {}}",
     hc({"tcp_health_check": {}}, unhealthy_threshold=1, healthy_threshold=2), None),
], ids=["durations-bools", "panic-int", "panic-zero", "panic-string", "tcp-payloads", "tcp-urlsafe", "thresholds"])
def test_envoy_mapping(ws: Workspace, default: str, expected_hc: dict, expected_lb: dict | None) -> None:
    ws.write("mesh.yaml", web_and_backend(backend_protocol="tcp"))
    ws.write("p.yaml", policy("p", default=default))
    doc, _ = render(ws, "mesh.yaml", "p.yaml", "--proxy", "web-01")
    assert clusters(doc, "web-01")["backend"] == cluster("backend", (("10.0.0.2", 20001),), expected_hc,
                                                         lb=expected_lb)


def test_http_mapping_statuses_in_given_order_and_headers(ws: Workspace) -> None:
    ws.write("mesh.yaml", web_and_backend())
    ws.write("p.yaml", policy("p", default="{http: {path: '/a?b=c', expectedStatuses: [503, 200, 200], "
                                          "requestHeadersToAdd: {set: [{name: X-Set, value: 'a,,b'}], "
                                          "add: [{name: x-add, value: ' y '}]}}}"))
    doc, lines = render(ws, "mesh.yaml", "p.yaml", "--proxy", "web-01")
    overwrite = {"append_action": "OVERWRITE_IF_EXISTS_OR_ADD"}
    assert clusters(doc, "web-01")["backend"]["health_checks"] == [hc(http_check("/a?b=c", [
        WEB_TAGS, {"header": {"key": "x-add", "value": " y "}},
        {"header": {"key": "X-Set", "value": "a"}, **overwrite}, {"header": {"key": "X-Set"}, **overwrite},
        {"header": {"key": "X-Set", "value": "b"}, **overwrite}],
        expected_statuses=[{"start": "503", "end": "504"}, {"start": "200", "end": "201"},
                           {"start": "200", "end": "201"}]))]
    assert lines == ['warning: p.yaml:4: MeshHealthCheck p: spec.to[0].default.http.requestHeadersToAdd.set[0].value: '
                     'contains ","; split into several values, and with OVERWRITE only the last reaches the wire']


def test_no_kuma_tags_header_for_a_proxy_without_tags(ws: Workspace) -> None:
    # every proxy has kuma.io/service; the header is built from all inbound tags, values of every inbound
    ws.write("mesh.yaml", docs(dataplane("web-01", "10.0.0.1", "web", outbound="[{tags: {kuma.io/service: b}}]"),
                               dataplane("b-01", "10.0.0.2", "b", protocol="http")))
    ws.write("p.yaml", policy("p", to="{kind: Mesh}"))
    doc, _ = render(ws, "mesh.yaml", "p.yaml", "--proxy", "web-01")
    assert clusters(doc, "web-01")["b"]["health_checks"][0]["http_health_check"]["request_headers_to_add"] == [
        {"header": {"key": "x-kuma-tags", "value": "&kuma.io/service=web&"}}]


# --- 02 §9: more worked examples (preview mode) --------------------------------------------------------------------

SEED_003 = """\
type: MeshHealthCheck
name: web-to-backend
spec:
  targetRef: {kind: Dataplane, labels: {app: web}}
  to:
  - targetRef: {kind: MeshService, name: backend, namespace: kuma-demo, sectionName: http, _port: 3001}
    default:
      interval: 10s
      timeout: 2s
      unhealthyThreshold: 3
      healthyThreshold: 1
      http: {path: /health, expectedStatuses: [200, 201]}
"""


def test_section9_seed_003(ws: Workspace) -> None:
    ws.write("p.yaml", SEED_003)
    doc, lines = render(ws, "p.yaml")
    assert lines == [preview_note("default/web")]
    assert doc == {"proxies": [{"mesh": "default", "name": "web", "clusters": [cluster(
        "backend_kuma-demo_svc_3001", hc={"timeout": "2s", "interval": "10s", "unhealthy_threshold": 3,
                                          "healthy_threshold": 1, "http_health_check": {
                                              "path": "/health", "request_headers_to_add": [
                                                  {"header": {"key": "x-kuma-tags", "value": "&kuma.io/service=web&"}}],
                                              "expected_statuses": [{"start": "200", "end": "201"},
                                                                    {"start": "201", "end": "202"}]}})]}]}


def test_section9_seed_003_fallback(ws: Workspace) -> None:
    ws.write("p.yaml", SEED_003.replace("http: {path: /health, expectedStatuses: [200, 201]}",
                                        "tcp: {}\n      http: {disabled: true}"))
    doc, lines = render(ws, "p.yaml", "--protocol", "http")
    assert lines == [preview_note("default/web")]
    assert doc["proxies"][0]["clusters"] == [cluster("backend_kuma-demo_svc_3001", hc={
        "timeout": "2s", "interval": "10s", "unhealthy_threshold": 3, "healthy_threshold": 1, "tcp_health_check": {}})]
    # without --protocol the preview destination is tcp (the http block is disabled): rule 3, same check
    doc2, _ = render(ws, "p.yaml")
    assert doc2 == doc


def test_section9_meshsubset_tcp_payloads(ws: Workspace) -> None:
    ws.write("p.yaml", policy("p", "{kind: MeshSubset, tags: {kuma.io/service: web}}", to="{kind: MeshService, "
                              "name: redis}", default="{tcp: {send: cGluZwo=, receive: [cG9uZwo=]}}"))
    doc, lines = render(ws, "p.yaml")
    assert lines == [preview_note("default/web"),
                     "warning: p.yaml:4: MeshHealthCheck p: spec.targetRef.kind: MeshSubset value for "
                     "'targetRef.kind' is deprecated, use Dataplane with labels instead"]
    assert doc == {"proxies": [{"mesh": "default", "name": "web", "clusters": [cluster("redis", hc={
        "timeout": "15s", "interval": "60s", "unhealthy_threshold": 5, "healthy_threshold": 1,
        "tcp_health_check": {"send": {"text": "70696e670a"}, "receive": [{"text": "706f6e670a"}]}})]}]}


def test_section9_panic_only(ws: Workspace) -> None:
    ws.write("p.yaml", policy("p", to="{kind: MeshService, name: redis}",
                              default="{healthyPanicThreshold: 0, failTrafficOnPanic: true, http: {}}"))
    doc, lines = render(ws, "p.yaml", "--protocol", "tcp")
    assert lines == [preview_note("default/any-proxy"),
                     "warning: p.yaml:4: MeshHealthCheck p: spec.to[0].default.healthyPanicThreshold: deprecated in "
                     "Kuma 2.10 (moved to MeshCircuitBreaker); kumahc still applies it"]
    assert doc == {"proxies": [{"mesh": "default", "name": "any-proxy", "clusters": [cluster("redis", lb={
        "healthy_panic_threshold": {}, "zone_aware_lb_config": {"fail_traffic_on_panic": True}})]}]}


# --- 01 §7: preview mode -------------------------------------------------------------------------------------------

def preview(ws: Workspace, *policies: str, args: tuple[str, ...] = ()) -> tuple[dict, list[str]]:
    ws.write("p.yaml", docs(*policies))
    return render(ws, "p.yaml", *args)


def names(doc: dict) -> list[str]:
    return [f"{p['mesh']}/{p['name']}" for p in doc["proxies"]]


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


# --- 05, 07: the command line ---------------------------------------------------------------------------------------

def test_complete_example_byte_exact(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO / "examples" / "complete")
    r = run("render", "mesh/", "--proxy", "web-01")
    assert (r.code, r.err) == (0, "")
    assert r.out == (DATA / "complete-web-01.json").read_text(encoding="utf-8")


def test_complete_example_all_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO / "examples" / "complete")
    r = run("render", "mesh")
    assert (r.code, r.err) == (0, "")
    doc = r.json
    assert names(doc) == ["default/backend-01", "default/backend-02", "default/web-01"]
    backend = cluster("backend", (("10.0.0.2", 20001), ("10.0.0.3", 20001)), http2=True)
    web = cluster("web", (("10.0.0.1", 20000),))
    for name in ("backend-01", "backend-02"):
        assert clusters(doc, name) == {"backend": backend, "web": web}
    expected_web_01 = json.loads((DATA / "complete-web-01.json").read_text())["proxies"][0]
    assert doc["proxies"][2] == expected_web_01
    assert r.out.startswith('{\n  "proxies": [\n    {\n      "mesh": "default",\n      "name": "backend-01",\n')


def test_render_is_stable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same bytes whatever the memo layer (kumahc/memo.py) holds: a second render in this process is served
    from the first's memo, a render in a fresh process from none; both equal the first."""
    monkeypatch.chdir(REPO / "examples" / "complete")
    first = run("render", "mesh")
    assert (first.code, first.err) == (0, "")
    assert run("render", "mesh").out == first.out
    fresh = subprocess.run([sys.executable, "-m", "kumahc", "render", "mesh"], capture_output=True, text=True,
                           timeout=600, check=False)
    assert (fresh.returncode, fresh.stderr) == (0, "")
    assert fresh.stdout == first.out


def test_proxy_filter(ws: Workspace) -> None:
    ws.write("mesh.yaml", docs(dataplane("web-01", "10.0.0.1", "web", outbound="[]"),
                               dataplane("web-01", "10.0.0.2", "web", mesh="other", outbound="[]"),
                               dataplane("db-01", "10.0.0.3", "db", outbound="[]")))
    ws.write("p.yaml", policy("p", "{kind: Dataplane, labels: {app: nothing}}"))
    warn = ["warning: p.yaml:4: MeshHealthCheck p: spec.targetRef: matches no proxy"]
    doc, lines = render(ws, "mesh.yaml", "p.yaml", "--proxy", "web-01")
    assert doc == {"proxies": [{"mesh": "default", "name": "web-01", "clusters": []},
                               {"mesh": "other", "name": "web-01", "clusters": []}]}
    assert lines == warn  # --proxy never filters stderr
    doc, lines = render(ws, "mesh.yaml", "p.yaml", "--proxy", "other/web-01")
    assert doc == {"proxies": [{"mesh": "other", "name": "web-01", "clusters": []}]}
    r = ws.run("render", "mesh.yaml", "p.yaml", "--proxy", "nope")
    assert (r.code, r.out, r.lines) == (1, "", [*warn, 'error: no proxy matches "nope" (proxy names: db-01, web-01)'])
    r = ws.run("render", "mesh.yaml", "p.yaml", "--proxy", "default/db")
    assert (r.code, r.out, r.lines) == (1, "", [*warn, 'error: no proxy matches "default/db"; '
                                                'did you mean "default/db-01"?'])


def test_format_yaml(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO / "examples" / "complete")
    r = run("render", "mesh", "--proxy", "web-01", "--format", "yaml")
    assert (r.code, r.err) == (0, "")
    expected = json.loads((DATA / "complete-web-01.json").read_text())
    assert r.out == yaml.safe_dump(expected, sort_keys=False, default_flow_style=False, allow_unicode=True,
                                   width=1000000)
    assert r.out.startswith("proxies:\n- mesh: default\n  name: web-01\n  clusters:\n  - '@type': type.googleapis")


def test_format_yaml_empty(ws: Workspace) -> None:
    ws.write("empty.yaml", "")
    assert ws.ok("render", "empty.yaml", "--format", "yaml").out == "proxies: []\n"


def test_output_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.chdir(REPO / "examples" / "complete")
    out = tmp_path / "clusters.json"
    out.write_text("old contents that are longer than nothing")
    r = run("render", "mesh", "--proxy", "web-01", "-o", str(out))
    assert (r.code, r.out, r.err) == (0, "", "")
    assert out.read_text(encoding="utf-8") == (DATA / "complete-web-01.json").read_text(encoding="utf-8")
    r = run("render", "mesh", "--proxy", "web-01", "--output", str(tmp_path / "new.yaml"), "--format", "yaml")
    assert r.code == 0
    assert sorted(os.listdir(tmp_path)) == ["clusters.json", "new.yaml"]  # no temporary file left behind


def test_output_file_unwritable_directory(ws: Workspace) -> None:
    ws.write("empty.yaml", "")
    r = ws.run("render", "empty.yaml", "-o", "missing/out.json")
    assert (r.code, r.out) == (1, "")
    assert len(r.lines) == 1 and r.lines[0].startswith("error: missing/out.json: cannot write: ")


def test_validate_counts(ws: Workspace) -> None:
    ws.write("d/a.yaml", docs(policy("p"), "kind: Deployment\n", dataplane("web-01", "10.0.0.1", "web"),
                              "- type: Mesh\n  name: default\n- type: Mesh\n  name: other\n"))
    ws.write("d/b.yaml", "")
    ws.write("d/c.json", '{"apiVersion": "v1", "kind": "List", "items": [{"apiVersion": "v1", "kind": "Service", '
                         '"metadata": {"name": "s"}, "spec": {"ports": [{"port": 80}]}}]}')
    r = ws.ok("validate", "d")
    assert r.out == "ok: 5 resources in 3 files\n"
    r1 = ws.ok("validate", "d/c.json")
    assert (r1.out, r1.err) == ("ok: 1 resources in 1 files\n", "")


def test_validate_and_render_same_stderr(ws: Workspace) -> None:
    ws.write("mesh.yaml", web_and_backend(backend_protocol=None))
    ws.write("p.yaml", docs(policy("p"), "kind: Foo\n"))
    v, r = ws.ok("validate", "mesh.yaml", "p.yaml"), ws.ok("render", "mesh.yaml", "p.yaml")
    assert v.err == r.err
    assert v.lines[-1] == UNKNOWN


def test_version() -> None:
    r = run("--version")
    assert (r.code, r.out, r.err) == (0, "kumahc 0.1.0\n", "")


def test_python_dash_m(tmp_path: Any) -> None:
    r = subprocess.run([sys.executable, "-m", "kumahc", "--version"], capture_output=True, text=True, timeout=60,
                       cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert (r.returncode, r.stdout, r.stderr) == (0, "kumahc 0.1.0\n", "")


@pytest.mark.parametrize("args", [
    ("render", "--nope", "x.yaml"),
    ("render", "x.yaml", "--format", "xml"),
    ("render", "x.yaml", "--protocol", "foo"),
    ("validate", "x.yaml", "--protocol", "HTTP"),
    ("render",),
    ("validate",),
    ("frobnicate",),
    ("validate", "x.yaml", "--proxy", "web"),
], ids=["unknown-flag", "format-xml", "protocol-foo", "protocol-case", "render-no-path", "validate-no-path",
        "unknown-command", "validate-proxy"])
def test_usage_errors_exit_2(ws: Workspace, args: tuple[str, ...]) -> None:
    ws.write("x.yaml", "")
    r = ws.run(*args)
    assert (r.code, r.out) == (2, "")
    assert "Usage: " in r.err and "Error: " in r.err


def test_unexpected_exception_is_one_line(monkeypatch: pytest.MonkeyPatch, ws: Workspace) -> None:
    import kumahc.cli

    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(kumahc.cli, "run", boom)
    ws.write("a.yaml", "")
    result = CliRunner().invoke(kumahc.cli.main, ["render", "a.yaml"])
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", "error: internal: RuntimeError: boom\n")


def test_help_has_examples() -> None:
    for cmd in ("render", "validate"):
        r = run(cmd, "--help")
        assert r.code == 0
        assert "Examples:" in r.out and f"kumahc {cmd} " in r.out

"""Rendering MeshHealthCheck (spec 02 §4–§9, 05, 07): protocol selection, merge order, the Envoy mapping, the
worked examples in preview mode, and the ``render``/``validate`` command line. The mesh view these renders rest on
(01 §6–§7: preview proxies, destinations, endpoints, outbounds) is tested in tests/mesh/test_mesh_view.py. Every
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
from mhc_helpers import (
    UNKNOWN,
    WEB_TAGS,
    cluster,
    clusters,
    hc,
    http_check,
    policy,
    preview_note,
    render,
)
from mhc_helpers import names as proxy_names


def web_and_backend(protocol: str | None = "http", backend_protocol: str | None = "http") -> str:
    """web-01 (labels app: web, outbound backend only) and backend-01 (10.0.0.2:20001)."""
    return docs(dataplane("web-01", "10.0.0.1", "web", protocol=protocol, labels={"app": "web"},
                          outbound="[{tags: {kuma.io/service: backend}}]"),
                dataplane("backend-01", "10.0.0.2", "backend", port=20001, protocol=backend_protocol))


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
    assert proxy_names(doc) == ["default/backend-01", "default/backend-02", "default/web-01"]
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
    r = run("render", "mesh", "--proxy", "web-01", "-o", "yaml")
    assert (r.code, r.err) == (0, "")
    expected = json.loads((DATA / "complete-web-01.json").read_text())
    assert r.out == yaml.safe_dump(expected, sort_keys=False, default_flow_style=False, allow_unicode=True,
                                   width=1000000)
    assert r.out.startswith("proxies:\n- mesh: default\n  name: web-01\n  clusters:\n  - '@type': type.googleapis")


def test_format_yaml_empty(ws: Workspace) -> None:
    ws.write("empty.yaml", "")
    assert ws.ok("render", "empty.yaml", "-o", "yaml").out == "proxies: []\n"


def test_output_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    monkeypatch.chdir(REPO / "examples" / "complete")
    out = tmp_path / "clusters.json"
    out.write_text("old contents that are longer than nothing")
    r = run("render", "mesh", "--proxy", "web-01", "--output-file", str(out))
    assert (r.code, r.out, r.err) == (0, "", "")
    assert out.read_text(encoding="utf-8") == (DATA / "complete-web-01.json").read_text(encoding="utf-8")
    r = run("render", "mesh", "--proxy", "web-01", "--output-file", str(tmp_path / "new.yaml"), "-o", "yaml")
    assert r.code == 0
    assert sorted(os.listdir(tmp_path)) == ["clusters.json", "new.yaml"]  # no temporary file left behind


def test_output_file_unwritable_directory(ws: Workspace) -> None:
    ws.write("empty.yaml", "")
    r = ws.run("render", "empty.yaml", "--output-file", "missing/out.json")
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
    ("render", "x.yaml", "-o", "xml"),
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
    import kumahc.pipeline

    def boom(*_: Any, **__: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(kumahc.pipeline, "run", boom)
    ws.write("a.yaml", "")
    result = CliRunner().invoke(kumahc.cli.main, ["render", "a.yaml"])
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", "error: internal: RuntimeError: boom\n")


def test_help_has_examples() -> None:
    for cmd in ("render", "validate"):
        r = run(cmd, "--help")
        assert r.code == 0
        assert "Examples:" in r.out and f"kumahc {cmd} " in r.out

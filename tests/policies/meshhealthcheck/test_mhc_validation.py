"""MeshHealthCheck validation (spec 02 §1, §3): every targetRef rule (§3.1), every conf rule (§3.2), the warnings
and notes (§3.3), and ``--strict``. Each test asserts the exact stderr lines and exit code."""

from __future__ import annotations

import pytest
from helpers import REPO, Workspace, dataplane, docs, run

F = "p.yaml"
P = f"{F}:4: MeshHealthCheck p: "  # top-level targetRef line
T = f"{F}:6: MeshHealthCheck p: "  # to[0] / to[0].targetRef line
TOP_ALLOWED = " (allowed: Mesh, MeshSubset, MeshGateway, MeshService, MeshServiceSubset, Dataplane)"
TO_ALLOWED = " (allowed: Mesh, MeshService, MeshExternalService, MeshMultiZoneService)"
D = f"{F}:7: MeshHealthCheck p: "  # to[0].default line
PREVIEW = "info: preview mode: no Dataplane in the inputs; synthesised proxies: default/any-proxy"


def mhc(top: str | None = None, to: str | None = "{kind: Mesh}", default: str = "{tcp: {}}", name: str = "p",
        labels: str | None = None) -> str:
    """A Universal MeshHealthCheck whose lines are fixed: targetRef on line 4, ``to[0]`` (and its targetRef) on
    line 6, ``to[0].default`` on line 7 (flow style, so every field of one object is on one line)."""
    lines = ["type: MeshHealthCheck", f"name: {name}" + (f"\nlabels: {labels}" if labels else ""), "spec:"]
    lines.append(f"  targetRef: {top}" if top is not None else "  # no targetRef")
    lines.append("  to:")
    if to is None:
        lines += [f"  - default: {default}", "    # no targetRef"]
    else:
        lines += [f"  - targetRef: {to}", f"    default: {default}"]
    return "\n".join(lines) + "\n"


def check(ws: Workspace, text: str, expected: list[str], *, ok: bool = False) -> None:
    """Validate ``p.yaml`` alone (preview mode) and compare every stderr line."""
    ws.write(F, text)
    if ok:
        r = ws.ok("validate", F)
        assert r.lines == expected
        assert r.out == "ok: 1 resources in 1 files\n"
    else:
        assert ws.fails("validate", F) == expected


# --- 02 §3.1: targetRef rules -------------------------------------------------------------------------------------

NOT_SET = "must not be set with kind"
DEPRECATED = "value for 'targetRef.kind' is deprecated, use Dataplane with labels instead"
NAME_CHARS = "invalid characters: must consist of lower case alphanumeric characters, '-', '.' and '_'."
TAG_NAME = "tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores"
TAG_VALUE = "tag value must consist of alphanumeric characters, dots, dashes and underscores"
SELECTOR_VALUE = 'tag value must consist of alphanumeric characters, dots, dashes, slashes and underscores or be "*"'
MES_WARN = "spec.to[0].targetRef.kind: MeshExternalService is not supported yet; the entry matches no destination"

TARGET_REF_CASES = [
    # kind absent or ""
    ("top-kind-absent", dict(top="{name: web}"), [P + "spec.targetRef.kind: must be defined"]),
    ("top-kind-empty", dict(top='{kind: ""}'), [P + "spec.targetRef.kind: must be defined"]),
    ("to-kind-absent", dict(to="{name: backend}"), [T + "spec.to[0].targetRef.kind: must be defined"]),
    ("to-without-targetRef", dict(to=None), [T + "spec.to[0].targetRef.kind: must be defined"]),
    # kind not supported at this position
    ("top-MeshExternalService", dict(top="{kind: MeshExternalService, name: e}"),
     [P + "spec.targetRef.kind: value 'MeshExternalService' is not supported" + TOP_ALLOWED]),
    ("top-MeshMultiZoneService", dict(top="{kind: MeshMultiZoneService}"),
     [P + "spec.targetRef.kind: value 'MeshMultiZoneService' is not supported" + TOP_ALLOWED]),
    ("top-unknown", dict(top="{kind: MeshGatewayRoute}"),
     [P + "spec.targetRef.kind: value 'MeshGatewayRoute' is not supported" + TOP_ALLOWED]),
    ("to-Dataplane", dict(to="{kind: Dataplane}"),
     [T + "spec.to[0].targetRef.kind: value 'Dataplane' is not supported" + TO_ALLOWED]),
    ("to-MeshSubset", dict(to="{kind: MeshSubset}"),
     [T + "spec.to[0].targetRef.kind: value 'MeshSubset' is not supported" + TO_ALLOWED]),
    ("to-MeshServiceSubset", dict(to="{kind: MeshServiceSubset, name: b}"),
     [T + "spec.to[0].targetRef.kind: value 'MeshServiceSubset' is not supported" + TO_ALLOWED]),
    ("to-MeshGateway", dict(to="{kind: MeshGateway, name: g}"),
     [T + "spec.to[0].targetRef.kind: value 'MeshGateway' is not supported" + TO_ALLOWED]),
    # after a kind error no other rule runs on that targetRef
    ("kind-error-stops", dict(top='{kind: Foo, name: "BAD!", proxyTypes: [], mesh: m}'),
     [P + "spec.targetRef.kind: value 'Foo' is not supported" + TOP_ALLOWED]),
    ("kind-absent-stops", dict(to='{name: "BAD!", _port: 0, mesh: m}'),
     [T + "spec.to[0].targetRef.kind: must be defined"]),
    # Mesh
    ("top-Mesh-name", dict(top="{kind: Mesh, name: x}"),
     [P + "spec.targetRef.name: using name with kind Mesh is not yet supported"]),
    ("to-Mesh-name", dict(to="{kind: Mesh, name: x}"),
     [T + "spec.to[0].targetRef.name: using name with kind Mesh is not yet supported"]),
    ("Mesh-proxyTypes-empty", dict(top="{kind: Mesh, proxyTypes: []}"),
     [P + "spec.targetRef.proxyTypes: must be undefined or have at least one element"]),
    ("MeshSubset-proxyTypes-empty", dict(top="{kind: MeshSubset, proxyTypes: []}"),
     ["warning: " + P + "spec.targetRef.kind: MeshSubset " + DEPRECATED,
      P + "spec.targetRef.proxyTypes: must be undefined or have at least one element"]),
    ("proxyTypes-unknown", dict(top="{kind: Mesh, proxyTypes: [Sidecar, Ingress]}"),
     [P + "spec.targetRef.proxyTypes[1]: must be one of: Sidecar, Gateway"]),
    # Dataplane
    ("Dataplane-labels-and-name", dict(top="{kind: Dataplane, labels: {app: web}, name: web-01}"),
     [P + "spec.targetRef.labels: either labels or name and namespace must be specified"]),
    ("Dataplane-labels-and-namespace", dict(top="{kind: Dataplane, labels: {app: web}, namespace: ns}"),
     [P + "spec.targetRef.labels: either labels or name and namespace must be specified"]),
    ("Dataplane-sectionName", dict(top="{kind: Dataplane, name: web-01, sectionName: http}"),
     [P + "spec.targetRef.sectionName: can only be used with inbound policies"]),
    # MeshSubset tags (Dataplane tag rules, no "*")
    ("MeshSubset-tag-name", dict(top='{kind: MeshSubset, tags: {"bad key": web}}'),
     ["warning: " + P + "spec.targetRef.kind: MeshSubset " + DEPRECATED,
      P + 'spec.targetRef.tags["bad key"]: ' + TAG_NAME]),
    ("MeshSubset-tag-empty-value", dict(top='{kind: MeshSubset, tags: {version: ""}}'),
     ["warning: " + P + "spec.targetRef.kind: MeshSubset " + DEPRECATED,
      P + 'spec.targetRef.tags["version"]: tag value must be non-empty']),
    ("MeshSubset-tag-star", dict(top='{kind: MeshSubset, tags: {version: "*", app: "a/b"}}'),
     ["warning: " + P + "spec.targetRef.kind: MeshSubset " + DEPRECATED,
      P + 'spec.targetRef.tags["app"]: ' + TAG_VALUE,
      P + 'spec.targetRef.tags["version"]: ' + TAG_VALUE]),
    # name characters
    ("to-MeshService-name-chars", dict(to="{kind: MeshService, name: Backend}"),
     [T + "spec.to[0].targetRef.name: " + NAME_CHARS]),
    ("top-MeshService-name-chars", dict(top="{kind: MeshService, name: Web}"),
     ["warning: " + P + "spec.targetRef.kind: MeshService " + DEPRECATED, P + "spec.targetRef.name: " + NAME_CHARS]),
    ("MeshServiceSubset-name-chars", dict(top="{kind: MeshServiceSubset, name: web!}"),
     ["warning: " + P + "spec.targetRef.kind: MeshServiceSubset " + DEPRECATED,
      P + "spec.targetRef.name: " + NAME_CHARS]),
    ("MeshGateway-name-chars", dict(top="{kind: MeshGateway, name: Edge}"),
     [P + "spec.targetRef.name: " + NAME_CHARS]),
    ("MeshExternalService-name-chars", dict(to="{kind: MeshExternalService, name: a b}"),
     ["warning: " + T + MES_WARN, T + "spec.to[0].targetRef.name: " + NAME_CHARS]),
    # MeshService / MeshExternalService: neither name nor labels
    ("to-MeshService-no-name", dict(to="{kind: MeshService}"),
     [T + "spec.to[0].targetRef: name or labels must be set when kind is MeshService"]),
    ("to-MeshExternalService-no-name", dict(to="{kind: MeshExternalService}"),
     ["warning: " + T + MES_WARN, T + "spec.to[0].targetRef: name or labels must be set when kind is "
                                      "MeshExternalService"]),
    ("to-MeshService-labels-and-name", dict(to="{kind: MeshService, labels: {app: b}, name: backend}"),
     [T + "spec.to[0].targetRef.labels: either labels or name and namespace must be specified"]),
    ("to-MeshService-labels-and-namespace", dict(to="{kind: MeshService, labels: {app: b}, namespace: ns}"),
     [T + "spec.to[0].targetRef.labels: either labels or name and namespace must be specified"]),
    ("top-MeshService-labels-and-name", dict(top="{kind: MeshService, labels: {app: b}, name: web}"),
     ["warning: " + P + "spec.targetRef.kind: MeshService " + DEPRECATED,
      P + "spec.targetRef.labels: either labels or name and namespace must be specified"]),
    ("MeshExternalService-labels-and-name", dict(to="{kind: MeshExternalService, labels: {a: b}, name: e}"),
     ["warning: " + T + MES_WARN, T + "spec.to[0].targetRef.labels: either labels or name must be specified"]),
    ("MeshExternalService-sectionName", dict(to="{kind: MeshExternalService, name: e, sectionName: s}"),
     ["warning: " + T + MES_WARN, T + "spec.to[0].targetRef.sectionName: " + NOT_SET + " MeshExternalService"]),
    # name required
    ("top-MeshService-name-required", dict(top="{kind: MeshService, labels: {app: web}}"),
     ["warning: " + P + "spec.targetRef.kind: MeshService " + DEPRECATED,
      P + "spec.targetRef.name: must be set when kind is MeshService"]),
    ("MeshServiceSubset-name-required", dict(top="{kind: MeshServiceSubset, tags: {version: v1}}"),
     ["warning: " + P + "spec.targetRef.kind: MeshServiceSubset " + DEPRECATED,
      P + "spec.targetRef.name: must be set when kind is MeshServiceSubset"]),
    ("MeshGateway-name-required", dict(top="{kind: MeshGateway}"),
     [P + "spec.targetRef.name: must be set when kind is MeshGateway"]),
    # selector tags of MeshServiceSubset / MeshGateway ("*" allowed, 03 §2 messages)
    ("MeshServiceSubset-tag-name", dict(top='{kind: MeshServiceSubset, name: web, tags: {"a b": x}}'),
     ["warning: " + P + "spec.targetRef.kind: MeshServiceSubset " + DEPRECATED,
      P + 'spec.targetRef.tags["a b"]: ' + TAG_NAME]),
    ("MeshServiceSubset-tag-empty-name", dict(top='{kind: MeshServiceSubset, name: web, tags: {"": x}}'),
     ["warning: " + P + "spec.targetRef.kind: MeshServiceSubset " + DEPRECATED,
      P + "spec.targetRef.tags: tag name must be non-empty"]),
    ("MeshServiceSubset-tag-empty-value", dict(top='{kind: MeshServiceSubset, name: web, tags: {version: ""}}'),
     ["warning: " + P + "spec.targetRef.kind: MeshServiceSubset " + DEPRECATED,
      P + 'spec.targetRef.tags["version"]: tag value must be non-empty']),
    ("MeshGateway-tag-value", dict(top='{kind: MeshGateway, name: edge, tags: {version: "v 1", zone: "*"}}'),
     [P + 'spec.targetRef.tags["version"]: ' + SELECTOR_VALUE]),
    # _port (kumahc)
    ("to-Mesh-_port", dict(to="{kind: Mesh, _port: 80}"), [T + "spec.to[0].targetRef._port: " + NOT_SET + " Mesh"]),
    ("to-MeshExternalService-_port", dict(to="{kind: MeshExternalService, name: e, _port: 80}"),
     ["warning: " + T + MES_WARN, T + "spec.to[0].targetRef._port: " + NOT_SET + " MeshExternalService"]),
    ("to-MeshMultiZoneService-_port", dict(to="{kind: MeshMultiZoneService, name: m, _port: 80}"),
     ["warning: " + T + "spec.to[0].targetRef.kind: MeshMultiZoneService is not supported yet; the entry matches "
                        "no destination",
      T + "spec.to[0].targetRef._port: " + NOT_SET + " MeshMultiZoneService"]),
    ("MeshService-_port-zero", dict(to="{kind: MeshService, name: backend, _port: 0}"),
     [T + "spec.to[0].targetRef._port: port must be in the range [1, 65535]"]),
    ("MeshService-_port-too-big", dict(to="{kind: MeshService, name: backend, _port: 65536}"),
     [T + "spec.to[0].targetRef._port: port must be in the range [1, 65535]"]),
]



@pytest.mark.parametrize("kwargs, expected", [c[1:] for c in TARGET_REF_CASES], ids=[c[0] for c in TARGET_REF_CASES])
def test_target_ref_rule(ws: Workspace, kwargs: dict, expected: list[str]) -> None:
    check(ws, mhc(**kwargs), expected)


# "must not be set with kind K": one test per (kind, field, position)
FORBIDDEN_FIELDS = {
    "mesh": "mesh: m", "tags": "tags: {a: b}", "labels": "labels: {a: b}", "namespace": "namespace: ns",
    "sectionName": "sectionName: s", "proxyTypes": "proxyTypes: [Sidecar]", "name": "name: n",
}
FORBIDDEN = [
    ("top", "Mesh", "", ["mesh", "tags", "labels", "namespace", "sectionName"]),
    ("to", "Mesh", "", ["mesh", "tags", "labels", "namespace", "sectionName"]),
    ("top", "Dataplane", "", ["tags", "mesh", "proxyTypes"]),
    ("top", "MeshSubset", "", ["name", "mesh", "labels", "namespace", "sectionName"]),
    ("to", "MeshService", "name: backend, ", ["mesh", "tags", "proxyTypes"]),
    ("top", "MeshService", "name: web, ", ["mesh", "tags", "proxyTypes"]),
    ("to", "MeshExternalService", "name: e, ", ["mesh", "tags", "proxyTypes"]),
    ("top", "MeshServiceSubset", "name: web, ", ["mesh", "proxyTypes", "labels", "namespace", "sectionName"]),
    ("top", "MeshGateway", "name: edge, ", ["mesh", "proxyTypes", "labels", "namespace", "sectionName"]),
]
FORBIDDEN_CASES = [(pos, kind, base, f) for pos, kind, base, fields in FORBIDDEN for f in fields]


@pytest.mark.parametrize("pos, kind, base, field", FORBIDDEN_CASES,
                         ids=[f"{pos}-{kind}-{f}" for pos, kind, _, f in FORBIDDEN_CASES])
def test_field_not_allowed_with_kind(ws: Workspace, pos: str, kind: str, base: str, field: str) -> None:
    ref = f"{{kind: {kind}, {base}{FORBIDDEN_FIELDS[field]}}}"
    expected = []
    if pos == "top":
        text, at, path = mhc(top=ref), P, "spec.targetRef"
        if kind in ("MeshSubset", "MeshService", "MeshServiceSubset"):
            expected.append("warning: " + P + f"spec.targetRef.kind: {kind} " + DEPRECATED)
    else:
        text, at, path = mhc(to=ref), T, "spec.to[0].targetRef"
        if kind == "MeshExternalService":
            expected.append("warning: " + T + MES_WARN)
    expected.append(f"{at}{path}.{field}: {NOT_SET} {kind}")
    check(ws, text, expected)


def test_top_level_port_is_unknown_field(ws: Workspace) -> None:
    # `_port` is allowed on to[].targetRef only (02 §1)
    check(ws, mhc(top="{kind: Mesh, _port: 80}"), [P + "spec.targetRef._port: unknown field"])


def test_mesh_multizone_service_has_no_field_rules(ws: Workspace) -> None:
    check(ws, mhc(to='{kind: MeshMultiZoneService, name: "Not Valid", mesh: m, labels: {a: b}, sectionName: s}'),
          [PREVIEW, "warning: " + T + "spec.to[0].targetRef.kind: MeshMultiZoneService is not supported yet; the "
                             "entry matches no destination"], ok=True)


def test_several_violations_of_one_target_ref_in_rule_order(ws: Workspace) -> None:
    check(ws, mhc(to="{kind: Mesh, sectionName: s, name: x, mesh: m}"), [
        T + "spec.to[0].targetRef.name: using name with kind Mesh is not yet supported",
        T + "spec.to[0].targetRef.mesh: must not be set with kind Mesh",
        T + "spec.to[0].targetRef.sectionName: must not be set with kind Mesh",
    ])


def test_block_style_lines(ws: Workspace) -> None:
    ws.write(F, """\
        type: MeshHealthCheck
        name: p
        spec:
          targetRef:
            kind: Dataplane
            labels:
              app: web
            name: web-01
          to:
          - targetRef:
              kind: MeshService
              name: Backend
              _port: 0
            default:
              tcp: {}
          - targetRef:
              kind: Mesh
              proxyTypes:
              - Sidecar
              - Bad
            default:
              http:
                expectedStatuses:
                - 200
                - 600
        """)
    assert ws.fails("validate", F) == [
        "p.yaml:6: MeshHealthCheck p: spec.targetRef.labels: either labels or name and namespace must be specified",
        "p.yaml:12: MeshHealthCheck p: spec.to[0].targetRef.name: " + NAME_CHARS,
        "p.yaml:13: MeshHealthCheck p: spec.to[0].targetRef._port: port must be in the range [1, 65535]",
        "p.yaml:20: MeshHealthCheck p: spec.to[1].targetRef.proxyTypes[1]: must be one of: Sidecar, Gateway",
        "p.yaml:25: MeshHealthCheck p: spec.to[1].default.http.expectedStatuses[1]: must be in inclusive range "
        "[100, 599]",
    ]


def test_kubernetes_paths_and_display_name(ws: Workspace) -> None:
    ws.write(F, """\
        apiVersion: kuma.io/v1alpha1
        kind: MeshHealthCheck
        metadata:
          name: p
          namespace: kuma-demo
        spec:
          to:
          - targetRef: {kind: MeshService}
            default: {interval: 0s, tcp: {}}
        """)
    assert ws.fails("validate", F) == [
        "p.yaml:8: MeshHealthCheck kuma-demo/p: spec.to[0].targetRef: name or labels must be set when kind is "
        "MeshService",
        "p.yaml:9: MeshHealthCheck kuma-demo/p: spec.to[0].default.interval: must be greater than zero when defined",
    ]


# --- 02 §3.2: conf rules --------------------------------------------------------------------------------------------

GT0 = "must be greater than zero when defined"
HDRS = "{http: {requestHeadersToAdd: "
CONF_CASES = [
    ("interval-zero", "{interval: 0s, tcp: {}}", [D + "spec.to[0].default.interval: " + GT0]),
    ("interval-negative", "{interval: -5s, tcp: {}}", [D + "spec.to[0].default.interval: " + GT0]),
    ("timeout-zero", '{timeout: "0", tcp: {}}', [D + "spec.to[0].default.timeout: " + GT0]),
    ("timeout-negative", "{timeout: -1ms, tcp: {}}", [D + "spec.to[0].default.timeout: " + GT0]),
    ("unhealthyThreshold-zero", "{unhealthyThreshold: 0, tcp: {}}",
     [D + "spec.to[0].default.unhealthyThreshold: " + GT0]),
    ("healthyThreshold-negative", "{healthyThreshold: -1, tcp: {}}",
     [D + "spec.to[0].default.healthyThreshold: " + GT0]),
    ("initialJitter-zero", "{initialJitter: 0s, tcp: {}}", [D + "spec.to[0].default.initialJitter: " + GT0]),
    ("intervalJitter-negative", "{intervalJitter: -1s, tcp: {}}", [D + "spec.to[0].default.intervalJitter: " + GT0]),
    ("intervalJitterPercent-negative", "{intervalJitterPercent: -1, tcp: {}}",
     [D + "spec.to[0].default.intervalJitterPercent: must be in inclusive range [0, 100]"]),
    ("intervalJitterPercent-101", "{intervalJitterPercent: 101, tcp: {}}",
     [D + "spec.to[0].default.intervalJitterPercent: must be in inclusive range [0, 100]"]),
    ("healthyPanicThreshold-not-a-number", '{healthyPanicThreshold: "abc", tcp: {}}',
     [D + "spec.to[0].default.healthyPanicThreshold: string must be a valid number"]),
    ("healthyPanicThreshold-exponent", '{healthyPanicThreshold: "1e2", tcp: {}}',
     [D + "spec.to[0].default.healthyPanicThreshold: string must be a valid number"]),
    ("healthyPanicThreshold-101", "{healthyPanicThreshold: 101, tcp: {}}",
     [D + "spec.to[0].default.healthyPanicThreshold: must be in inclusive range [0.0, 100.0]"]),
    ("healthyPanicThreshold-string-100.5", '{healthyPanicThreshold: "100.5", tcp: {}}',
     [D + "spec.to[0].default.healthyPanicThreshold: must be in inclusive range [0.0, 100.0]"]),
    ("healthyPanicThreshold-negative", '{healthyPanicThreshold: "-0.1", tcp: {}}',
     [D + "spec.to[0].default.healthyPanicThreshold: must be in inclusive range [0.0, 100.0]"]),
    ("healthyPanicThreshold-float", "{healthyPanicThreshold: 62.9, tcp: {}}",
     [D + "spec.to[0].default.healthyPanicThreshold: must be an integer or a string"]),
    ("noTrafficInterval-zero", "{noTrafficInterval: 0s, tcp: {}}",
     [D + "spec.to[0].default.noTrafficInterval: " + GT0]),
    ("eventLogPath-empty", '{eventLogPath: "", tcp: {}}',
     [D + "spec.to[0].default.eventLogPath: must be a valid path when defined"]),
    ("eventLogPath-relative", "{eventLogPath: tmp/hc.log, tcp: {}}",
     [D + "spec.to[0].default.eventLogPath: must be a valid path when defined"]),
    ("http-path-empty", '{http: {path: ""}}', [D + "spec.to[0].default.http.path: must be defined"]),
    ("http-path-control", '{http: {path: "/a\\tb"}}',
     [D + "spec.to[0].default.http.path: must not contain control characters"]),
    ("http-path-del", '{http: {path: "/a\\x7f"}}',
     [D + "spec.to[0].default.http.path: must not contain control characters"]),
    ("expectedStatuses", "{http: {expectedStatuses: [200, 99, 600, 599, 100]}}",
     [D + "spec.to[0].default.http.expectedStatuses[1]: must be in inclusive range [100, 599]",
      D + "spec.to[0].default.http.expectedStatuses[2]: must be in inclusive range [100, 599]"]),
    ("set-too-long", HDRS + "{set: [" + ", ".join(f"{{name: x-{i}, value: v}}" for i in range(17)) + "]}}}",
     [D + "spec.to[0].default.http.requestHeadersToAdd.set: must have at most 16 elements"]),
    ("add-too-long", HDRS + "{add: [" + ", ".join(f"{{name: x-{i}, value: v}}" for i in range(17)) + "]}}}",
     [D + "spec.to[0].default.http.requestHeadersToAdd.add: must have at most 16 elements"]),
    ("header-name-space", HDRS + '{add: [{name: "x a", value: v}]}}}',
     [D + "spec.to[0].default.http.requestHeadersToAdd.add[0].name: must be a valid HTTP header name"]),
    ("header-name-empty", HDRS + '{set: [{name: "", value: v}]}}}',
     [D + "spec.to[0].default.http.requestHeadersToAdd.set[0].name: must be a valid HTTP header name"]),
    ("header-name-colon", HDRS + '{set: [{name: ":authority", value: v}]}}}',
     [D + "spec.to[0].default.http.requestHeadersToAdd.set[0].name: must be a valid HTTP header name"]),
    ("header-name-too-long", HDRS + "{add: [{name: " + "a" * 257 + ", value: v}]}}}",
     [D + "spec.to[0].default.http.requestHeadersToAdd.add[0].name: must be a valid HTTP header name"]),
    ("header-name-host", HDRS + "{add: [{name: x-ok, value: v}, {name: Host, value: v}]}}}",
     [D + 'spec.to[0].default.http.requestHeadersToAdd.add[1].name: must not be "host"']),
    ("header-value-newline", HDRS + '{set: [{name: x-a, value: "a\\nb"}]}}}',
     [D + "spec.to[0].default.http.requestHeadersToAdd.set[0].value: must not contain NUL, CR or LF"]),
    ("header-value-nul", HDRS + '{add: [{name: x-a, value: "a\\0b"}]}}}',
     [D + "spec.to[0].default.http.requestHeadersToAdd.add[0].value: must not contain NUL, CR or LF"]),
    ("tcp-send-empty", '{tcp: {send: ""}}', [D + "spec.to[0].default.tcp.send: must not be empty"]),
    ("tcp-send-padding-only", '{tcp: {send: "=="}}', [D + "spec.to[0].default.tcp.send: must not be empty"]),
    ("tcp-send-not-base64", '{tcp: {send: "not base64!"}}', [D + "spec.to[0].default.tcp.send: must be valid base64"]),
    ("tcp-send-length-mod-4", '{tcp: {send: "abcde"}}', [D + "spec.to[0].default.tcp.send: must be valid base64"]),
    ("tcp-send-whitespace", '{tcp: {send: "cGlu Zwo="}}', [D + "spec.to[0].default.tcp.send: must be valid base64"]),
    ("tcp-receive", '{tcp: {receive: [cG9uZwo=, "", "a*b="]}}',
     [D + "spec.to[0].default.tcp.receive[1]: must not be empty",
      D + "spec.to[0].default.tcp.receive[2]: must be valid base64"]),
    ("grpc-authority", '{grpc: {authority: "a\\rb"}}',
     [D + "spec.to[0].default.grpc.authority: must not contain NUL, CR or LF"]),
    ("no-checker-block", "{interval: 10s}",
     [D + "spec.to[0].default: must have at least one defined: http, tcp, grpc"]),
    ("default-empty", "{}", [D + "spec.to[0].default: must have at least one defined: http, tcp, grpc"]),
    ("default-absent", "null", [D + "spec.to[0].default: must have at least one defined: http, tcp, grpc"]),
    # several problems on one line: the order of the rule table
    ("rule-order", '{grpc: {authority: "\\n"}, eventLogPath: x, noTrafficInterval: 0s, intervalJitterPercent: 200, '
                   "initialJitter: 0s, healthyThreshold: 0, timeout: 0s, interval: 0s}",
     [D + "spec.to[0].default.interval: " + GT0, D + "spec.to[0].default.timeout: " + GT0,
      D + "spec.to[0].default.healthyThreshold: " + GT0, D + "spec.to[0].default.initialJitter: " + GT0,
      D + "spec.to[0].default.intervalJitterPercent: must be in inclusive range [0, 100]",
      D + "spec.to[0].default.noTrafficInterval: " + GT0,
      D + "spec.to[0].default.eventLogPath: must be a valid path when defined",
      D + "spec.to[0].default.grpc.authority: must not contain NUL, CR or LF"]),
]


@pytest.mark.parametrize("default, expected", [c[1:] for c in CONF_CASES], ids=[c[0] for c in CONF_CASES])
def test_conf_rule(ws: Workspace, default: str, expected: list[str]) -> None:
    check(ws, mhc(default=default), expected)


def test_default_absent_reports_the_to_item(ws: Workspace) -> None:
    ws.write(F, """\
        type: MeshHealthCheck
        name: p
        spec:
          to:
          - targetRef: {kind: Mesh}
        """)
    assert ws.fails("validate", F) == [
        "p.yaml:5: MeshHealthCheck p: spec.to[0].default: must have at least one defined: http, tcp, grpc"]


@pytest.mark.parametrize("default", [
    "{interval: 1ns, timeout: 1h30m, unhealthyThreshold: 1, healthyThreshold: 1, initialJitter: 0.5s, "
    "intervalJitter: 1us, intervalJitterPercent: 0, noTrafficInterval: 1m, tcp: {}}",
    "{intervalJitterPercent: 100, eventLogPath: 'C:\\\\logs\\\\hc.log', http: {path: /health, "
    "expectedStatuses: [100, 599]}}",
    "{http: {requestHeadersToAdd: {add: [{name: Content-Type, value: 'a,b'}], "
    "set: [{name: \"x!#$%&'*+-.^_`|~\", value: v}]}}}",
    "{tcp: {send: '-_8=', receive: [cGluZw, 'cGluZwo=']}}",
    "{grpc: {serviceName: s, authority: a.example}}",
])
def test_conf_accepted(ws: Workspace, default: str) -> None:
    check(ws, mhc(default=default), [PREVIEW], ok=True)


def test_healthy_panic_threshold_bounds_accepted_with_warning(ws: Workspace) -> None:
    ws.write(F, docs(mhc(default="{healthyPanicThreshold: 0, tcp: {}}", name="a"),
                     mhc(default='{healthyPanicThreshold: "100.0", tcp: {}}', name="b"),
                     mhc(default='{healthyPanicThreshold: ".5", tcp: {}}', name="c")))
    warn = "spec.to[0].default.healthyPanicThreshold: deprecated in Kuma 2.10 (moved to MeshCircuitBreaker); " \
           "kumahc still applies it"
    r = ws.ok("validate", F)
    assert r.lines == [PREVIEW, f"warning: p.yaml:7: MeshHealthCheck a: {warn}",
                       f"warning: p.yaml:15: MeshHealthCheck b: {warn}",
                       f"warning: p.yaml:23: MeshHealthCheck c: {warn}"]


def test_bad_example_of_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    """02 §3.2: examples/invalid/bad.yaml gives exactly 7 errors."""
    monkeypatch.chdir(REPO / "examples" / "invalid")
    assert (REPO / "examples/invalid/bad.yaml").read_text().splitlines() == [
        "type: MeshHealthCheck", "name: bad", "mesh: default", "spec:", "  targetRef:", "    kind: MeshGatewayRoute",
        "  to:", "  - targetRef:", "      kind: MeshService", "    default:", "      interval: -5s",
        "      intervalJitterPercent: 110", '      eventLogPath: "#not_valid_path"', "      tcp:",
        '        send: "not base64!"', "  - targetRef: {kind: Mesh}", "    default: {}"]
    r = run("validate", "bad.yaml")
    assert r.code == 1
    assert r.out == ""
    assert r.err == (
        "bad.yaml:6: MeshHealthCheck bad: spec.targetRef.kind: value 'MeshGatewayRoute' is not supported "
        "(allowed: Mesh, MeshSubset, MeshGateway, MeshService, MeshServiceSubset, Dataplane)\n"
        "bad.yaml:8: MeshHealthCheck bad: spec.to[0].targetRef: name or labels must be set when kind is MeshService\n"
        "bad.yaml:11: MeshHealthCheck bad: spec.to[0].default.interval: must be greater than zero when defined\n"
        "bad.yaml:12: MeshHealthCheck bad: spec.to[0].default.intervalJitterPercent: must be in inclusive range "
        "[0, 100]\n"
        "bad.yaml:13: MeshHealthCheck bad: spec.to[0].default.eventLogPath: must be a valid path when defined\n"
        "bad.yaml:15: MeshHealthCheck bad: spec.to[0].default.tcp.send: must be valid base64\n"
        "bad.yaml:17: MeshHealthCheck bad: spec.to[1].default: must have at least one defined: http, tcp, grpc\n"
        "found 7 errors\n")
    # render prints the same lines and no document
    r2 = run("render", "bad.yaml")
    assert (r2.code, r2.out, r2.err) == (1, "", r.err)


# --- 02 §1: shape -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("type: MeshHealthCheck\nname: p\n", ["p.yaml:1: MeshHealthCheck p: spec: must be defined"]),
    ("type: MeshHealthCheck\nname: p\nspec:\n  to: []\n  from: []\n",
     ["p.yaml:5: MeshHealthCheck p: spec.from: unknown field"]),
    ("type: MeshHealthCheck\nname: p\nspec:\n  targetRef: {kind: Mesh, port: 1}\n",
     ["p.yaml:4: MeshHealthCheck p: spec.targetRef.port: unknown field"]),
    ("type: MeshHealthCheck\nname: p\nspec:\n  to:\n  - targetRef: {kind: Mesh}\n    default: {tcp: {}}\n"
     "    defaults: {}\n", ["p.yaml:7: MeshHealthCheck p: spec.to[0].defaults: unknown field"]),
    ("type: MeshHealthCheck\nname: p\nspec:\n  to:\n  - targetRef: {kind: Mesh}\n    default:\n"
     "      intervall: 5s\n      tcp: {sent: aGk=}\n      http: {paths: /}\n      grpc: {service: s}\n",
     ["p.yaml:7: MeshHealthCheck p: spec.to[0].default.intervall: unknown field",
      "p.yaml:8: MeshHealthCheck p: spec.to[0].default.tcp.sent: unknown field",
      "p.yaml:9: MeshHealthCheck p: spec.to[0].default.http.paths: unknown field",
      "p.yaml:10: MeshHealthCheck p: spec.to[0].default.grpc.service: unknown field"]),
    ("type: MeshHealthCheck\nname: p\nspec:\n  to:\n  - targetRef: {kind: Mesh}\n    default:\n      http:\n"
     "        requestHeadersToAdd:\n          replace: []\n          set:\n          - {name: a, value: b, x: c}\n"
     "          - {value: b}\n",
     ["p.yaml:9: MeshHealthCheck p: spec.to[0].default.http.requestHeadersToAdd.replace: unknown field",
      "p.yaml:11: MeshHealthCheck p: spec.to[0].default.http.requestHeadersToAdd.set[0].x: unknown field",
      "p.yaml:12: MeshHealthCheck p: spec.to[0].default.http.requestHeadersToAdd.set[1].name: must be defined"]),
], ids=["spec-required", "spec-unknown", "targetRef-unknown", "to-unknown", "conf-unknown", "headers-unknown"])
def test_shape(ws: Workspace, text: str, expected: list[str]) -> None:
    check(ws, text, expected)


@pytest.mark.parametrize("spec, line", [("spec: {}", 3), ("spec:\n  to: []", 4)], ids=["to-absent", "to-empty"])
def test_no_entries_warning(ws: Workspace, spec: str, line: int) -> None:
    check(ws, f"type: MeshHealthCheck\nname: p\n{spec}\n",
          [PREVIEW, f"warning: p.yaml:{line}: MeshHealthCheck p: spec.to: no entries; the policy has no effect"],
          ok=True)


# --- 02 §3.3: warnings and notes ----------------------------------------------------------------------------------

MESH = docs(dataplane("web-01", "10.0.0.1", "web", protocol="http", labels={"app": "web"}),
            dataplane("backend-01", "10.0.0.2", "backend", port=20001, protocol="http"))


@pytest.mark.parametrize("kind, ref", [("MeshSubset", "{kind: MeshSubset, tags: {kuma.io/service: web}}"),
                                       ("MeshService", "{kind: MeshService, name: web}"),
                                       ("MeshServiceSubset", "{kind: MeshServiceSubset, name: web, tags: {a: b}}")])
def test_deprecated_top_level_kind(ws: Workspace, kind: str, ref: str) -> None:
    check(ws, mhc(top=ref), ["info: preview mode: no Dataplane in the inputs; synthesised proxies: default/web",
                             f"warning: {P}spec.targetRef.kind: {kind} {DEPRECATED}"], ok=True)


def test_healthy_panic_threshold_deprecated(ws: Workspace) -> None:
    check(ws, mhc(default='{healthyPanicThreshold: "62.9", tcp: {}}'),
          [PREVIEW, f"warning: {D}spec.to[0].default.healthyPanicThreshold: deprecated in Kuma 2.10 (moved to "
           "MeshCircuitBreaker); kumahc still applies it"], ok=True)


def test_mesh_gateway_matches_no_proxy(ws: Workspace) -> None:
    ws.write("a.yaml", MESH)
    ws.write(F, mhc(top="{kind: MeshGateway, name: edge}"))
    r = ws.ok("validate", "a.yaml", F)
    # no gateway proxy is served by MeshGateway "edge" (issue 20: MeshGateway policies are applied)
    assert r.lines == [f"warning: {P}spec.targetRef: matches no proxy"]


@pytest.mark.parametrize("kind", ["MeshExternalService", "MeshMultiZoneService"])
def test_unsupported_to_kinds(ws: Workspace, kind: str) -> None:
    ws.write("a.yaml", MESH)
    ws.write(F, mhc(to=f"{{kind: {kind}, name: x}}"))
    r = ws.ok("validate", "a.yaml", F)
    assert r.lines == [f"warning: {T}spec.to[0].targetRef.kind: {kind} is not supported yet; the entry matches no "
                       "destination"]


def test_comma_in_set_value_once_per_policy_and_header(ws: Workspace) -> None:
    ws.write(F, """\
        type: MeshHealthCheck
        name: p
        spec:
          to:
          - targetRef: {kind: Mesh}
            default:
              http:
                requestHeadersToAdd:
                  add:
                  - {name: x-add, value: "1,2"}
                  set:
                  - {name: x-a, value: "1,2"}
                  - {name: x-a, value: "3,4"}
                  - {name: x-b, value: "5"}
                  - {name: x-b, value: "5,6"}
          - targetRef: {kind: MeshService, name: backend}
            default:
              http:
                requestHeadersToAdd:
                  set:
                  - {name: x-a, value: "7,8"}
                  - {name: x-c, value: "9,0"}
        ---
        type: MeshHealthCheck
        name: q
        spec:
          to:
          - targetRef: {kind: Mesh}
            default: {http: {requestHeadersToAdd: {set: [{name: x-a, value: "1,2"}]}}}
        """)
    msg = 'contains ","; split into several values, and with OVERWRITE only the last reaches the wire'
    r = ws.ok("validate", F)
    assert r.lines == [
        PREVIEW,
        f"warning: p.yaml:12: MeshHealthCheck p: spec.to[0].default.http.requestHeadersToAdd.set[0].value: {msg}",
        f"warning: p.yaml:15: MeshHealthCheck p: spec.to[0].default.http.requestHeadersToAdd.set[3].value: {msg}",
        f"warning: p.yaml:22: MeshHealthCheck p: spec.to[1].default.http.requestHeadersToAdd.set[1].value: {msg}",
        f"warning: p.yaml:29: MeshHealthCheck q: spec.to[0].default.http.requestHeadersToAdd.set[0].value: {msg}",
    ]


def test_port_outside_preview_is_ignored_with_warning(ws: Workspace) -> None:
    ws.write("a.yaml", MESH)
    ws.write(F, mhc(to="{kind: MeshService, name: backend, _port: 8080}"))
    r = ws.ok("validate", "a.yaml", F)
    assert r.lines == [f"warning: {T}spec.to[0].targetRef._port: documentation-only field; ignored"]


def test_port_in_preview_is_silent(ws: Workspace) -> None:
    check(ws, mhc(to="{kind: MeshService, name: backend, _port: 8080}"), [PREVIEW], ok=True)


def test_matches_no_proxy(ws: Workspace) -> None:
    ws.write("a.yaml", MESH)
    ws.write(F, mhc(top="{kind: Dataplane, labels: {app: nothing}}"))
    r = ws.ok("validate", "a.yaml", F)
    assert r.lines == [f"warning: {P}spec.targetRef: matches no proxy"]


def test_matches_no_proxy_without_target_ref_line(ws: Workspace) -> None:
    # other mesh: selects no proxy; the targetRef is absent, so the line is that of `spec`
    ws.write("a.yaml", MESH)
    ws.write(F, "type: MeshHealthCheck\nname: p\nmesh: other\nspec:\n  to: [{targetRef: {kind: Mesh}, "
                "default: {tcp: {}}}]\n")
    r = ws.ok("validate", "a.yaml", F)
    assert r.lines == ['warning: p.yaml:3: MeshHealthCheck p: mesh: mesh "other" has no proxies '
                       "(meshes with proxies: default)",
                       "warning: p.yaml:4: MeshHealthCheck p: spec.targetRef: matches no proxy"]


def test_matches_no_destination(ws: Workspace) -> None:
    ws.write("a.yaml", MESH)
    ws.write(F, docs(mhc(to="{kind: MeshService, name: redis}"),
                     mhc(name="q", top="{kind: Dataplane, name: backend-01}", to="{kind: MeshService, name: backend,"
                                                                                  " sectionName: http}")))
    r = ws.ok("validate", "a.yaml", F)
    assert r.lines == [f"warning: {T}spec.to[0].targetRef: matches no destination",
                       "warning: p.yaml:14: MeshHealthCheck q: spec.to[0].targetRef: matches no destination"]


def test_shadow_policy_info(ws: Workspace) -> None:
    ws.write("a.yaml", MESH)
    ws.write(F, mhc(labels="{kuma.io/effect: shadow}", top="{kind: Dataplane, labels: {app: nothing}}"))
    r = ws.ok("validate", "a.yaml", F)
    # shadow: no "matches no proxy", only the note
    assert r.lines == ["info: p.yaml:1: MeshHealthCheck p: shadow policy (kuma.io/effect: shadow); not applied"]
    # notes stay notes under --strict
    r = ws.ok("validate", "--strict", "a.yaml", F)
    assert r.lines == ["info: p.yaml:1: MeshHealthCheck p: shadow policy (kuma.io/effect: shadow); not applied"]


def test_protocol_unknown_destination_warning_once(ws: Workspace) -> None:
    ws.write("a.yaml", docs(dataplane("web-01", "10.0.0.1", "web", protocol="http"),
                            dataplane("web-02", "10.0.0.3", "web", protocol="http"),
                            dataplane("backend-01", "10.0.0.2", "backend", port=20001)))
    ws.write(F, docs(mhc(to="{kind: MeshService, name: backend}", default="{http: {}}"),
                     mhc(name="q", to="{kind: MeshService, name: backend}", default="{tcp: {}}")))
    r = ws.ok("validate", "a.yaml", F)
    assert r.lines == ["warning: destination default/backend: protocol unknown; MeshHealthCheck adds no health check"]
    # --protocol settles it
    assert ws.ok("validate", "--protocol", "http", "a.yaml", F).lines == []


# --- --strict ------------------------------------------------------------------------------------------------------

def test_strict_turns_warnings_into_errors(ws: Workspace) -> None:
    ws.write("a.yaml", MESH)
    ws.write(F, mhc(top="{kind: MeshSubset, tags: {app: nothing}}", default='{healthyPanicThreshold: 50, tcp: {}}'))
    deprecated = f"{P}spec.targetRef.kind: MeshSubset {DEPRECATED}"
    panic = (f"{D}spec.to[0].default.healthyPanicThreshold: deprecated in Kuma 2.10 (moved to MeshCircuitBreaker); "
             "kumahc still applies it")
    r = ws.ok("validate", "a.yaml", F)
    assert r.lines == [f"warning: {deprecated}", f"warning: {P}spec.targetRef: matches no proxy", f"warning: {panic}"]
    # errors stop the pipeline after validation (01 §2): the mesh-level warning is not reached
    for cmd in ("validate", "render"):
        assert ws.fails(cmd, "--strict", "a.yaml", F) == [deprecated, panic]


def test_strict_mesh_level_warning_is_an_error(ws: Workspace) -> None:
    ws.write("a.yaml", MESH)
    ws.write(F, mhc(top="{kind: Dataplane, labels: {app: nothing}}"))
    assert ws.fails("render", "--strict", "a.yaml", F) == [f"{P}spec.targetRef: matches no proxy"]
    r = ws.ok("render", "a.yaml", F)
    assert r.lines == [f"warning: {P}spec.targetRef: matches no proxy"]
    assert [p["name"] for p in r.json["proxies"]] == ["backend-01", "web-01"]


def test_strict_with_validation_errors_counts_warnings(ws: Workspace) -> None:
    deprecated = f"{P}spec.targetRef.kind: MeshSubset {DEPRECATED}"
    error = f"{P}spec.targetRef.name: {NOT_SET} MeshSubset"
    check(ws, mhc(top="{kind: MeshSubset, name: x}"), [f"warning: {deprecated}", error])
    # both on line 4: the rule-table order (02 §3.1 before §3.3)
    assert ws.fails("validate", "--strict", F) == [error, deprecated]

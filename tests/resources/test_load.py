"""Loading inputs (spec 01 §1–§4): paths and walk order, YAML parsing and document numbering, error and warning
lines and their order, skipped kinds, load errors, structural checks, and hostile input (never a traceback, never
a half-written ``--output-file`` file)."""

from __future__ import annotations

import os
import random
import subprocess
import sys

import pytest
from helpers import REPO, SKIPPED, Workspace, dataplane, docs, file_modes_apply, run

MHC = """\
type: MeshHealthCheck
name: {name}
spec:
  to:
  - targetRef: {{kind: Mesh}}
    default: {{tcp: {{}}}}
"""


def skipped(where: str, kind: str, path: str | None = "kind") -> str:
    return f"warning: {where}: " + (f"{path}: " if path else "") + f'skipped kind "{kind}" ({SKIPPED})'


def foo(kind: str = "Foo") -> str:
    return f"kind: {kind}\n"


# --- 01 §1: reading paths ------------------------------------------------------------------------------------------

def test_directory_walk_order_and_names(ws: Workspace) -> None:
    for name in ["d/b.yaml", "d/a/z.yaml", "d/a.yaml", "d/A.yaml", "d/a-b.yaml", "d/sub/x.yml", "d/x.json",
                 "d/notes.txt", "d/.hidden.yaml", "d/.dir/x.yaml", "d/sub/.y.yaml", "d/README.md"]:
        ws.write(name, foo())
    r = ws.ok("validate", "d")
    order = ["d/A.yaml", "d/a-b.yaml", "d/a.yaml", "d/a/z.yaml", "d/b.yaml", "d/sub/x.yml", "d/x.json"]
    assert r.lines == [skipped(f"{name}:1: document 1", "Foo") for name in order]
    assert r.out == "ok: 0 resources in 7 files\n"
    # a trailing slash does not double the separator
    assert ws.ok("validate", "d/").lines == [skipped(f"{name}:1: document 1", "Foo") for name in order]


def test_explicit_files_read_whatever_their_name(ws: Workspace) -> None:
    ws.write("notes.txt", foo("A"))
    ws.write(".hidden.yaml", foo("B"))
    r = ws.ok("validate", "notes.txt", ".hidden.yaml")
    assert r.lines == [skipped("notes.txt:1: document 1", "A"), skipped(".hidden.yaml:1: document 1", "B")]
    assert r.out == "ok: 0 resources in 2 files\n"


def test_arguments_in_command_line_order(ws: Workspace) -> None:
    ws.write("b.yaml", foo("B"))
    ws.write("d/a.yaml", foo("A"))
    ws.write("c.yaml", foo("C"))
    r = ws.ok("validate", "b.yaml", "d", "c.yaml")
    assert r.lines == [skipped("b.yaml:1: document 1", "B"), skipped("d/a.yaml:1: document 1", "A"),
                       skipped("c.yaml:1: document 1", "C")]


def test_same_real_path_read_once_at_first_position(ws: Workspace) -> None:
    ws.write("d/a.yaml", MHC.format(name="p"))
    ws.write("d/b.yaml", foo("B"))
    os.symlink("a.yaml", ws.root / "d" / "c.yaml")
    r = ws.ok("validate", "d/b.yaml", "d", "./d/a.yaml", str(ws.root / "d" / "b.yaml"))
    # b.yaml first (argument order), then a.yaml; the symlink c.yaml and the repeated arguments are not re-read,
    # so no duplicate-resource error either
    assert r.lines == ["info: preview mode: no Dataplane in the inputs; synthesised proxies: default/any-proxy",
                       skipped("d/b.yaml:1: document 1", "B")]
    assert r.out == "ok: 1 resources in 2 files\n"


def test_cannot_read_missing_path(ws: Workspace) -> None:
    ws.write("a.yaml", MHC.format(name="p"))
    assert ws.fails("validate", "a.yaml", "nope.yaml", "nodir/") == [
        "nope.yaml: cannot read: No such file or directory", "nodir/: cannot read: No such file or directory"]


def test_cannot_read_dangling_symlink_in_directory(ws: Workspace) -> None:
    ws.write("d/a.yaml", MHC.format(name="p"))
    os.symlink("missing.yaml", ws.root / "d" / "b.yaml")
    assert ws.fails("validate", "d") == ["d/b.yaml: cannot read: No such file or directory"]


def test_cannot_read_permission(ws: Workspace) -> None:
    path = ws.write("a.yaml", MHC.format(name="p"))
    path.chmod(0)  # nobody may read it; as root, the child runs without root's right to read it anyway
    r = subprocess.run(file_modes_apply([sys.executable, "-c", "from kumahc.cli import main; main()", "validate",
                                         "a.yaml"]), capture_output=True, text=True, timeout=600)
    assert (r.returncode, r.stdout, r.stderr) == (1, "", "a.yaml: cannot read: Permission denied\nfound 1 error\n")


@pytest.mark.skipif(not os.path.exists("/proc/self/mem"), reason="needs Linux /proc")
def test_cannot_read_reports_the_os_reason(ws: Workspace) -> None:
    # opening works, reading fails: the OS reason is printed as is
    assert ws.fails("validate", "/proc/self/mem") == ["/proc/self/mem: cannot read: Input/output error"]


@pytest.mark.parametrize("command", ["validate", "render"])
def test_no_input_files_found(ws: Workspace, command: str) -> None:
    ws.write("d/notes.txt", foo())
    ws.write("d/.hidden.yaml", foo())
    (ws.root / "empty").mkdir()
    r = run(command, "d", "empty")
    assert (r.code, r.out, r.lines) == (1, "", ["error: no input files found"])  # one fatal line, no summary


def test_empty_file_is_a_file_with_no_resources(ws: Workspace) -> None:
    ws.write("empty.yaml", "")
    ws.write("comments.yaml", "# nothing\n---\n---\n")
    r = ws.ok("validate", "empty.yaml", "comments.yaml")
    assert (r.out, r.err) == ("ok: 0 resources in 2 files\n", "")
    r = ws.ok("render", "empty.yaml")
    assert (r.out, r.err) == ('{\n  "proxies": []\n}\n', "")


def test_byte_order_mark_is_ignored(ws: Workspace) -> None:
    ws.write_bytes("a.yaml", b"\xef\xbb\xbf" + MHC.format(name="p").encode())
    assert ws.ok("validate", "a.yaml").out == "ok: 1 resources in 1 files\n"


def test_json_exponent_without_dot_is_a_string(ws: Workspace) -> None:
    ws.write("a.json", '{"type": "MeshHealthCheck", "name": "p", "spec": {"to": [{"targetRef": {"kind": "Mesh"}, '
                       '"default": {"unhealthyThreshold": 1e3, "tcp": {}}}]}}')
    assert ws.fails("validate", "a.json") == [
        "a.json:1: MeshHealthCheck p: spec.to[0].default.unhealthyThreshold: must be an integer"]


def test_json_file_goes_through_the_yaml_loader(ws: Workspace) -> None:
    ws.write("a.json", '{\n  "type": "MeshHealthCheck",\n  "name": "p",\n  "spec": {\n    "to": [{"targetRef": '
                       '{"kind": "Mesh"}, "default": {"interval": "0s", "tcp": {}}}]\n  },\n  "name": "q"\n}\n')
    assert ws.fails("validate", "a.json") == ['a.json:7: MeshHealthCheck p: duplicate key "name"']


# --- 01 §1: documents ----------------------------------------------------------------------------------------------

def test_multi_document_numbering_skips_empty_documents(ws: Workspace) -> None:
    ws.write("a.yaml", "---\n# empty\n---\nkind: A\n---\n---\nnull\n---\n~\n---\napiVersion: apps/v1\nkind: B\n")
    assert ws.ok("validate", "a.yaml").lines == [skipped("a.yaml:4: document 1", "A"),
                                                 skipped("a.yaml:12: document 2", "B")]


def test_root_sequence_expands_to_documents(ws: Workspace) -> None:
    ws.write("a.yaml", "- kind: A\n- null\n- apiVersion: x/v1\n  kind: B\n---\nkind: C\n")
    assert ws.ok("validate", "a.yaml").lines == [skipped("a.yaml:1: document 1", "A"),
                                                 skipped("a.yaml:4: document 2", "B"),
                                                 skipped("a.yaml:6: document 3", "C")]


def test_kind_list_expands_to_documents(ws: Workspace) -> None:
    ws.write("a.yaml", """\
        kind: Foo
        ---
        apiVersion: v1
        kind: List
        items:
        - kind: A
        -
        - apiVersion: kuma.io/v1alpha1
          kind: MeshHealthCheck
          metadata: {name: p, namespace: ns}
          spec:
            to: [{targetRef: {kind: Mesh}, default: {interval: 0s, tcp: {}}}]
        ---
        kind: List
        items: []
        """)
    assert ws.fails("validate", "a.yaml") == [
        skipped("a.yaml:1: document 1", "Foo"),
        skipped("a.yaml:6: document 2", "A"),
        # a `List` without apiVersion v1 is a document of its own
        skipped("a.yaml:14: document 4", "List"),
        "a.yaml:12: MeshHealthCheck ns/p: spec.to[0].default.interval: must be greater than zero when defined",
    ]


def test_non_mapping_documents(ws: Workspace) -> None:
    ws.write("a.yaml", "hello\n---\n- 1\n- [2]\n---\nkind: A\n")
    assert ws.fails("validate", "a.yaml") == [
        skipped("a.yaml:6: document 4", "A"),
        "a.yaml:1: document 1: must be a mapping",
        "a.yaml:3: document 2: must be a mapping",
        "a.yaml:4: document 3: must be a mapping",
    ]


@pytest.mark.parametrize("text, line, problem", [
    ("type: MeshHealthCheck\nname: [a\n", 3, 'column 1: "[" list not closed: expected "," or "]"'),
    ("a: b: c\n", 1, 'column 5: ": " where no new key can start (quote a value that contains ": ", or fix the '
                     'indentation)'),
    ("a:\n\t- b\n", 2, "column 1: tab used for indentation; indent with spaces"),
    ("a: *nope\n", 1, 'column 4: alias "*nope" used before any anchor "&nope" in this document'),
    ("a: 'x\n", 2, "column 1: quoted string not closed before the end of the file"),
    ("a:\n  b: 1\n c: 2\n", 3, "column 2: expected a key at this indentation (check the indentation of this line)"),
    ('a: "\\q"\n', 1, 'column 5: unknown escape in a double-quoted string (use single quotes, or write "\\\\" for a '
                      'backslash)'),
    ("a: @x\n", 1, 'column 4: "@" cannot start a value (quote the value)'),
    ("a: {b: 1\n", 2, 'column 1: "{" mapping not closed: expected "," or "}"'),
    ("a:\n- 1\n- 2\nb\n", 5, 'column 1: expected ": " after a key (a key without a value, or a line broken inside a '
                             'key)'),
], ids=["flow", "mapping-values", "tab", "alias", "quote", "indent", "escape", "reserved", "flow-map",
        "no-colon"])
def test_invalid_yaml(ws: Workspace, text: str, line: int, problem: str) -> None:
    ws.write("a.yaml", text)
    assert ws.fails("validate", "a.yaml") == [f"a.yaml:{line}: invalid YAML: {problem}"]


def test_invalid_yaml_skips_rest_of_file_other_files_checked(ws: Workspace) -> None:
    ws.write("a.yaml", docs(MHC.format(name="p").replace("{tcp:", "{interval: 0s, tcp:"),
                            "kind: [A\n", "kind: B\n"))
    ws.write("b.yaml", "kind: C\n")
    assert ws.fails("validate", "a.yaml", "b.yaml") == [
        skipped("b.yaml:1: document 1", "C"),
        "a.yaml:6: MeshHealthCheck p: spec.to[0].default.interval: must be greater than zero when defined",
        'a.yaml:9: invalid YAML: column 1: "[" list not closed: expected "," or "]"',
    ]


def test_duplicate_keys(ws: Workspace) -> None:
    ws.write("a.yaml", """\
        type: MeshHealthCheck
        name: p
        spec:
          to:
          - targetRef: {kind: Mesh, kind: MeshService}
            default:
              tcp: {}
              interval: 5s
              interval: 6s
        name: q
        ---
        kind: Deployment
        metadata: {name: a, name: b}
        """)
    assert ws.fails("validate", "a.yaml") == [
        skipped("a.yaml:12: document 2", "Deployment"),
        'a.yaml:5: MeshHealthCheck p: spec.to[0].targetRef: duplicate key "kind"',
        'a.yaml:9: MeshHealthCheck p: spec.to[0].default: duplicate key "interval"',
        'a.yaml:10: MeshHealthCheck p: duplicate key "name"',
        # YAML problems stay errors in skipped documents (01 §3)
        'a.yaml:13: document 2: metadata: duplicate key "name"',
    ]


def test_anchors_aliases_and_merge_keys(ws: Workspace) -> None:
    ws.write("a.yaml", """\
        type: MeshHealthCheck
        name: p
        spec:
          to:
          - targetRef: {kind: Mesh}
            default: &base
              interval: 0s
              tcp: {}
          - targetRef: {kind: MeshService, name: b}
            default: *base
          - targetRef: {kind: MeshService, name: c}
            default:
              <<: *base
              interval: 5s
          - targetRef: {kind: MeshService, name: d}
            default:
              <<: [{timeout: 0s, tcp: {}}, *base]
        """)
    assert ws.fails("validate", "a.yaml") == [
        # the aliased node reports the lines of its anchored node
        "a.yaml:7: MeshHealthCheck p: spec.to[0].default.interval: must be greater than zero when defined",
        "a.yaml:7: MeshHealthCheck p: spec.to[1].default.interval: must be greater than zero when defined",
        "a.yaml:7: MeshHealthCheck p: spec.to[3].default.interval: must be greater than zero when defined",
        "a.yaml:17: MeshHealthCheck p: spec.to[3].default.timeout: must be greater than zero when defined",
    ]


def test_explicit_null_overrides_merged_key(ws: Workspace) -> None:
    ws.write("a.yaml", """\
        type: MeshHealthCheck
        name: p
        spec:
          to:
          - targetRef: {kind: Mesh}
            default:
              <<: {interval: 0s, tcp: {}}
              interval: null
        """)
    assert ws.ok("validate", "a.yaml").out == "ok: 1 resources in 1 files\n"


def test_null_means_absent(ws: Workspace) -> None:
    ws.write("a.yaml", """\
        type: MeshHealthCheck
        name: p
        labels: null
        mesh: ~
        spec:
          targetRef: null
          to:
          - targetRef: {kind: Mesh, name: null}
            default: {interval: null, tcp: {send: null}, http: null}
        """)
    r = ws.ok("render", "a.yaml")
    assert r.lines == ["info: preview mode: no Dataplane in the inputs; synthesised proxies: default/any-proxy"]
    assert r.json["proxies"][0]["clusters"][0]["health_checks"] == [
        {"timeout": "15s", "interval": "60s", "unhealthy_threshold": 5, "healthy_threshold": 1, "tcp_health_check": {}}]
    ws.write("b.yaml", "type: MeshHealthCheck\nname: null\nspec: {}\n")
    assert ws.fails("validate", "b.yaml") == ["b.yaml:2: document 1: name: must be defined"]


# --- 01 §2: order of lines ------------------------------------------------------------------------------------------

def test_order_files_lines_warnings_before_errors(ws: Workspace) -> None:
    ws.write("b.yaml", docs(MHC.format(name="p2").replace("{tcp:", "{interval: 0s, tcp:"), foo("B")))
    ws.write("a.yaml", docs(foo("A"), MHC.format(name="p1").replace("{tcp:", "{interval: 0s, tcp:")))
    assert ws.fails("validate", "b.yaml", "a.yaml") == [
        skipped("b.yaml:8: document 2", "B"),
        skipped("a.yaml:1: document 1", "A"),
        "b.yaml:6: MeshHealthCheck p2: spec.to[0].default.interval: must be greater than zero when defined",
        "a.yaml:8: MeshHealthCheck p1: spec.to[0].default.interval: must be greater than zero when defined",
    ]


def test_order_file_warnings_then_destination_lines(ws: Workspace) -> None:
    ws.write("dp.yaml", docs(dataplane("z-01", "10.0.0.1", "zeta", mesh="b"),
                             dataplane("y-01", "10.0.0.2", "yank", mesh="b"),
                             dataplane("x-01", "10.0.0.3", "xray", mesh="a")))
    ws.write("p.yaml", docs(MHC.format(name="p").replace("name: p", "name: p\nmesh: b"),
                            MHC.format(name="q").replace("name: q", "name: q\nmesh: a"),
                            foo("Z")))
    r = ws.ok("validate", "p.yaml", "dp.yaml")
    assert r.lines == [
        skipped("p.yaml:17: document 3", "Z"),
        "warning: destination a/xray: protocol unknown; MeshHealthCheck adds no health check",
        "warning: destination b/yank: protocol unknown; MeshHealthCheck adds no health check",
        "warning: destination b/zeta: protocol unknown; MeshHealthCheck adds no health check",
    ]


# --- 01 §3: skipped documents ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, line, path, kind", [
    ("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n", 2, "kind", "Deployment"),
    ("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\n", 2, "kind", "HTTPRoute"),
    ("apiVersion: kuma.io/v1alpha1\nkind: MeshTrafficPermission\nmetadata: {name: x}\n", 2, "kind",
     "MeshTrafficPermission"),
    ("type: MeshTrafficPermission\nname: x\n", 1, "type", "MeshTrafficPermission"),
    ("apiVersion: serving.knative.dev/v1\nkind: Service\nmetadata: {name: x}\n", 2, "kind", "Service"),
    ("apiVersion: v2\nname: chart\n", 1, None, ""),
    ("# values\n\nreplicaCount: 1\n", 3, None, ""),
    ("metadata: {name: x}\nkind: Foo\n", 2, "kind", "Foo"),
    ("apiVersion: v1\nkind: Secret\ntype: Opaque\ndata: {}\n", 2, "kind", "Secret"),
    ("kind: 3\n", 1, "kind", "3"),
], ids=["deployment", "httproute", "kuma-other-kind", "universal-type", "knative-service",
        "chart-yaml", "helm-values", "kind-without-apiVersion", "secret-with-type", "kind-number"])
def test_skipped_document(ws: Workspace, text: str, line: int, path: str | None, kind: str) -> None:
    ws.write("Chart.yaml", text)
    r = ws.ok("validate", "Chart.yaml")
    assert r.lines == [skipped(f"Chart.yaml:{line}: document 1", kind, path)]
    assert r.out == "ok: 0 resources in 1 files\n"
    assert ws.fails("validate", "--strict", "Chart.yaml") == [skipped(f"Chart.yaml:{line}: document 1", kind, path)
                                                              .removeprefix("warning: ")]


def test_skipped_document_gets_no_checks(ws: Workspace) -> None:
    ws.write("a.yaml", "apiVersion: apps/v1\nkind: Deployment\nspec: 5\ntype: 1\nmetadata: {name: BAD_NAME}\n")
    assert ws.ok("validate", "a.yaml").lines == [skipped("a.yaml:2: document 1", "Deployment")]


def test_skipped_spec_example(ws: Workspace) -> None:
    ws.write("a.yaml", docs(MHC.format(name="p"), foo("Foo"), "apiVersion: apps/v1\n# a comment\n#\n#\n#\n#\n#\n"
                            "#\n#\n#\nkind: Deployment\n"))
    assert ws.ok("validate", "a.yaml").lines == [
        "info: preview mode: no Dataplane in the inputs; synthesised proxies: default/any-proxy",
        skipped("a.yaml:8: document 2", "Foo"),
        skipped("a.yaml:20: document 3", "Deployment"),
    ]


# --- 01 §3.1: load errors -------------------------------------------------------------------------------------------

MIX = 'cannot mix Universal "type" with Kubernetes "apiVersion"/"kind"'


@pytest.mark.parametrize("text, expected", [
    ("type: MeshHealthCheck\nname: p\nkind: MeshHealthCheck\nspec: {}\n", f"a.yaml:1: MeshHealthCheck p: type: {MIX}"),
    ("type: MeshHealthCheck\nname: p\napiVersion: kuma.io/v1alpha1\nspec: {}\n",
     f"a.yaml:1: MeshHealthCheck p: type: {MIX}"),
    ("apiVersion: kuma.io/v1alpha1\nkind: MeshHealthCheck\nmetadata: {name: p}\ntype: x\nspec: {}\n",
     f"a.yaml:4: MeshHealthCheck default/p: type: {MIX}"),
    ("type: Service\nname: s\n", "a.yaml:1: Service s: type: kind Service is only supported in Kubernetes format"),
    ("type: KongUpstreamPolicy\nname: k\n",
     "a.yaml:1: KongUpstreamPolicy k: type: kind KongUpstreamPolicy is only supported in Kubernetes format"),
    ("apiVersion: kuma.io/v1beta1\nkind: MeshHealthCheck\nmetadata: {name: p}\nspec: {}\n",
     'a.yaml:1: MeshHealthCheck default/p: apiVersion: must be "kuma.io/v1alpha1" for kind MeshHealthCheck'),
    ("kind: MeshHealthCheck\napiVersion: v1\nmetadata: {name: p}\nspec: {}\n",
     'a.yaml:2: MeshHealthCheck default/p: apiVersion: must be "kuma.io/v1alpha1" for kind MeshHealthCheck'),
    ("apiVersion: kuma.io/v1alpha1\nkind: KongUpstreamPolicy\nmetadata: {name: k}\nspec: {}\n",
     'a.yaml:1: KongUpstreamPolicy default/k: apiVersion: must be "configuration.konghq.com/v1beta1" for kind '
     "KongUpstreamPolicy"),
    ("apiVersion: kuma.io/v1alpha1\nkind: Service\nmetadata: {name: s}\n",
     'a.yaml:1: Service default/s: apiVersion: must be "v1" for kind Service'),
    ("apiVersion: configuration.konghq.com/v1\nkind: Dataplane\nmetadata: {name: d}\n",
     'a.yaml:1: Dataplane default/d: apiVersion: must be "kuma.io/v1alpha1" for kind Dataplane'),
    ("kind: MeshHealthCheck\nmetadata: {name: p, namespace: ns}\nspec: {}\n",
     "a.yaml:1: MeshHealthCheck ns/p: apiVersion: must be defined"),
    ("apiVersion: kuma.io/v1alpha1\nkind: MeshHealthCheck\nmesh: a\nmetadata:\n  name: p\n  labels:\n"
     "    kuma.io/mesh: b\nspec: {}\n",
     'a.yaml:3: MeshHealthCheck default/p: mesh: conflicts with label kuma.io/mesh "b"'),
], ids=["type-and-kind", "type-and-apiVersion", "kubernetes-with-type", "universal-service", "universal-kong",
        "kuma-v1beta1", "mhc-v1", "kong-kuma-group", "service-kuma-group", "dataplane-kong-group", "no-apiVersion",
        "mesh-conflict"])
def test_load_error(ws: Workspace, text: str, expected: str) -> None:
    ws.write("a.yaml", text)
    assert ws.fails("validate", "a.yaml") == [expected]


def test_mesh_label_agreeing_with_mesh_field(ws: Workspace) -> None:
    ws.write("a.yaml", "apiVersion: kuma.io/v1alpha1\nkind: MeshHealthCheck\nmesh: a\nmetadata:\n  name: p\n  labels:\n"
                       "    kuma.io/mesh: a\nspec:\n  to: [{targetRef: {kind: Mesh}, default: {tcp: {}}}]\n")
    assert ws.ok("validate", "a.yaml").lines == [
        "info: preview mode: no Dataplane in the inputs; synthesised proxies: a/any-proxy"]


def test_duplicate_resource(ws: Workspace) -> None:
    ws.write("a.yaml", docs(MHC.format(name="p"), MHC.format(name="p").replace("name: p", "name: p\nmesh: other"),
                            "type: Mesh\nname: default\n"))
    ws.write("b.yaml", docs("apiVersion: kuma.io/v1alpha1\nkind: Mesh\nmetadata: {name: default}\n",
                            MHC.format(name="p")))
    assert ws.fails("validate", "a.yaml", "b.yaml") == [
        "b.yaml:1: Mesh default: duplicate resource: also defined at a.yaml:16",
        "b.yaml:5: MeshHealthCheck p: duplicate resource: also defined at a.yaml:1",
    ]


def test_kubernetes_and_universal_policies_of_same_name_are_distinct(ws: Workspace) -> None:
    ws.write("a.yaml", docs(MHC.format(name="p"), "apiVersion: kuma.io/v1alpha1\nkind: MeshHealthCheck\n"
                            "metadata: {name: p}\nspec:\n  to: [{targetRef: {kind: Mesh}, default: {tcp: {}}}]\n"))
    assert ws.ok("validate", "a.yaml").out == "ok: 2 resources in 1 files\n"


def test_duplicate_proxy_name(ws: Workspace) -> None:
    ws.write("a.yaml", dataplane("a.b", "10.0.0.1", "web"))
    ws.write("b.yaml", """\
        apiVersion: kuma.io/v1alpha1
        kind: Dataplane
        metadata: {name: a, namespace: b}
        spec:
          networking:
            address: 10.0.0.2
            inbound: [{port: 80, tags: {kuma.io/service: web}}]
        ---
        apiVersion: kuma.io/v1alpha1
        kind: Dataplane
        mesh: other
        metadata: {name: a, namespace: b}
        spec:
          networking:
            address: 10.0.0.2
            inbound: [{port: 80, tags: {kuma.io/service: web}}]
        """)
    assert ws.fails("validate", "a.yaml", "b.yaml") == [
        'b.yaml:1: Dataplane b/a: duplicate proxy name "a.b" in mesh "default": also defined at a.yaml:1']


# --- 01 §4: structural checks ---------------------------------------------------------------------------------------

def conf(default: str) -> str:
    return f"type: MeshHealthCheck\nname: p\nspec:\n  to:\n  - targetRef: {{kind: Mesh}}\n    default: {default}\n"


DUR = 'must be a duration (e.g. "10s", "1m30s")'
C = "a.yaml:6: MeshHealthCheck p: spec.to[0].default"


@pytest.mark.parametrize("text, expected", [
    # must be defined
    ("type: MeshHealthCheck\nspec: {}\n", ["a.yaml:1: document 1: name: must be defined"]),
    ('type: MeshHealthCheck\nname: ""\nspec: {}\n', ["a.yaml:2: document 1: name: must be defined"]),
    ("type: Dataplane\nname: d\n", ["a.yaml:1: Dataplane d: networking: must be defined"]),
    ("apiVersion: kuma.io/v1alpha1\nkind: MeshHealthCheck\nspec: {}\n",
     ["a.yaml:1: document 1: metadata: must be defined"]),
    # unknown fields (strict kinds only)
    ("type: MeshHealthCheck\nname: p\nfoo: 1\nspec: {}\n", ["a.yaml:3: MeshHealthCheck p: foo: unknown field"]),
    ("apiVersion: kuma.io/v1alpha1\nkind: MeshHealthCheck\nmetadata: {name: p}\nfoo: 1\nspec: {}\n",
     ["a.yaml:4: MeshHealthCheck default/p: foo: unknown field"]),
    # wrong types
    ("type: MeshHealthCheck\nname: 12\nspec: {}\n", ["a.yaml:2: document 1: name: must be a string"]),
    ("type: MeshHealthCheck\nname: p\nmesh: [a]\nspec: {}\n", ["a.yaml:3: MeshHealthCheck p: mesh: must be a string"]),
    ("type: MeshHealthCheck\nname: p\nspec: []\n", ["a.yaml:3: MeshHealthCheck p: spec: must be a mapping"]),
    ("type: MeshHealthCheck\nname: p\nspec: {to: {}}\n", ["a.yaml:3: MeshHealthCheck p: spec.to: must be a list"]),
    (conf("{unhealthyThreshold: '3', tcp: {}}"), [f"{C}.unhealthyThreshold: must be an integer"]),
    (conf("{unhealthyThreshold: 3.0, tcp: {}}"), [f"{C}.unhealthyThreshold: must be an integer"]),
    (conf("{healthyThreshold: true, tcp: {}}"), [f"{C}.healthyThreshold: must be an integer"]),
    (conf("{reuseConnection: 'true', tcp: {}}"), [f"{C}.reuseConnection: must be a boolean"]),
    (conf("{failTrafficOnPanic: 1, tcp: {}}"), [f"{C}.failTrafficOnPanic: must be a boolean"]),
    (conf("{http: {expectedStatuses: 200}}"), [f"{C}.http.expectedStatuses: must be a list"]),
    (conf("{http: {expectedStatuses: ['200']}}"), [f"{C}.http.expectedStatuses[0]: must be an integer"]),
    (conf("{tcp: []}"), [f"{C}.tcp: must be a mapping"]),
    (conf("5"), [f"{C}: must be a mapping"]),
    (conf("{eventLogPath: 5, tcp: {}}"), [f"{C}.eventLogPath: must be a string"]),
    ("type: MeshHealthCheck\nname: p\nlabels: {version: 1}\nspec: {}\n",
     ['a.yaml:3: MeshHealthCheck p: labels["version"]: must be a string']),
    # 32-bit integers
    (conf("{unhealthyThreshold: 2147483648, tcp: {}}"), [f"{C}.unhealthyThreshold: must be a 32-bit integer"]),
    (conf("{healthyThreshold: -2147483649, tcp: {}}"), [f"{C}.healthyThreshold: must be a 32-bit integer"]),
    (conf("{intervalJitterPercent: 99999999999, tcp: {}}"), [f"{C}.intervalJitterPercent: must be a 32-bit integer"]),
    # durations
    (conf("{interval: 10, tcp: {}}"), [f"{C}.interval: {DUR}"]),
    (conf("{interval: 10 s, tcp: {}}"), [f"{C}.interval: {DUR}"]),
    (conf("{interval: 1d, tcp: {}}"), [f"{C}.interval: {DUR}"]),
    (conf("{interval: s, tcp: {}}"), [f"{C}.interval: {DUR}"]),
    (conf("{interval: '', tcp: {}}"), [f"{C}.interval: {DUR}"]),
    (conf("{interval: 1.5.5s, tcp: {}}"), [f"{C}.interval: {DUR}"]),
    (conf("{interval: 9223372036s, tcp: {}}"), [f"{C}.interval: must be less than 9223372036s"]),
    (conf("{noTrafficInterval: 2562047h47m16s, tcp: {}}"), [f"{C}.noTrafficInterval: must be less than 9223372036s"]),
    # Kubernetes names and timestamps
    ("apiVersion: kuma.io/v1alpha1\nkind: MeshHealthCheck\nmetadata: {name: Web}\nspec: {}\n",
     ["a.yaml:3: MeshHealthCheck default/Web: metadata.name: must be a lowercase RFC 1123 subdomain"]),
    ("apiVersion: kuma.io/v1alpha1\nkind: MeshHealthCheck\nmetadata: {name: p, namespace: a.b}\nspec: {}\n",
     ["a.yaml:3: MeshHealthCheck a.b/p: metadata.namespace: must be a lowercase RFC 1123 label"]),
    ("type: MeshHealthCheck\nname: p\ncreationTime: yesterday\nspec: {}\n",
     ["a.yaml:3: MeshHealthCheck p: creationTime: must be an RFC 3339 timestamp"]),
    ("type: MeshHealthCheck\nname: p\ncreationTime: 2024-05-01\nspec: {}\n",
     ["a.yaml:3: MeshHealthCheck p: creationTime: must be an RFC 3339 timestamp"]),
    ("apiVersion: kuma.io/v1alpha1\nkind: MeshHealthCheck\nmetadata:\n  name: p\n  creationTimestamp: '2024-13-01T"
     "00:00:00Z'\nspec: {}\n",
     ["a.yaml:5: MeshHealthCheck default/p: metadata.creationTimestamp: must be an RFC 3339 timestamp"]),
    # Dataplane tags: YAML numbers are not coerced to strings
    ("type: Dataplane\nname: d\nnetworking:\n  address: 10.0.0.1\n  inbound:\n  - port: 80\n    tags:\n"
     "      kuma.io/service: web\n      version: 1\n",
     ['a.yaml:9: Dataplane d: networking.inbound[0].tags["version"]: must be a string']),
], ids=["no-name", "empty-name", "dataplane-no-networking", "no-metadata", "unknown-top", "unknown-k8s-top",
        "name-int", "mesh-list", "spec-list", "to-map", "int-string", "int-float", "int-bool", "bool-string",
        "bool-int", "list-int", "list-item-string", "tcp-list", "default-int", "string-int", "label-int",
        "int32-max", "int32-min", "int32-percent", "dur-int", "dur-space", "dur-day", "dur-unit-only", "dur-empty",
        "dur-two-dots", "dur-limit", "dur-limit-hms", "k8s-name", "k8s-namespace", "timestamp-word",
        "timestamp-date", "timestamp-month", "tag-int"])
def test_structural(ws: Workspace, text: str, expected: list[str]) -> None:
    ws.write("a.yaml", text)
    assert ws.fails("validate", "a.yaml") == expected


@pytest.mark.parametrize("text", [
    conf("{interval: 9223372035.999999999s, timeout: 2147483647s, unhealthyThreshold: 2147483647, tcp: {}}"),
    conf("{interval: 1h2m3s4ms5us6ns, timeout: 1µs, initialJitter: .5s, intervalJitter: +1s, tcp: {}}"),
    "type: MeshHealthCheck\nname: p\ncreationTime: 2024-05-01T10:00:00Z\nmodificationTime: whatever\nstatus: {x: 1}\n"
    "spec:\n  to: [{targetRef: {kind: Mesh}, default: {tcp: {}}}]\n",
    "apiVersion: kuma.io/v1alpha1\nkind: MeshHealthCheck\nmetadata:\n  name: p.q-1\n  namespace: kuma-system\n"
    "  creationTimestamp: '2024-05-01T10:00:00.5+02:00'\n  uid: 1\n  resourceVersion: 2\nstatus: {}\n"
    "spec:\n  to: [{targetRef: {kind: Mesh}, default: {tcp: {}}}]\n",
], ids=["limits", "duration-syntax", "universal-ignored-keys", "k8s-ignored-keys"])
def test_structurally_valid(ws: Workspace, text: str) -> None:
    ws.write("a.yaml", text)
    assert ws.ok("validate", "a.yaml").out == "ok: 1 resources in 1 files\n"


def test_structural_error_prevents_semantic_checks(ws: Workspace) -> None:
    ws.write("a.yaml", conf("{interval: 0s, unhealthyThreshold: '3', healthyPanicThreshold: true,\n"
                            "      http: {path: '', requestHeadersToAdd: {set: [{name: a}]}}}"))
    # interval 0s and path "" are semantic problems: not reported while the document is structurally invalid
    assert ws.fails("validate", "a.yaml") == [
        f"{C}.unhealthyThreshold: must be an integer",
        f"{C}.healthyPanicThreshold: must be an integer or a string",
        "a.yaml:7: MeshHealthCheck p: spec.to[0].default.http.requestHeadersToAdd.set[0].value: must be defined",
    ]


def test_non_strict_kinds_ignore_unknown_fields(ws: Workspace) -> None:
    ws.write("a.yaml", docs(dataplane("d", "10.0.0.1", "web").replace("networking:", "extra: 1\nnetworking:\n"
                                                                       "  admin: {port: 9901}"),
                            "type: Mesh\nname: default\nmtls: {enabledBackend: ca}\n"))
    r = ws.ok("validate", "a.yaml")
    assert (r.out, r.err) == ("ok: 2 resources in 1 files\n", "")


# --- malformed input: always an error line, never a traceback, --output-file untouched -----------------------------

def test_random_bytes(ws: Workspace) -> None:
    rng = random.Random(1234)
    for i in range(20):
        ws.write_bytes(f"g{i}.yaml", bytes(rng.randrange(256) for _ in range(2000)))
        lines = ws.fails("validate", f"g{i}.yaml")
        assert len(lines) == 1
        assert lines[0].startswith(f"g{i}.yaml:") and ": invalid YAML: " in lines[0], lines


def test_invalid_utf8(ws: Workspace) -> None:
    ws.write_bytes("a.yaml", b"type: MeshHealthCheck\nname: \xff\xfe\n")
    assert ws.fails("validate", "a.yaml") == ["a.yaml:2: invalid YAML: not UTF-8 (byte 0xff at offset 28)"]


def test_nul_bytes(ws: Workspace) -> None:
    ws.write_bytes("a.yaml", b"type: MeshHealthCheck\nname: p\x00\n")
    assert ws.fails("validate", "a.yaml") == [
        "a.yaml:2: invalid YAML: unacceptable character #x0000: control characters are not allowed"]


def test_non_string_keys(ws: Workspace) -> None:
    ws.write("a.yaml", "type: MeshHealthCheck\nname: p\nspec:\n  1: x\n  [a]: y\n")
    assert ws.fails("validate", "a.yaml") == ["a.yaml:4: MeshHealthCheck p: spec: mapping key '1' must be a string",
                                              "a.yaml:5: MeshHealthCheck p: spec: mapping keys must be strings"]


def kumahc_subprocess(*args: str, cwd: str) -> subprocess.CompletedProcess[str]:
    """``python -m kumahc`` in a child process, bounded in time (hostile input must not hang or crash)."""
    return subprocess.run([sys.executable, "-m", "kumahc", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=60, env={**os.environ, "PYTHONPATH": str(REPO)})


def test_billion_laughs(ws: Workspace) -> None:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    prev = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
        prev = name
    ws.write("bomb.yaml", "\n".join(lines) + "\n")
    r = kumahc_subprocess("validate", "bomb.yaml", cwd=str(ws.root))
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == "bomb.yaml:6: invalid YAML: document larger than 200000 nodes after alias expansion\n" \
                       "found 1 error\n"


def test_recursive_alias(ws: Workspace) -> None:
    ws.write("a.yaml", "a: &a [*a]\n")
    assert ws.fails("validate", "a.yaml") == ["a.yaml:1: invalid YAML: recursive alias"]


@pytest.mark.parametrize("text, line", [
    ("[" * 100_000, 1),
    ("{a: " * 100_000, 1),
    ("a:\n" + "".join("  " * i + "- \n" for i in range(1, 300)), 66),
    ("a:\n" + "".join("  " * i + "b:\n" for i in range(1, 300)), 66),
    # Past libyaml's own limit (1,000 levels since 0.2.6) on one line, then over many lines: kumahc's words and line.
    ("x: " + "[" * 500 + "\n" + "[" * 600, 1),
    ("[\n" * 2000, 66),
], ids=["flow-sequences", "flow-mappings", "block-sequences", "block-mappings", "flow-two-lines", "flow-per-line"])
def test_very_deep_nesting(ws: Workspace, text: str, line: int) -> None:
    ws.write("deep.yaml", text)
    r = kumahc_subprocess("validate", "deep.yaml", cwd=str(ws.root))
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr == f"deep.yaml:{line}: invalid YAML: nesting deeper than 64 levels\nfound 1 error\n"


def test_nesting_up_to_the_limit_is_fine(ws: Workspace) -> None:
    ws.write("a.yaml", "kind: Foo\nx: " + "{a: " * 63 + "1" + "}" * 63 + "\n")
    assert ws.ok("validate", "a.yaml").lines == [skipped("a.yaml:1: document 1", "Foo")]


@pytest.mark.parametrize("content", [
    b"type: MeshHealthCheck\nname: [\n",
    b"\x00\x01\x02\xff",
    b"type: MeshHealthCheck\nname: p\nspec: {to: [{targetRef: {kind: Mesh}, default: {interval: 0s, tcp: {}}}]}\n",
    b"type: MeshHealthCheck\nname: p\nspec: {to: [{targetRef: {kind: Mesh}, default: {interval: 3, tcp: {}}}]}\n",
], ids=["syntax", "binary", "semantic", "structural"])
def test_output_file_untouched_on_error(ws: Workspace, content: bytes) -> None:
    ws.write_bytes("in.yaml", content)
    ws.write_bytes("out.json", b"previous bytes\n")
    r = ws.run("render", "in.yaml", "--output-file", "out.json", "-o", "yaml")
    assert (r.code, r.out) == (1, "")
    assert r.lines[-1] == "found 1 error"
    assert (ws.root / "out.json").read_bytes() == b"previous bytes\n"
    r = ws.run("render", "in.yaml", "--output-file", "new.json")
    assert r.code == 1
    assert sorted(os.listdir(ws.root)) == ["in.yaml", "out.json"]


def test_output_file_untouched_when_no_proxy_matches(ws: Workspace) -> None:
    ws.write("in.yaml", MHC.format(name="p"))
    ws.write_bytes("out.json", b"previous bytes\n")
    r = ws.run("render", "in.yaml", "--proxy", "nope", "--output-file", "out.json")
    assert (r.code, r.out) == (1, "")
    assert r.lines == ["info: preview mode: no Dataplane in the inputs; synthesised proxies: default/any-proxy",
                       'error: no proxy matches "nope" (proxy names: any-proxy)']
    assert (ws.root / "out.json").read_bytes() == b"previous bytes\n"
    assert sorted(os.listdir(ws.root)) == ["in.yaml", "out.json"]

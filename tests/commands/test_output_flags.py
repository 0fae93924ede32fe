"""``-o/--output FORMAT`` and ``--output-file FILE`` on render, inspect, diff, validate and migrate (issue 23, item 1).

The bytes of the formats that existed before are compared with ``tests/data/output-flags/*.stdout``, recorded with
the old spellings (``--format json|yaml|table|text``, and migrate's only output) just before the change, and with
the committed goldens; the new formats (render ``wide`` and ``name``, validate ``json``, migrate ``json``, inspect
and diff ``yaml``) are checked byte for byte here.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml
from helpers import DATA, REPO, Workspace, run

RECORDED = DATA / "output-flags"

# name of the recorded stdout → (the command line with the new flags, its exit code); paths from the repository.
SAME_BYTES = {
    "render-json": (["render", "examples/complete/mesh", "-o", "json"], 0),
    "render-yaml": (["render", "examples/complete/mesh", "--proxy", "web-01", "-o", "yaml"], 0),
    "render-table": (["render", "examples/meshcircuitbreaker/outlier-detection.yaml", "-o", "table"], 0),
    "render-eds-json": (["render", "examples/complete/mesh", "--endpoints", "eds", "--proxy", "web-01", "-o", "json"],
                        0),
    "inspect-text": (["inspect", "examples/complete/mesh", "--proxy", "web-01", "-o", "text"], 0),
    "inspect-json": (["inspect", "examples/complete/mesh", "--proxy", "web-01", "-o", "json"], 0),
    "inspect-policy-json": (["inspect", "examples/meshcircuitbreaker/mesh-precedence.yaml", "--policy",
                             "MeshCircuitBreaker/web-backend-cb", "-o", "json"], 0),
    "diff-text": (["diff", "examples/diff/before", "examples/diff/after", "-o", "text"], 3),
    "diff-json": (["diff", "examples/diff/before", "examples/diff/after", "-o", "json"], 3),
    "validate-text": (["validate", "examples/complete/mesh", "-o", "text"], 0),
    "migrate-yaml": (["migrate", "examples/healthcheck/seed001-http-universal.yaml", "-o", "yaml"], 0),
}
# The default of each command is its old default: the same bytes without -o.
DEFAULTS = {"render-json": "json", "inspect-text": "text", "diff-text": "text", "validate-text": "text",
            "migrate-yaml": "yaml"}

# One command line per command (paths from the repository) and its -o formats, default first.
COMMANDS = {
    "render": (["render", "examples/complete/mesh"], ("json", "yaml", "table", "wide", "name"), 0),
    "inspect": (["inspect", "examples/complete/mesh", "--proxy", "web-01"], ("text", "json", "yaml"), 0),
    "diff": (["diff", "examples/diff/before", "examples/diff/after"], ("text", "json", "yaml"), 3),
    "validate": (["validate", "examples/complete/mesh"], ("text", "json"), 0),
    "migrate": (["migrate", "examples/healthcheck/seed000-tcp-connect-universal.yaml"], ("yaml", "json"), 0),
}


@pytest.fixture
def repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(REPO)
    return REPO


@pytest.mark.parametrize("name", sorted(SAME_BYTES))
def test_existing_formats_keep_their_bytes(repo: Path, name: str) -> None:
    args, code = SAME_BYTES[name]
    recorded = (RECORDED / f"{name}.stdout").read_text(encoding="utf-8")
    r = run(*args)
    assert (r.code, r.out) == (code, recorded)
    if name in DEFAULTS:
        without = [a for a in args if a not in ("-o", DEFAULTS[name])]
        assert run(*without).out == recorded


def test_render_json_equals_the_committed_golden(repo: Path) -> None:
    r = run("render", "examples/complete/mesh", "--proxy", "web-01", "-o", "json")
    assert (r.code, r.out) == (0, (DATA / "complete-web-01.json").read_text(encoding="utf-8"))


def test_render_name(repo: Path) -> None:
    r = run("render", "examples/complete/mesh", "-o", "name")
    assert (r.code, r.out, r.err) == (0, "default/backend-01\ndefault/backend-02\ndefault/web-01\n", "")
    for selector in ("web-01", "default/web-01"):
        assert run("render", "examples/complete/mesh", "-o", "name", "--proxy", selector).out == "default/web-01\n"
    r = run("render", "examples/complete/mesh", "-o", "name", "--proxy", "nope")
    assert (r.code, r.out, r.err) == (1, "", 'error: no proxy matches "nope" (proxy names: backend-01, backend-02, '
                                             "web-01)\n")


def test_render_wide(repo: Path) -> None:
    r = run("render", "examples/complete/mesh", "-o", "wide")
    assert (r.code, r.err) == (0, "")
    assert r.out == (
        "PROXY               CLUSTER  CHECKER  INTERVAL/TIMEOUT  THRESHOLDS              PANIC  OUTLIER  ENDPOINTS  "
        "EJECTION  LIMITS  POLICIES\n"
        "default/backend-01  backend  -        -                 -                       -      -        2          "
        "-         -       -\n"
        "default/backend-01  web      -        -                 -                       -      -        1          "
        "-         -       -\n"
        "default/backend-02  backend  -        -                 -                       -      -        2          "
        "-         -       -\n"
        "default/backend-02  web      -        -                 -                       -      -        1          "
        "-         -       -\n"
        "default/web-01      backend  http /   60s/15s           unhealthy 5, healthy 1  -      -        2          "
        "-         -       MeshHealthCheck backend-http\n")
    r = run("render", "examples/meshcircuitbreaker/outlier-detection.yaml", "-o", "wide")
    assert r.code == 0
    assert r.out == (
        "PROXY              CLUSTER  CHECKER  INTERVAL/TIMEOUT  THRESHOLDS  PANIC  OUTLIER                       "
        "ENDPOINTS  EJECTION        LIMITS                                 POLICIES\n"
        "default/any-proxy  backend  -        -                 -           0%     5xx=5 local_origin_failure=3  "
        "-          5s/30s max 50%  connections=1024 pending_requests=128  MeshCircuitBreaker backend-passive\n")
    # wide is table plus columns: every table cell is still there, in the same order.
    table = run("render", "examples/meshcircuitbreaker/outlier-detection.yaml", "-o", "table").out
    assert [line.split("  ")[0] for line in table.splitlines()] == [line.split("  ")[0] for line in r.out.splitlines()]


SKIPPED_KIND = ("skipped kind \\\"ConfigMap\\\" (kumahc reads CircuitBreaker, Dataplane, HealthCheck, "
                "KongUpstreamPolicy, Mesh, MeshCircuitBreaker, MeshGateway, MeshHTTPRoute, MeshHealthCheck, "
                "MeshService, MeshTCPRoute, Service)")
WITH_A_WARNING = """\
apiVersion: v1
kind: ConfigMap
metadata: {name: x}
---
type: MeshHealthCheck
name: web
spec:
  targetRef: {kind: Mesh}
  to:
  - targetRef: {kind: Mesh}
    default: {interval: 10s, tcp: {}}
"""


def test_validate_json_of_valid_input(ws: Workspace) -> None:
    ws.write("ok.yaml", WITH_A_WARNING)
    r = run("validate", "ok.yaml", "-o", "json")
    assert (r.code, r.err) == (0, "")
    assert r.out == f"""\
{{
  "problems": [
    {{
      "severity": "info",
      "file": null,
      "line": null,
      "document": null,
      "subject": null,
      "path": null,
      "message": "preview mode: no Dataplane in the inputs; synthesised proxies: default/any-proxy",
      "text": "info: preview mode: no Dataplane in the inputs; synthesised proxies: default/any-proxy"
    }},
    {{
      "severity": "warning",
      "file": "ok.yaml",
      "line": 2,
      "document": 1,
      "subject": "document 1",
      "path": "kind",
      "message": "{SKIPPED_KIND}",
      "text": "warning: ok.yaml:2: document 1: kind: {SKIPPED_KIND}"
    }}
  ],
  "summary": {{
    "valid": true,
    "errors": 0,
    "warnings": 1,
    "notes": 1,
    "resources": 1,
    "files": 1,
    "text": "ok: 1 resources in 1 files"
  }}
}}
"""
    # The text output says the same: its last line is the summary's text, its problems the texts.
    text = run("validate", "ok.yaml")
    report = json.loads(r.out)
    assert text.out == report["summary"]["text"] + "\n"
    assert text.lines == [p["text"] for p in report["problems"]]


def test_validate_json_of_the_complete_example(repo: Path) -> None:
    r = run("validate", "examples/complete/mesh", "-o", "json")
    assert (r.code, r.err) == (0, "")
    assert r.out == ('{\n  "problems": [],\n  "summary": {\n    "valid": true,\n    "errors": 0,\n    "warnings": 0,\n'
                     '    "notes": 0,\n    "resources": 4,\n    "files": 2,\n    "text": "ok: 4 resources in 2 files"\n'
                     '  }\n}\n')


def test_validate_json_of_invalid_input(ws: Workspace) -> None:
    ws.write("bad.yaml", WITH_A_WARNING.replace("interval: 10s", "interval: 0s"))
    r = run("validate", "bad.yaml", "-o", "json")
    assert (r.code, r.err) == (1, "")
    assert r.out == f"""\
{{
  "problems": [
    {{
      "severity": "warning",
      "file": "bad.yaml",
      "line": 2,
      "document": 1,
      "subject": "document 1",
      "path": "kind",
      "message": "{SKIPPED_KIND}",
      "text": "warning: bad.yaml:2: document 1: kind: {SKIPPED_KIND}"
    }},
    {{
      "severity": "error",
      "file": "bad.yaml",
      "line": 11,
      "document": 2,
      "subject": "MeshHealthCheck web",
      "path": "spec.to[0].default.interval",
      "message": "must be greater than zero when defined",
      "text": "bad.yaml:11: MeshHealthCheck web: spec.to[0].default.interval: must be greater than zero when defined"
    }}
  ],
  "summary": {{
    "valid": false,
    "errors": 1,
    "warnings": 1,
    "notes": 0,
    "resources": null,
    "files": null,
    "text": "found 1 error"
  }}
}}
"""
    text = run("validate", "bad.yaml")
    assert (text.code, text.out) == (1, "")
    assert text.lines == [p["text"] for p in json.loads(r.out)["problems"]] + ["found 1 error"]


def test_validate_json_strict_counts_warnings_as_errors(ws: Workspace) -> None:
    ws.write("ok.yaml", WITH_A_WARNING)
    r = run("validate", "ok.yaml", "-o", "json", "--strict")
    assert (r.code, r.err) == (1, "")
    report = json.loads(r.out)
    assert [(p["severity"], p["text"]) for p in report["problems"]] == [
        ("error", f"ok.yaml:2: document 1: kind: {json.loads(chr(34) + SKIPPED_KIND + chr(34))}")]
    assert report["summary"] == {"valid": False, "errors": 1, "warnings": 0, "notes": 0, "resources": None,
                                 "files": None, "text": "found 1 error"}


def test_validate_json_when_nothing_can_be_read(ws: Workspace) -> None:
    (ws.root / "empty").mkdir()
    r = run("validate", "empty", "-o", "json")
    assert (r.code, r.err) == (1, "")
    assert json.loads(r.out) == {
        "problems": [{"severity": "error", "file": None, "line": None, "document": None, "subject": None,
                      "path": None, "message": "no input files found", "text": "no input files found"}],
        "summary": {"valid": False, "errors": 1, "warnings": 0, "notes": 0, "resources": None, "files": None,
                    "text": "found 1 error"}}
    assert run("validate", "empty").err == "error: no input files found\n"


def test_migrate_json(repo: Path) -> None:
    r = run("migrate", "examples/healthcheck/seed000-tcp-connect-universal.yaml", "-o", "json")
    assert r.code == 0
    assert r.out == """\
{
  "apiVersion": "v1",
  "kind": "List",
  "items": [
    {
      "type": "MeshHealthCheck",
      "name": "web-to-backend-check",
      "mesh": "default",
      "spec": {
        "targetRef": {
          "kind": "MeshSubset",
          "tags": {
            "kuma.io/service": "web"
          }
        },
        "to": [
          {
            "targetRef": {
              "kind": "MeshService",
              "name": "backend"
            },
            "default": {
              "interval": "10s",
              "timeout": "2s",
              "unhealthyThreshold": 3,
              "healthyThreshold": 1,
              "tcp": {}
            }
          }
        ]
      }
    }
  ]
}
"""


def test_migrate_json_holds_the_yaml_documents_and_reads_back(ws: Workspace) -> None:
    sources = [str(REPO / "examples" / "healthcheck" / "seed001-http-universal.yaml"),
               str(REPO / "examples" / "circuitbreaker" / "full-universal.yaml")]
    as_yaml = run("migrate", *sources).out
    as_json = run("migrate", *sources, "-o", "json")
    assert as_json.code == 0
    items = json.loads(as_json.out)["items"]
    assert items == list(yaml.safe_load_all(as_yaml)) and len(items) > 1
    ws.write("list.json", as_json.out)
    ws.write("docs.yaml", as_yaml)
    assert run("render", "list.json").out == run("render", "docs.yaml").out
    # Neither kind: an empty List (and the same warning as yaml's empty output).
    ws.write("dp.yaml", "type: Mesh\nname: default\n")
    empty = run("migrate", "dp.yaml", "-o", "json")
    assert (empty.code, empty.out) == (0, '{\n  "apiVersion": "v1",\n  "kind": "List",\n  "items": []\n}\n')
    assert empty.err == run("migrate", "dp.yaml").err != ""


@pytest.mark.parametrize("command", ["inspect", "diff"])
def test_yaml_is_the_json_document(repo: Path, command: str) -> None:
    args, _, code = COMMANDS[command]
    as_json = run(*args, "-o", "json")
    as_yaml = run(*args, "-o", "yaml")
    assert as_yaml.code == as_json.code == code
    assert yaml.safe_load(as_yaml.out) == json.loads(as_json.out)
    first_key = next(iter(json.loads(as_json.out)))
    assert as_yaml.out.startswith(f"{first_key}:\n") and as_yaml.out.endswith("\n")


def _not_a_format(command: str, value: str) -> str:
    formats = ", ".join(COMMANDS[command][1])
    to_file = f"--output-file {value}" if value != "-" else "--output-file FILE (stdout is the default)"
    return (f"Error: Invalid value for '-o' / '--output': '{value}' is not an output format (one of {formats}); "
            f"to write to a file, use {to_file}\n")


@pytest.mark.parametrize("value", ["out.json", "-", "clusters.yaml"])
@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_file_after_o_is_a_usage_error(ws: Workspace, command: str, value: str) -> None:
    args = [str(REPO / a) if a.startswith("examples/") else a for a in COMMANDS[command][0]]
    r = run(*args, "-o", value)
    assert (r.code, r.out) == (2, "")
    assert r.err.startswith(f"Usage: main {command} [OPTIONS] ")
    assert r.err.endswith("\n\n" + _not_a_format(command, value))
    assert os.listdir(ws.root) == []  # no file named like the value
    long = run(*args, f"--output={value}")
    assert (long.code, long.err) == (2, r.err)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_output_file_writes_what_stdout_shows(repo: Path, tmp_path: Path, command: str) -> None:
    args, formats, code = COMMANDS[command]
    for fmt in formats:
        shown = run(*args, "-o", fmt)
        target = tmp_path / f"{command}.{fmt}"
        written = run(*args, "-o", fmt, "--output-file", str(target))
        assert (written.code, written.out, written.err) == (code, "", shown.err)
        assert target.read_text(encoding="utf-8") == shown.out != ""
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(f"{command}.{f}" for f in formats)


def test_validate_json_output_file_holds_the_report_of_invalid_input(ws: Workspace) -> None:
    ws.write("bad.yaml", WITH_A_WARNING.replace("interval: 10s", "interval: 0s"))
    shown = run("validate", "bad.yaml", "-o", "json")
    r = run("validate", "bad.yaml", "-o", "json", "--output-file", "report.json")
    assert (r.code, r.out, r.err) == (1, "", "")
    assert (ws.root / "report.json").read_text(encoding="utf-8") == shown.out
    # Text mode writes only a valid input's line: invalid input leaves the file alone, the errors on stderr.
    r = run("validate", "bad.yaml", "--output-file", "report.txt")
    assert (r.code, r.out) == (1, "")
    assert r.lines[-1] == "found 1 error"
    assert not (ws.root / "report.txt").exists()


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_shows_the_output_flags(command: str) -> None:
    from click.testing import CliRunner

    from kumahc.cli import main

    text = CliRunner().invoke(main, [command, "--help"], terminal_width=200).output
    formats = COMMANDS[command][1]
    assert "-o, --output FORMAT" in text and f"One of: {', '.join(formats)}.  [default: {formats[0]}]" in text
    assert "--output-file FILE" in text
    assert "--format" not in text


def test_removed_format_flag_is_a_usage_error(repo: Path) -> None:
    r = run("render", "examples/complete/mesh", "--format", "yaml")
    assert (r.code, r.out) == (2, "")
    assert r.err.endswith("\n\nError: No such option '--format'.\n")

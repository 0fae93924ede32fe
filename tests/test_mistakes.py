"""Mistakes are errors: kind typos, close matches for --proxy/--cluster, allowed values, YAML syntax in kumahc's
words, and ``-`` (standard input) on every command that takes PATHs. Exact messages."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from helpers import REPO, SKIPPED, Workspace, dataplane, docs

from kumahc.cli import main

MESH = REPO / "examples" / "complete" / "mesh"
STREAM = (MESH / "dataplanes.yaml").read_text() + "---\n" + (MESH / "policy.yaml").read_text()
READS_KUMA = ("kumahc reads CircuitBreaker, Dataplane, HealthCheck, Mesh, MeshCircuitBreaker, MeshGateway, "
              "MeshHTTPRoute, MeshHealthCheck, MeshService, MeshTCPRoute")


@pytest.mark.parametrize("text, expected", [
    ("type: MeshHealtCheck\nname: p\nmesh: default\nspec: {}\n",
     'a.yaml:1: document 1: type: unknown kind "MeshHealtCheck": not a Kuma kind; did you mean "MeshHealthCheck"?'),
    ("type: dataplane\nname: d\n",
     'a.yaml:1: document 1: type: unknown kind "dataplane": not a Kuma kind; did you mean "Dataplane"?'),
    ("type: Foo\nname: f\n", f'a.yaml:1: document 1: type: unknown kind "Foo": not a Kuma kind ({READS_KUMA})'),
    ("type: [a]\n", "a.yaml:1: document 1: type: must be a string"),
    ("apiVersion: kuma.io/v1alpha1\nkind: MeshHealthChek\nmetadata: {name: x}\n",
     'a.yaml:2: document 1: kind: unknown kind "MeshHealthChek": not a Kuma kind; did you mean "MeshHealthCheck"?'),
    ("apiVersion: configuration.konghq.com/v1beta1\nkind: KongUpstreamPolicies\nmetadata: {name: x}\n",
     'a.yaml:2: document 1: kind: unknown kind "KongUpstreamPolicies": not a Kong kind; did you mean '
     '"KongUpstreamPolicy"?'),
    ("apiVersion: configuration.konghq.com/v1\nkind: Widget\nmetadata: {name: x}\n",
     'a.yaml:2: document 1: kind: unknown kind "Widget": not a Kong kind (kumahc reads KongUpstreamPolicy)'),
], ids=["universal-typo", "universal-case", "universal-unknown", "universal-not-string", "kuma-group-typo",
        "kong-group-typo", "kong-group-unknown"])
def test_unknown_kind_is_an_error(ws: Workspace, text: str, expected: str) -> None:
    ws.write("a.yaml", text)
    assert ws.fails("validate", "a.yaml") == [expected]


@pytest.mark.parametrize("text, line, path, kind", [
    ("type: MeshTimeout\nname: t\nmesh: default\nspec: {}\n", 1, "type", "MeshTimeout"),
    ("apiVersion: kuma.io/v1alpha1\nkind: MeshRetry\nmetadata: {name: r}\n", 2, "kind", "MeshRetry"),
    ("apiVersion: configuration.konghq.com/v1\nkind: KongPlugin\nmetadata: {name: p}\n", 2, "kind", "KongPlugin"),
    ("apiVersion: apps/v1\nkind: Deploymnt\nmetadata: {name: d}\n", 2, "kind", "Deploymnt"),
], ids=["kuma-universal", "kuma-kubernetes", "kong", "other-group"])
def test_kinds_of_others_are_skipped(ws: Workspace, text: str, line: int, path: str, kind: str) -> None:
    ws.write("a.yaml", text)
    r = ws.ok("validate", "a.yaml")
    assert r.lines == [f'warning: a.yaml:{line}: document 1: {path}: skipped kind "{kind}" ({SKIPPED})']


def test_a_typo_fails_the_ci_gate(ws: Workspace) -> None:
    """The issue's case: a policy whose kind is misspelt no longer passes as ``ok: 0 resources``."""
    ws.write("p.yaml", (REPO / "examples/meshhealthcheck/http-kuma-2.10.yaml").read_text()
             .replace("type: MeshHealthCheck", "type: MeshHealtCheck"))
    r = ws.run("validate", "p.yaml")
    assert (r.code, r.out) == (1, "")


def test_backend_ref_kind_lists_allowed(ws: Workspace) -> None:
    ws.write("a.yaml", dataplane("web-01", "10.0.0.1", "web",
                                 outbound="[{backendRef: {kind: MeshHTTPRoute, name: b}}]"))
    assert ws.fails("validate", "a.yaml") == [
        "a.yaml:8: Dataplane web-01: networking.outbound[0].backendRef.kind: value 'MeshHTTPRoute' is not "
        "supported (allowed: MeshService)"]


@pytest.mark.parametrize("args, message", [
    (["render", "--proxy", "web-1"], 'error: no proxy matches "web-1"; did you mean "web-01"?'),
    (["render", "--proxy", "backend"], 'error: no proxy matches "backend"; did you mean "backend-01" or '
                                       '"backend-02"?'),
    (["render", "--proxy", "default/web01"], 'error: no proxy matches "default/web01"; did you mean '
                                             '"default/web-01"?'),
    (["render", "--proxy", "zzz"], 'error: no proxy matches "zzz" (proxy names: backend-01, backend-02, web-01)'),
    (["inspect", "--proxy", "wbe-01"], 'error: no proxy matches "wbe-01"; did you mean "web-01"?'),
    (["inspect", "--proxy", "web-01", "--cluster", "backnd"],
     'error: no cluster matches "backnd" in proxy default/web-01; did you mean "backend"?'),
], ids=["render-proxy", "render-several", "render-mesh-name", "render-none-close", "inspect-proxy",
        "inspect-cluster"])
def test_close_matches(args: list[str], message: str) -> None:
    result = CliRunner().invoke(main, [args[0], str(MESH), *args[1:]])
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", message + "\n")


def test_many_proxies_named_up_to_five(ws: Workspace) -> None:
    ws.write("a.yaml", docs(*(dataplane(f"p{i}", f"10.0.0.{i}", "s", outbound="[]") for i in range(1, 8))))
    r = ws.run("render", "a.yaml", "--proxy", "zzz")
    assert r.lines == ['error: no proxy matches "zzz" (proxy names: p1, p2, p3, p4, p5 and 2 more)']


# --- "-" reads standard input -------------------------------------------------------------------------------------

def _stdin(*args: str, text: str = STREAM) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), input=text)
    return result.exit_code, result.stdout, result.stderr


def test_stdin_render_equals_files() -> None:
    from_files = CliRunner().invoke(main, ["render", str(MESH)])
    assert _stdin("render", "-") == (0, from_files.stdout, "")


def test_stdin_validate_inspect_migrate() -> None:
    assert _stdin("validate", "-") == (0, "ok: 4 resources in 1 files\n", "")
    code, out, _ = _stdin("inspect", "-", "--proxy", "web-01")
    assert code == 0 and out.splitlines()[0] == "proxy default/web-01"
    hc = (REPO / "examples/healthcheck/seed000-tcp-connect-universal.yaml").read_text()
    code, out, _ = _stdin("migrate", "-", text=hc)
    assert code == 0 and "\ntype: MeshHealthCheck\n" in out
    assert out.startswith("# migrated from HealthCheck web-to-backend-check (<stdin>:1)\n")


def test_stdin_with_files_and_twice(ws: Workspace) -> None:
    """``-`` mixes with files in input order; given twice it is read once (like a file named twice)."""
    ws.write("p.yaml", (MESH / "policy.yaml").read_text())
    dps = (MESH / "dataplanes.yaml").read_text()
    code, out, err = _stdin("validate", "-", "p.yaml", "-", text=dps)
    assert (code, out, err) == (0, "ok: 4 resources in 2 files\n", "")


def test_stdin_errors_name_stdin() -> None:
    code, out, err = _stdin("validate", "-", text="type: MeshHealtCheck\nname: x\n")
    assert (code, out) == (1, "")
    assert err == ('<stdin>:1: document 1: type: unknown kind "MeshHealtCheck": not a Kuma kind; did you mean '
                   '"MeshHealthCheck"?\nfound 1 error\n')
    code, out, err = _stdin("validate", "-", text="a: [b\n")
    assert err == '<stdin>:2: invalid YAML: column 1: "[" list not closed: expected "," or "]"\nfound 1 error\n'


def test_stdin_through_a_real_pipe() -> None:
    proc = subprocess.run([sys.executable, "-m", "kumahc", "render", "-", "--proxy", "web-01", "-o", "yaml"],
                          input=STREAM, capture_output=True, text=True, timeout=60, check=False)
    assert (proc.returncode, proc.stderr) == (0, "")
    files = CliRunner().invoke(main, ["render", str(MESH), "--proxy", "web-01", "-o", "yaml"])
    assert proc.stdout == files.stdout


# --- a mistyped mesh ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mesh_line, expected", [
    ("mesh: defualt", 'warning: p.yaml:3: MeshHealthCheck backend-http: mesh: mesh "defualt" has no proxies; '
                      'did you mean "default"?'),
    ("mesh: prod", 'warning: p.yaml:3: MeshHealthCheck backend-http: mesh: mesh "prod" has no proxies '
                   '(meshes with proxies: default)'),
], ids=["close", "none-close"])
def test_mistyped_mesh(ws: Workspace, mesh_line: str, expected: str) -> None:
    ws.write("d.yaml", (MESH / "dataplanes.yaml").read_text())
    ws.write("p.yaml", (MESH / "policy.yaml").read_text().replace("spec:", mesh_line + "\nspec:", 1))
    r = ws.ok("validate", "d.yaml", "p.yaml")
    assert r.lines == [expected, "warning: p.yaml:5: MeshHealthCheck backend-http: spec.targetRef: matches no proxy"]
    assert ws.run("validate", "--strict", "d.yaml", "p.yaml").code == 1


def test_default_mesh_left_implicit_is_not_reported(ws: Workspace) -> None:
    ws.write("d.yaml", (MESH / "dataplanes.yaml").read_text().replace("mesh: default", "mesh: prod"))
    ws.write("p.yaml", (MESH / "policy.yaml").read_text())
    assert ws.ok("validate", "d.yaml", "p.yaml").lines == [
        "warning: p.yaml:4: MeshHealthCheck backend-http: spec.targetRef: matches no proxy"]


@pytest.mark.parametrize("args, message", [
    ([], "Error: give exactly one of --proxy and --policy"),
    (["--proxy", "web-01", "--policy", "MeshHealthCheck/backend-http"],
     "Error: give exactly one of --proxy and --policy"),
    (["--policy", "MeshHealthCheck/backend-http", "--cluster", "backend"],
     "Error: --cluster goes with --proxy, not --policy"),
], ids=["neither", "both", "cluster-with-policy"])
def test_inspect_usage(args: list[str], message: str) -> None:
    r = CliRunner().invoke(main, ["inspect", str(MESH), *args])
    assert r.exit_code == 2
    assert r.stderr.splitlines()[-1] == message


def test_inspect_policy_without_kind() -> None:
    r = CliRunner().invoke(main, ["inspect", str(MESH), "--policy", "backend-http"])
    assert (r.exit_code, r.stdout, r.stderr) == (
        1, "", 'error: --policy "backend-http": expected KIND/NAME with KIND one of MeshHealthCheck, '
               'KongUpstreamPolicy, HealthCheck, MeshCircuitBreaker, CircuitBreaker\n')

"""``kumahc apply/get/delete``, ``--store`` on render/validate/inspect and ``kumahc store migrate`` against a real
PostgreSQL server (conftest.py). Every command's output is asserted exactly."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from helpers import refusing_port
from store_cli import kumahc

from kumahc.sources.store import connection, schema, state

DATA = Path(__file__).resolve().parent / "data"
UNIVERSAL = str(DATA / "universal.yaml")
KUBERNETES = str(DATA / "kubernetes.yaml")
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z")


def revision(url: str) -> int:
    with connection.session(url) as conn:
        return state.read(conn).revision


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


APPLIED_UNIVERSAL = [
    "mesh default created",
    "dataplane default/web-01 created",
    "dataplane default/backend-01 created",
    "dataplane default/db-01 created",
    "meshservice default/db created",
    "healthcheck default/web-to-backend-check created",
    "meshhealthcheck default/web-to-backend created",
    "meshcircuitbreaker default/db-limits created",
    "circuitbreaker default/web-to-backend-limits created",
]
APPLIED_KUBERNETES = [
    "mesh default created",
    "dataplane shop/web-0 created",
    "dataplane shop/backend-0 created",
    "dataplane shop/db-0 created",
    "meshservice shop/db created",
    "service shop/backend created",
    "kongupstreampolicy shop/backend-hc created",
    "healthcheck web-to-db-check created",
    "meshhealthcheck kuma-system/web-to-backend created",
    "meshcircuitbreaker kuma-system/db-limits created",
    "circuitbreaker web-to-backend-limits created",
]


# --- schema -----------------------------------------------------------------------------------------------------

def test_migrate_then_again(blank_url: str) -> None:
    assert kumahc("store", "migrate", "--store", blank_url).out == f"store schema at version {schema.LATEST} (was 0)\n"
    again = kumahc("store", "migrate", "--store", blank_url)
    assert (again.code, again.out) == (0, f"store schema at version {schema.LATEST} (was {schema.LATEST})\n")


# What each command does on the empty store once it is migrated: (exit code, stdout, stderr lines).
ON_EMPTY_STORE = {
    "get": (0, "", ["no MeshHealthCheck resources found"]),
    "validate": (0, "ok: 0 resources in store\n", []),
    "apply": (0, "".join(f"{line}\n" for line in APPLIED_UNIVERSAL),
              ["warning: proxy default/web-01 cluster backend: health check from HealthCheck web-to-backend-check "
               "ignored: MeshHealthCheck web-to-backend takes precedence"]),
    "delete": (1, "", ['error: mesh "default" not found']),  # an empty store has no mesh "default"
    "render": (0, '{\n  "proxies": []\n}\n', []),
}


@pytest.mark.parametrize("args", [("get", "meshhealthchecks"), ("validate",), ("apply", "-f", UNIVERSAL),
                                  ("delete", "mesh", "default"), ("render",)])
def test_store_at_an_old_schema_is_an_error(blank_url: str, args: tuple[str, ...]) -> None:
    with connection.session(blank_url) as conn:
        assert schema.migrate(conn, target=1) == (0, 1)
    r = kumahc(*args, "--store", blank_url)
    assert (r.code, r.out) == (1, "")
    assert r.lines == [f"error: store {blank_url} is at schema version 1, this kumahc needs {schema.LATEST}: "
                       'run "kumahc store migrate --store URL"']
    assert kumahc("store", "migrate", "--store", blank_url).out == f"store schema at version {schema.LATEST} (was 1)\n"
    r = kumahc(*args, "--store", blank_url)  # now it runs
    assert (r.code, r.out, r.lines) == ON_EMPTY_STORE[args[0]]


def test_never_migrated_store_is_an_error(blank_url: str) -> None:
    r = kumahc("get", "mesh", "--store", blank_url)
    assert (r.code, r.lines) == (1, [f"error: store {blank_url} is at schema version 0, this kumahc needs "
                                     f'{schema.LATEST}: run "kumahc store migrate --store URL"'])


def test_store_down_is_one_line_and_exit_1() -> None:
    with refusing_port() as port:
        url = f"postgresql://kumahc:secret@127.0.0.1:{port}/kumahc"
        for args in (("validate",), ("apply", "-f", UNIVERSAL), ("get", "mesh"), ("store", "migrate")):
            r = kumahc(*args, "--store", url)
            assert (r.code, r.out) == (1, "")
            assert r.lines == [f"error: store postgresql://kumahc:***@127.0.0.1:{port}/kumahc: cannot connect: "
                               f'connection failed: connection to server at "127.0.0.1", port {port} failed: '
                               "Connection refused"]


@pytest.mark.parametrize(("url", "message"), [
    # Only the scheme of a URL that is not PostgreSQL's, and nothing of one libpq cannot parse, is shown: kumahc
    # cannot tell where its password is.
    ("mysql://db/kumahc", "error: --store: a mysql:// URL is not a PostgreSQL URL "
                          "(postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DBNAME)"),
    ("postgresql://db/kumahc?bogus=1", "error: --store: not a valid PostgreSQL URL or key=value connection string "
                                       "(<store URL not shown: it cannot be parsed>): invalid URI query parameter: "
                                       '"bogus"'),
])
def test_bad_url(url: str, message: str) -> None:
    r = kumahc("validate", "--store", url)
    assert (r.code, r.lines) == (1, [message])


def test_paths_and_store_together_is_a_usage_error(store: str) -> None:
    r = kumahc("validate", UNIVERSAL, "--store", store)
    assert r.code == 2
    assert r.lines[-1] == "Error: give PATH arguments or --store, not both"
    assert kumahc("validate").code == 2


def test_kumahc_store_environment_variable(store: str) -> None:
    env = {"KUMAHC_STORE": store}
    assert kumahc("apply", "-f", UNIVERSAL, env=env).out.splitlines() == APPLIED_UNIVERSAL
    assert kumahc("validate", env=env).out == "ok: 9 resources in store\n"
    # PATH arguments win over the environment: files stay the default.
    assert kumahc("validate", KUBERNETES, env=env).out == "ok: 11 resources in 1 files\n"


# --- apply --------------------------------------------------------------------------------------------------------

def test_apply_created_configured_unchanged(store: str, tmp_path: Path) -> None:
    r = kumahc("apply", "-f", UNIVERSAL, "--store", store)
    assert (r.code, r.out.splitlines()) == (0, APPLIED_UNIVERSAL)
    assert r.lines == ["warning: proxy default/web-01 cluster backend: health check from HealthCheck "
                       "web-to-backend-check ignored: MeshHealthCheck web-to-backend takes precedence"]
    text = Path(UNIVERSAL).read_text().replace("interval: 5s", "interval: 6s")
    r = kumahc("apply", "-f", write(tmp_path, "u.yaml", text), "--store", store)
    assert r.out.splitlines() == [line.replace("created", "configured" if "meshhealthcheck" in line else "unchanged")
                                  for line in APPLIED_UNIVERSAL]
    table = kumahc("get", "meshhealthchecks", "-o", "wide", "--store", store).out
    assert [line.split() for line in re.sub(r"  \d+[smhdy]  ", "  AGE  ", STAMP.sub("T", table)).splitlines()] == [
        ["NAME", "MESH", "AGE", "FORMAT", "GENERATION", "CREATED", "MODIFIED", "LABELS"],
        ["default/web-to-backend", "default", "AGE", "universal", "2", "T", "T", "<none>"]]
    before = revision(store)
    assert kumahc("apply", "-f", UNIVERSAL, "-f", UNIVERSAL, "--store", store).code == 0  # same file twice: once
    assert revision(store) == before + 1
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).out.splitlines() == [
        line.replace("created", "unchanged") for line in APPLIED_UNIVERSAL]
    assert revision(store) == before + 1  # nothing changed: nothing written


def test_invalid_apply_writes_nothing(store: str, tmp_path: Path) -> None:
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    before = kumahc("get", "meshhealthcheck", "--store", store, "-o", "yaml").out
    rev = revision(store)
    bad = write(tmp_path, "bad.yaml", """\
type: MeshHealthCheck
name: new-one
mesh: default
spec:
  targetRef: {kind: Mesh}
  to: [{targetRef: {kind: Mesh}, default: {tcp: {}}}]
---
type: MeshHealthCheck
name: web-to-backend
mesh: default
spec:
  targetRef: {kind: Mesh}
  to:
  - targetRef: {kind: MeshService, name: backend}
    default: {interval: 10}
""")
    r = kumahc("apply", "-f", bad, "--store", store)
    assert (r.code, r.out) == (1, "")
    assert r.lines == [f'{bad}:15: MeshHealthCheck web-to-backend: spec.to[0].default.interval: must be a duration '
                       '(e.g. "10s", "1m30s")', "found 1 error"]
    assert revision(store) == rev
    assert kumahc("get", "meshhealthcheck", "--store", store, "-o", "yaml").out == before


def test_apply_checks_the_whole_resulting_state(store: str, tmp_path: Path) -> None:
    """A Dataplane valid on its own, whose proxy name collides with a stored one's: refused, naming the stored
    resource."""
    stored = write(tmp_path, "a.yaml", "type: Dataplane\nname: web-0.shop\nmesh: default\n"
                   "networking: {address: 10.2.0.1, inbound: [{port: 1, tags: {kuma.io/service: a}}]}\n")
    assert kumahc("apply", "-f", stored, "--store", store).out == "dataplane default/web-0.shop created\n"
    rev = revision(store)
    r = kumahc("apply", "-f", KUBERNETES, "--store", store)
    assert (r.code, r.out) == (1, "")
    assert r.lines[-2:] == [
        f'{KUBERNETES}:7: Dataplane shop/web-0: duplicate proxy name "web-0.shop" in mesh "default": also '
        "defined at store: Dataplane default/web-0.shop", "found 1 error"]
    assert revision(store) == rev


def test_dry_run_writes_nothing(store: str) -> None:
    r = kumahc("apply", "-f", KUBERNETES, "--dry-run", "--store", store)
    assert r.out.splitlines() == [*(f"{line} (dry run)" for line in APPLIED_KUBERNETES),
                                  "8 clusters on 3 proxies change (dry run)"]
    assert revision(store) == 0
    assert kumahc("get", "meshes", "--store", store).lines == ["no Mesh resources found"]


def test_apply_from_stdin_and_error_names_stdin(store: str) -> None:
    r = kumahc("apply", "-f", "-", "--store", store, stdin="type: Mesh\nname: other\n")
    assert (r.code, r.out) == (0, "mesh other created\n")
    r = kumahc("apply", "-f", "-", "--store", store, stdin="type: Mesh\nname: other\nlabels: {a: 1}\n")
    assert (r.code, r.out) == (1, "")
    assert r.lines == ['<stdin>:3: Mesh other: labels["a"]: must be a string', "found 1 error"]


def test_stored_resource_messages_name_the_resource(store: str, tmp_path: Path) -> None:
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    path = write(tmp_path, "p.yaml", "type: MeshHealthCheck\nname: nobody\nmesh: default\nspec:\n"
                 "  targetRef: {kind: Dataplane, labels: {app: nobody}}\n"
                 "  to: [{targetRef: {kind: Mesh}, default: {tcp: {}}}]\n")
    r = kumahc("apply", "-f", path, "--store", store)
    assert r.out == "meshhealthcheck default/nobody created\n"
    assert f"warning: {path}:5: MeshHealthCheck nobody: spec.targetRef: matches no proxy" in r.lines
    r = kumahc("validate", "--store", store)
    assert (r.code, r.out) == (0, "ok: 10 resources in store\n")
    assert r.lines == [
        "warning: store: MeshHealthCheck default/nobody: spec.targetRef: matches no proxy",
        "warning: proxy default/web-01 cluster backend: health check from HealthCheck web-to-backend-check "
        "ignored: MeshHealthCheck web-to-backend takes precedence",
    ]


def test_creation_time_is_the_stores(store: str, tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", "type: Mesh\nname: m\ncreationTime: 2001-01-01T00:00:00Z\n")
    assert kumahc("apply", "-f", path, "--store", store).out == "mesh m created\n"
    doc = yaml.safe_load(kumahc("get", "mesh", "m", "-o", "yaml", "--store", store).out)
    assert list(doc) == ["type", "name", "creationTime"]
    assert doc["creationTime"] != "2001-01-01T00:00:00Z" and STAMP.fullmatch(doc["creationTime"])
    # The file's creationTime is not the store's business: applying it again changes nothing.
    assert kumahc("apply", "-f", path, "--store", store).out == "mesh m unchanged\n"


# --- get / delete -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("source", [UNIVERSAL, KUBERNETES])
def test_get_apply_round_trip_every_kind(store: str, tmp_path: Path, source: str) -> None:
    applied = kumahc("apply", "-f", source, "--store", store).out.splitlines()
    kinds = sorted({line.split()[0] for line in applied})
    rev = revision(store)
    for kind in kinds:
        out = kumahc("get", kind, "-o", "yaml", "--store", store).out
        again = kumahc("apply", "-f", "-", "--store", store, stdin=out)
        assert again.code == 0, again.err
        assert again.out.splitlines() == [line.replace("created", "unchanged") for line in applied
                                          if line.startswith(kind + " ")]
        assert kumahc("get", kind, "-o", "yaml", "--store", store).out == out
        for line in applied:
            if line.startswith(kind + " "):
                name = line.split()[1]
                ns, _, short = name.rpartition("/")
                scope = ["-n", ns] if source == KUBERNETES and ns else ["--mesh", ns] if ns else []
                one = kumahc("get", kind, short, *scope, "-o", "json", "--store", store)
                assert one.code == 0, one.err
                again = kumahc("apply", "-f", write(tmp_path, "one.json", one.out), "--store", store)
                assert again.out == f"{kind} {name} unchanged\n"
    assert revision(store) == rev
    # The stored documents are the applied ones plus the store's creation time.
    docs = list(yaml.safe_load_all(Path(source).read_text()))
    got = [d for k in ("mesh", "dataplane", "meshservice", "service", "kongupstreampolicy", "healthcheck",
                       "meshhealthcheck", "meshcircuitbreaker", "circuitbreaker")
           for d in json.loads(kumahc("get", k, "-o", "json", "--store", store).out)["items"]]
    for d in got:
        if "metadata" in d:
            del d["metadata"]["creationTimestamp"]
        else:
            del d["creationTime"]
    key = json.dumps
    assert sorted(map(key, got)) == sorted(map(key, docs))


def test_get_selects_and_reports_not_found(store: str) -> None:
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    assert kumahc("apply", "-f", KUBERNETES, "--store", store).code == 0
    names = [line.split()[0] for line in kumahc("get", "dataplanes", "--store", store).out.splitlines()[1:]]
    assert names == ["default/web-01", "default/backend-01", "default/db-01", "shop/web-0", "shop/backend-0",
                     "shop/db-0"]
    names = [line.split()[0] for line in kumahc("get", "Dataplane", "-n", "shop", "--store", store).out.splitlines()]
    assert names == ["NAME", "shop/web-0", "shop/backend-0", "shop/db-0"]
    r = kumahc("get", "meshhealthcheck", "nope", "--store", store)
    assert (r.code, r.lines) == (1, ['error: meshhealthcheck "nope" not found'])
    r = kumahc("get", "widgets", "--store", store)
    assert r.code == 2 and "unknown kind \"widgets\"" in r.err


def test_delete(store: str) -> None:
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    r = kumahc("apply", "-f", KUBERNETES, "--store", store)  # one Mesh identity for both formats: replaced
    assert r.out.splitlines()[0] == "mesh default configured"
    r = kumahc("delete", "meshhealthcheck", "nope", "--mesh", "default", "--store", store)
    assert (r.code, r.lines) == (1, ['error: meshhealthcheck "nope" not found in mesh "default"'])
    r = kumahc("delete", "mesh", "default", "--store", store)  # Universal and Kubernetes Mesh share the identity
    assert (r.code, r.out) == (0, "mesh default deleted\n")
    r = kumahc("delete", "meshhealthcheck", "web-to-backend", "--store", store)
    assert (r.code, r.lines) == (1, ['error: 2 MeshHealthCheck resources named "web-to-backend" '
                                     "(default/web-to-backend, kuma-system/web-to-backend): choose one with --mesh "
                                     "or -n"])
    rev = revision(store)
    r = kumahc("delete", "meshhealthcheck", "web-to-backend", "-n", "kuma-system", "--store", store)
    assert r.out == "meshhealthcheck kuma-system/web-to-backend deleted\n"
    assert revision(store) == rev + 1
    assert kumahc("get", "meshhealthcheck", "web-to-backend", "-n", "kuma-system", "--store", store).code == 1


# --- the store as a source: the same results as the files ---------------------------------------------------------

def _where_free(text: str) -> str:
    """inspect's ``(FILE:LINE)`` / ``(store: KIND NAME)`` origins blanked."""
    text = re.sub(r"\((?:store: [^)]*|[^() ]+:\d+)\)", "(…)", text)
    return re.sub(r'"where": "(?:store: [^"]*|[^"]+:\d+)"', '"where": "…"', text)


COMPLETE = str(Path(__file__).parents[2] / "examples/complete/mesh")


@pytest.mark.parametrize("sources", [[UNIVERSAL], [KUBERNETES], [COMPLETE], ["small"]])
def test_render_validate_inspect_from_store_equal_files(store: str, tmp_path: Path, sources: list[str]) -> None:
    if sources == ["small"]:  # bench's generated mesh (Kubernetes format, every kind, legacy HealthChecks too)
        from bench.generator import generate

        generate(tmp_path / "small", "small")
        sources = [str(tmp_path / "small")]
    assert kumahc("apply", *(a for s in sources for a in ("-f", s)), "--store", store).code == 0
    for fmt in ("json", "yaml"):
        from_files = kumahc("render", *sources, "-o", fmt)
        from_store = kumahc("render", "--store", store, "-o", fmt)
        assert from_store.out == from_files.out and from_store.code == from_files.code == 0
    files_ok, store_ok = kumahc("validate", *sources), kumahc("validate", "--store", store)
    assert store_ok.out == re.sub(r" in \d+ files", " in store", files_ok.out)
    assert len(store_ok.lines) == len(files_ok.lines)
    proxies = [p["name"] for p in json.loads(kumahc("render", "--store", store).out)["proxies"]]
    assert proxies
    for proxy in proxies[:6]:
        for fmt in ("text", "json"):
            a = kumahc("inspect", *sources, "--proxy", proxy, "-o", fmt)
            b = kumahc("inspect", "--store", store, "--proxy", proxy, "-o", fmt)
            assert _where_free(b.out) == _where_free(a.out)


def test_store_newer_than_kumahc_is_an_error(store: str) -> None:
    with connection.session(store) as conn:
        conn.execute("INSERT INTO kumahc_schema (version, name) VALUES (99, 'future')")
    r = kumahc("get", "mesh", "--store", store)
    assert (r.code, r.lines) == (1, [f"error: store {store} is at schema version 99, newer than this kumahc knows "
                                     f"({schema.LATEST}): upgrade kumahc"])


def test_a_commit_notifies_its_revision(store: str) -> None:
    """Replicas will LISTEN on kumahc_store: each commit announces the new revision; a no-op apply announces
    nothing."""
    with connection.session(store) as listener:
        listener.execute("LISTEN kumahc_store")
        assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
        assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0  # unchanged: no commit
        assert kumahc("delete", "meshhealthcheck", "web-to-backend", "--store", store).code == 0
        got = [(n.channel, n.payload) for n in listener.notifies(timeout=2, stop_after=3)]
    assert got == [("kumahc_store", "1"), ("kumahc_store", "2")]


def test_a_value_json_cannot_hold_is_refused(store: str, tmp_path: Path) -> None:
    path = write(tmp_path, "m.yaml", "type: Mesh\nname: x\nextra:\n  - 1\n  - .nan\n")
    r = kumahc("apply", "-f", path, "--store", store)
    assert (r.code, r.out) == (1, "")
    assert r.lines == [f"{path}:5: Mesh x: extra[1]: cannot be stored: .nan and .inf have no JSON form",
                       "found 1 error"]
    assert revision(store) == 0


def _hc(name: str, interval: str, created: str = "") -> str:
    return (f"type: HealthCheck\nname: {name}\nmesh: default\n{created}"
            "sources: [{match: {kuma.io/service: web}}]\ndestinations: [{match: {kuma.io/service: backend}}]\n"
            f"conf: {{interval: {interval}, timeout: 1s, unhealthyThreshold: 1, healthyThreshold: 1, tcp: {{}}}}\n")


def _backend_interval(args: list[str]) -> str:
    doc = json.loads(kumahc("render", *args, "--proxy", "web-01").out)
    cluster = next(c for c in doc["proxies"][0]["clusters"] if c["name"] == "backend")
    return cluster["health_checks"][0]["interval"]


def test_healthcheck_tie_break_uses_the_stores_creation_time(store: str, tmp_path: Path) -> None:
    """Two HealthChecks tie on specificity: the later-created wins. In files, x's creationTime (2030) beats y's
    absent one; in the store both were created by one apply, so the tie falls to input order and y wins."""
    dataplanes = str(Path(COMPLETE, "dataplanes.yaml"))
    policies = write(tmp_path, "hc.yaml", _hc("x", "3s", "creationTime: 2030-01-01T00:00:00Z\n") + "---\n"
                     + _hc("y", "4s"))
    assert _backend_interval([dataplanes, policies]) == "3s"
    assert kumahc("apply", "-f", dataplanes, "-f", policies, "--store", store).code == 0
    assert _backend_interval(["--store", store]) == "4s"
    # A later apply creates z: the newest wins; re-applying x (configured) keeps its creation time.
    assert kumahc("apply", "-f", write(tmp_path, "z.yaml", _hc("z", "5s")), "--store", store).code == 0
    x = write(tmp_path, "x.yaml", _hc("x", "6s"))
    assert kumahc("apply", "-f", x, "--store", store).out == "healthcheck default/x configured\n"
    assert _backend_interval(["--store", store]) == "5s"


def test_stopped_server_then_restarted(own_pg) -> None:
    """The real server stopped: one line, exit 1; started again: the same store answers with what it held. (A
    server of the test's own: the session's server is never stopped.)"""
    store = own_pg.new_store()
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    with own_pg.down():
        r = kumahc("validate", "--store", store)
        assert (r.code, r.out) == (1, "")
        assert r.lines == [f"error: store {store}: cannot connect: connection failed: connection to server at "
                           f'"127.0.0.1", port {own_pg.port} failed: Connection refused']
    r = kumahc("validate", "--store", store)
    assert (r.code, r.out) == (0, "ok: 9 resources in store\n")


def test_nothing_to_apply_is_an_error(store: str, tmp_path: Path) -> None:
    path = write(tmp_path, "d.yaml", "kind: Deployment\nmetadata: {name: x}\n")
    r = kumahc("apply", "-f", path, "--store", store)
    assert (r.code, r.out) == (1, "")
    assert r.lines[-1] == "error: no resources to apply"
    assert r.lines[0].startswith(f'warning: {path}:1: document 1: kind: skipped kind "Deployment"')
    r = kumahc("apply", "-f", str(tmp_path / "missing.yaml"), "--store", store)
    assert (r.code, r.lines) == (1, [f"{tmp_path / 'missing.yaml'}: cannot read: No such file or directory",
                                     "found 1 error"])


def test_a_locked_store_is_an_error_not_a_hang(store: str) -> None:
    """Another session holds the store's revision row: apply waits at most lock_timeout (here set in the URL;
    kumahc's default is 60 s), then fails with one line and writes nothing."""
    url = store + "?options=-c%20lock_timeout%3D300"
    with connection.session(store) as holder, holder.transaction():
        holder.execute("SELECT revision FROM kumahc_state WHERE id = 1 FOR UPDATE")
        r = kumahc("apply", "-f", UNIVERSAL, "--store", url)
    assert (r.code, r.out) == (1, "")
    assert r.lines[-1] == f"error: store {url}: canceling statement due to lock timeout"
    assert revision(store) == 0


def test_round_trip_data_covers_every_kind() -> None:
    """The round-trip files hold every kind kumahc reads (Kubernetes format: all of them)."""
    from kumahc.resources.model import KINDS, KUBERNETES_ONLY

    kinds = {line.split()[0] for line in APPLIED_KUBERNETES}
    # The gateway kinds have their own round trip: tests/store/test_gateway_store.py.
    assert kinds == {k.lower() for k in KINDS} - {"meshgateway", "meshhttproute", "meshtcproute"}
    assert {line.split()[0] for line in APPLIED_UNIVERSAL} == kinds - {k.lower() for k in KUBERNETES_ONLY}


def test_inspect_policy_circuit_breakers_from_store(store: str) -> None:
    """``--policy`` finds both circuit-breaker kinds in the store by their Kubernetes names (the namespaced
    MeshCircuitBreaker, the cluster-scoped CircuitBreaker) and reports what the files report."""
    assert kumahc("apply", "-f", KUBERNETES, "--store", store).code == 0
    r = kumahc("inspect", "--store", store, "--policy", "MeshCircuitBreaker/kuma-system/db-limits")
    assert (r.code, r.out.splitlines()) == (0, [
        "policy MeshCircuitBreaker kuma-system/db-limits (mesh default, store: MeshCircuitBreaker "
        "kuma-system/db-limits)",
        *[line for proxy in ("backend-0.shop", "db-0.shop", "web-0.shop") for line in (
            f"proxy default/{proxy}",
            "  cluster db_shop_svc_5432: outlier detection "
            "(outlierDetection.detectors.localOriginFailures.consecutive), circuit breakers "
            "(connectionLimits.maxConnections)")],
        "contributes to 3 clusters on 3 proxies; selects 0 more without contributing"])
    r = kumahc("inspect", "--store", store, "--policy", "CircuitBreaker/web-to-backend-limits")
    assert (r.code, r.out.splitlines()) == (0, [
        "policy CircuitBreaker web-to-backend-limits (mesh default, store: CircuitBreaker web-to-backend-limits)",
        "proxy default/web-0.shop",
        "  cluster backend_shop_svc_80: circuit breakers; not applied: outlier detection from CircuitBreaker "
        "web-to-backend-limits ignored: KongUpstreamPolicy shop/backend-hc takes precedence",
        "contributes to 1 cluster on 1 proxy; selects 0 more without contributing"])
    for policy in ("MeshCircuitBreaker/kuma-system/db-limits", "CircuitBreaker/web-to-backend-limits"):
        for fmt in ("text", "json"):
            a = kumahc("inspect", KUBERNETES, "--policy", policy, "-o", fmt)
            b = kumahc("inspect", "--store", store, "--policy", policy, "-o", fmt)
            # the text heading's origin is asserted above; the rest (and every JSON field) must match the files'
            assert _where_free(b.out).splitlines()[1:] == _where_free(a.out).splitlines()[1:]

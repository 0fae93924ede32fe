"""``kumahc serve --store`` with the real PostgreSQL server (conftest.py) and the real Envoy: apply → serve → Envoy,
later applies pushed as soon as they are committed, the store going away and coming back, commits made while a
replica was cut off, replicas serving identical versions (an Envoy moved between them gets no push), and the
start-up errors. Every wait is bounded; every process is stopped."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import harness
import pytest
from bootstraps import xds_bootstrap
from harness import Envoy, wait_until
from helpers import refusing_port
from kumahc_serve import ServeProcess, serve
from tcpproxy import TcpProxy
from test_store_cli import kumahc, write

from kumahc.pipeline import run
from kumahc.render import document
from kumahc.sources.store import connection, schema, source
from kumahc.xds.snapshot import content_version


@pytest.fixture(scope="module")
def envoy_binary() -> str:
    try:
        return harness.envoy_binary()
    except harness.EnvoyError as exc:
        pytest.fail(str(exc))


def dataplane(name: str, service: str, port: int, labels: str = "") -> str:
    return f"""\
type: Dataplane
name: {name}
mesh: default
{labels}networking:
  address: 127.0.0.1
  inbound: [{{port: {port}, tags: {{kuma.io/service: {service}, kuma.io/protocol: http}}}}]
"""


MESH = "---\n".join([dataplane("web-01", "web", 1, "labels: {app: web}\n"), dataplane("api-a", "api", 10001),
                     dataplane("db-a", "db", 10002)])


def policy(path: str) -> str:
    return f"""\
type: MeshHealthCheck
name: web-checks
mesh: default
spec:
  targetRef: {{kind: Mesh}}
  to:
  - targetRef: {{kind: MeshService, name: api}}
    default: {{interval: 1s, timeout: 1s, unhealthyThreshold: 1, healthyThreshold: 1, http: {{path: {path}}}}}
"""


def apply(store: str, tmp_path: Path, name: str, text: str) -> None:
    r = kumahc("apply", "-f", write(tmp_path, name, text), "--store", store)
    assert r.code == 0, r.err


def expected_version(store: str, proxy: str = "web-01") -> str:
    """The version ``render --store`` gives the proxy's clusters now."""
    doc = document(run(source.snapshot(store).loader()), proxy)
    return content_version(doc["proxies"][0]["clusters"])


def cds_version(envoy: Envoy) -> str:
    body = envoy.admin("/stats?filter=cluster_manager.cds.version_text").body
    return body.split(":", 1)[1].strip().strip('"') if ":" in body else ""


def wait_version(envoy: Envoy, version: str, timeout: float = 20) -> None:
    wait_until(lambda: cds_version(envoy) == version, timeout, 0.05, f"Envoy at version {version}")


def http_path(envoy: Envoy) -> str:
    dump = envoy.admin_json("/config_dump?resource=dynamic_active_clusters")
    (api,) = [c["cluster"] for c in dump["configs"] if c["cluster"]["name"] == "api"]
    return api["health_checks"][0]["http_health_check"]["path"]


def metric(s: ServeProcess, name: str) -> str:
    (line,) = [x for x in s.get("/metrics")[2].splitlines() if x.startswith(name + " ")]
    return line.split()[1]


def serve_store(url: str, **kw: object):
    return serve(args=("--store", url), **kw)


@pytest.mark.parametrize("mode", ["ads", "delta"])
def test_apply_serve_envoy_then_a_later_apply(store: str, tmp_path: Path, envoy_binary: str, mode: str) -> None:
    apply(store, tmp_path, "mesh.yaml", MESH + "---\n" + policy("/health"))
    v1 = expected_version(store)
    with serve_store(store) as s, Envoy(xds_bootstrap(mode, "default.web-01", s.xds_port)) as envoy:
        wait_version(envoy, v1)
        assert http_path(envoy) == "/health"
        assert metric(s, "kumahc_store_connected") == "1.0"
        assert metric(s, "kumahc_store_rendered_parts") == "1.0"
        s.wait_log("INFO serving the clusters the store's writer rendered")
        s.wait_log("listening on kumahc_store at revision 1")
        apply(store, tmp_path, "p.yaml", policy("/ready"))
        v2 = expected_version(store)
        assert v2 != v1
        wait_version(envoy, v2)
        assert http_path(envoy) == "/ready"
        s.wait_log("INFO reloaded: 3 proxies, ")
        assert envoy.stats("cluster_manager.cds")["cluster_manager.cds.update_rejected"] == 0
        # A deleted resource goes too: without the policy the api cluster has no health check.
        assert kumahc("delete", "meshhealthcheck", "web-checks", "--store", store).code == 0
        v3 = expected_version(store)
        wait_version(envoy, v3)
        dump = envoy.admin_json("/config_dump?resource=dynamic_active_clusters")
        assert [c["cluster"].get("health_checks") for c in dump["configs"]] == [None] * 3


def test_a_replica_rendering_itself_serves_the_same_versions(store: str, tmp_path: Path, envoy_binary: str) -> None:
    """--strict (like --protocol or --endpoints eds) makes a replica render the stored resources itself instead of
    serving the writer's parts: it says so, and Envoy gets the very versions a replica serving the parts sends."""
    apply(store, tmp_path, "mesh.yaml", MESH + "---\n" + policy("/health"))
    v1 = expected_version(store)
    with serve(args=("--store", store, "--strict")) as s, \
            Envoy(xds_bootstrap("ads", "default.web-01", s.xds_port)) as envoy:
        wait_version(envoy, v1)
        s.wait_log("INFO rendering the stored resources here")
        assert metric(s, "kumahc_store_rendered_parts") == "0.0"
        apply(store, tmp_path, "p.yaml", policy("/ready"))
        wait_version(envoy, expected_version(store))
        assert http_path(envoy) == "/ready"


def test_store_down_then_back_and_commits_missed_while_cut_off(own_pg, tmp_path: Path, envoy_binary: str) -> None:
    """On a PostgreSQL server of the test's own (it is stopped here; the session's server never is)."""
    store = own_pg.new_store()
    apply(store, tmp_path, "mesh.yaml", MESH + "---\n" + policy("/health"))
    v1 = expected_version(store)
    # The replica reads as a role of its own (a role is cluster-wide: a uuid name, dropped at the end), so that it
    # alone can be cut off below.
    role = f"kumahc_replica_{uuid.uuid4().hex}"
    with connection.session(store) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN")
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    try:
        _cut_off_and_back(own_pg, store, store.replace("postgres@", f"{role}@"), role, v1, tmp_path)
    finally:
        with connection.session(store) as conn:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


def _cut_off_and_back(own_pg, store: str, replica_url: str, role: str, v1: str, tmp_path: Path) -> None:
    with serve_store(replica_url) as s, Envoy(xds_bootstrap("ads", "default.web-01", s.xds_port)) as envoy:
        wait_version(envoy, v1)
        s.wait_log("listening on kumahc_store at revision 1")
        # PostgreSQL stops: serving goes on from the last snapshot; the metric and the log say so.
        mark = len(s.stderr())
        with own_pg.down():
            s.wait_log("WARNING store ", after=mark)
            line = next(x for x in s.stderr()[mark:].splitlines() if "WARNING store " in x)
            assert re.search(r"WARNING store postgresql://\S+: connection lost: .+; serving the last good snapshot "
                             r"\(revision 1\), reconnecting$", line), line
            assert metric(s, "kumahc_store_connected") == "0.0"
            assert s.get("/ready")[0] == 200
            assert cds_version(envoy) == v1
            assert "Traceback" not in s.stderr()
        # Back: the replica reconnects (backoff at most 5 s) and a new apply arrives.
        s.wait_log("listening on kumahc_store at revision 1", after=mark, timeout=20)
        assert metric(s, "kumahc_store_connected") == "1.0"
        apply(store, tmp_path, "p.yaml", policy("/after-restart"))
        wait_version(envoy, expected_version(store))
        assert http_path(envoy) == "/after-restart"
        # Cut off without an outage: the replica's logins are refused and its connection ended; what is
        # committed meanwhile is read when it is let in again.
        mark = len(s.stderr())
        with connection.session(store) as conn:
            conn.execute(f"ALTER ROLE {role} NOLOGIN")
            conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,))
            s.wait_log("connection lost", after=mark)
            try:
                apply(store, tmp_path, "p.yaml", policy("/missed"))
                missed = expected_version(store)
                assert cds_version(envoy) != missed
            finally:
                conn.execute(f"ALTER ROLE {role} LOGIN")
        s.wait_log("listening on kumahc_store at revision 3 (was 2)", after=mark, timeout=20)
        wait_version(envoy, missed)
        assert http_path(envoy) == "/missed"


@pytest.mark.parametrize("mode", ["ads", "delta"])
def test_replicas_serve_identical_versions_and_a_moved_envoy_gets_no_push(store: str, tmp_path: Path,
                                                                          envoy_binary: str, mode: str) -> None:
    apply(store, tmp_path, "mesh.yaml", MESH + "---\n" + policy("/health"))
    with serve_store(store) as a:
        # a follows a change incrementally; b starts after it and reads everything: they must still agree.
        apply(store, tmp_path, "p.yaml", policy("/replicas"))
        v = expected_version(store)
        a.wait_log("INFO reloaded: ")
        with serve_store(store) as b, TcpProxy(b.xds_port) as lb, \
                Envoy(xds_bootstrap(mode, "default.web-01", a.xds_port)) as on_a, \
                Envoy(xds_bootstrap(mode, "default.web-01", lb.port)) as on_b:
            wait_version(on_a, v)
            wait_version(on_b, v)
            assert _document(a) == _document(b)
            before = on_b.stats("cluster_manager")
            sent = _sent(a)
            # The load balancer moves on_b's stream to a: on_b asks with the versions it holds, which are a's
            # too. SotW: a sends nothing. Delta: a answers the new stream once, with no resource and nothing
            # removed. Either way on_b rebuilds nothing.
            lb.switch(a.xds_port)
            wait_until(lambda: _streams(a) == 2, 20, 0.05, "on_b connected to replica a")
            time.sleep(0.5)  # room for a response, were one (wrongly) sent
            unchanged = ["cluster_manager.cds.update_rejected", "cluster_manager.cluster_modified",
                         "cluster_manager.cluster_added", "cluster_manager.cluster_removed"]
            if mode == "ads":
                assert _sent(a) == sent
                unchanged.append("cluster_manager.cds.update_success")
            after = on_b.stats("cluster_manager")
            for name in unchanged:
                assert after[name] == before[name], name
            assert cds_version(on_b) == v
            # The next commit reaches both Envoys through a, and b computes the same.
            apply(store, tmp_path, "p.yaml", policy("/next"))
            v2 = expected_version(store)
            wait_version(on_a, v2)
            wait_version(on_b, v2)
            b.wait_log("INFO reloaded: ")
            wait_until(lambda: _document(a) == _document(b), 10, 0.05, "replicas equal")


def _document(s: ServeProcess) -> str:
    """The served snapshot's render document, as bytes on the wire (its versions are hashes of it)."""
    status, _, body = s.get("/config_dump")
    assert status == 200
    return body


def _sent(s: ServeProcess) -> str:
    return metric(s, 'kumahc_xds_responses_total{api="sotw"}')


def _streams(s: ServeProcess) -> int:
    return len([r for r in json.loads(s.get("/status")[2])["streams"] if r["type_url"].endswith("Cluster")])


def serve_exits(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``kumahc serve --xds-address 127.0.0.1:0 --admin-address 127.0.0.1:0 ARGS`` in a process of its own, expected
    to exit before serving (KUMAHC_STORE unset unless ``env`` sets it). A serve that runs instead (its stdout says
    where it listens) is stopped at once and fails the test with those addresses; one that neither exits nor
    listens is stopped after 600 s (a hang guard only: the machine may be slow)."""
    environ = {k: v for k, v in os.environ.items() if k != "KUMAHC_STORE"} | (env or {})
    cmd = [sys.executable, "-m", "kumahc", "serve", "--xds-address", "127.0.0.1:0", "--admin-address", "127.0.0.1:0",
           *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environ)
    out: list[str] = []
    err: list[str] = []
    readers = [threading.Thread(target=lambda: out.extend(iter(proc.stdout.readline, "")), daemon=True),
               threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True)]
    for reader in readers:
        reader.start()
    deadline = time.monotonic() + 600
    try:
        while proc.poll() is None:
            if out:
                pytest.fail(f"serve {' '.join(args)} is serving ({out[0].strip()}) instead of exiting")
            if time.monotonic() > deadline:
                pytest.fail(f"serve {' '.join(args)} neither exited nor listened within 600 s")
            time.sleep(0.05)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        for reader in readers:
            reader.join()
    assert "Traceback" not in "".join(err)
    return subprocess.CompletedProcess(cmd, proc.returncode, "".join(out), "".join(err))


def test_serve_on_an_old_schema_is_one_line_exit_1(blank_url: str) -> None:
    with connection.session(blank_url) as conn:
        schema.migrate(conn, target=1)
    r = serve_exits("--store", blank_url)
    assert (r.returncode, r.stdout) == (1, "")  # nothing on stdout: no listener was bound
    assert r.stderr.splitlines() == [f"error: store {blank_url} is at schema version 1, this kumahc needs "
                                     f'{schema.LATEST}: run "kumahc store migrate --store URL"']


def test_serve_on_a_store_that_is_down_is_one_line_exit_1() -> None:
    with refusing_port() as port:
        url = f"postgresql://postgres@127.0.0.1:{port}/x"
        r = serve_exits("--store", url)
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr.splitlines() == [f"error: store {url}: cannot connect: connection failed: connection to server "
                                     f'at "127.0.0.1", port {port} failed: Connection refused']


def test_serve_takes_kumahc_store_and_refuses_paths_with_store(blank_url: str, tmp_path: Path) -> None:
    with connection.session(blank_url) as conn:
        schema.migrate(conn, target=1)
    r = serve_exits(env={"KUMAHC_STORE": blank_url})
    assert (r.returncode, r.stdout) == (1, "")
    assert r.stderr.splitlines() == [f"error: store {blank_url} is at schema version 1, this kumahc needs "
                                     f'{schema.LATEST}: run "kumahc store migrate --store URL"']
    r = serve_exits(str(tmp_path), "--store", blank_url)
    assert r.returncode == 2 and "give PATH arguments or --store, not both" in r.stderr
    r = serve_exits()
    assert r.returncode == 2 and "Missing argument 'PATH...' (or --store URL)." in r.stderr

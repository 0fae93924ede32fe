"""The store's hardening (issue 18, item 4), against the real PostgreSQL server of conftest.py: passwords are never
shown (one redaction, built on libpq's parser, for every message, log line and ``/status``); stored rendered
clusters are checked against their digest (a replica renders itself rather than serve altered bytes, the writer
repairs them); a malformed resource row is one error line, never a traceback; a SELECT-only role can serve."""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import wait_until
from kumahc_serve import serve
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from test_rendered import assert_same, rendered_here, served
from test_serve_store import MESH, apply, policy
from test_store_cli import kumahc, write

from bench.pgserver import PgServer
from kumahc.pipeline import Options
from kumahc.sources.store import connection
from kumahc.sources.store.connection import redact
from kumahc.sources.store.rendered import Stored
from kumahc.sources.store.replica import Replica
from kumahc.xds import snapshot as snapshots

SECRET = "Sup3r-S3cret"
PLACEHOLDER = "<store URL not shown: it cannot be parsed>"
_roles = itertools.count(1)

REDACTED = [
    # userinfo password, with or without a port and parameters
    ("postgresql://kumahc:Sup3r-S3cret@db:5432/kumahc", "postgresql://kumahc:***@db:5432/kumahc"),
    ("postgres://kumahc:Sup3r-S3cret@db/kumahc?sslmode=require", "postgres://kumahc:***@db/kumahc?sslmode=require"),
    ("postgresql://kumahc:@db/kumahc", "postgresql://kumahc:***@db/kumahc"),
    ("postgresql://kumahc@db/kumahc", "postgresql://kumahc@db/kumahc"),
    ("postgresql://db/kumahc", "postgresql://db/kumahc"),
    # the password as a parameter, its name percent-encoded too, and the client key's password
    ("postgresql://kumahc@db/kumahc?password=Sup3r-S3cret", "postgresql://kumahc@db/kumahc?password=***"),
    ("postgresql://db/kumahc?sslmode=disable&password=Sup3r-S3cret&connect_timeout=3",
     "postgresql://db/kumahc?sslmode=disable&password=***&connect_timeout=3"),
    ("postgresql://db/kumahc?pass%77ord=Sup3r-S3cret", "postgresql://db/kumahc?pass%77ord=***"),
    ("postgresql://db/kumahc?sslpassword=Sup3r-S3cret", "postgresql://db/kumahc?sslpassword=***"),
    ("postgresql://u:a@db/kumahc?password=Sup3r-S3cret", "postgresql://u:***@db/kumahc?password=***"),
    # the scheme in any case
    ("POSTGRESQL://kumahc:Sup3r-S3cret@db/kumahc", "POSTGRESQL://kumahc:***@db/kumahc"),
    ("Postgres://kumahc:Sup3r-S3cret@db/kumahc", "Postgres://kumahc:***@db/kumahc"),
    # characters of a password that libpq takes (?) or splits wrongly (@, /) unencoded, and encoded
    ("postgresql://kumahc:Sup3r?S3cret@db/kumahc", "postgresql://kumahc:***@db/kumahc"),
    ("postgresql://kumahc:Sup3r@S3cret@db/kumahc", "postgresql://kumahc:***@db/kumahc"),
    ("postgresql://kumahc:Sup3r/S3cret@db/kumahc", "postgresql://kumahc:***@db/kumahc"),
    ("postgresql://kumahc:S/u@p@3r@db:5432/kumahc?sslmode=disable",
     "postgresql://kumahc:***@db:5432/kumahc?sslmode=disable"),
    ("postgresql://kumahc:S/u@p?3r@db:5432/kumahc?sslmode=disable", PLACEHOLDER),  # libpq: a bad parameter
    ("postgresql://kumahc:Sup3r%40S3cret%2F@db/kumahc", "postgresql://kumahc:***@db/kumahc"),
    # an "@" after the host is not a password's
    ("postgresql://db:5432/kumahc?user=me@corp", "postgresql://db:5432/kumahc?user=me@corp"),
    ("postgresql://[::1]:5432/kumahc", "postgresql://[::1]:5432/kumahc"),
    # key=value: libpq's parameters in libpq's order, the secrets masked, quoting undone
    ("host=db password=Sup3r-S3cret user=kumahc dbname=kumahc", "user=kumahc password=*** dbname=kumahc host=db"),
    ("host=db password = 'Sup3r S3cret' dbname=kumahc", "password=*** dbname=kumahc host=db"),
    ("dbname=kumahc sslpassword=Sup3r-S3cret", "dbname=kumahc sslpassword=***"),
    ("dbname=kumahc", "dbname=kumahc"),
    # what libpq cannot parse is not shown at all
    ("mysql://kumahc:Sup3r-S3cret@db/kumahc", PLACEHOLDER),
    ("postgresql://kumahc:Sup3r-S3cret@db/kumahc?bogus=1", PLACEHOLDER),
    ("host=db password='Sup3r-S3cret", PLACEHOLDER),
    ("host=db Sup3r-S3cret", PLACEHOLDER),
    ("Sup3r-S3cret", PLACEHOLDER),
]


@pytest.mark.parametrize(("url", "shown"), REDACTED)
def test_redaction(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert "S3cret" not in shown


@pytest.mark.parametrize("url", [u for u, _ in REDACTED])
def test_no_error_shows_the_password(url: str) -> None:
    """Whatever the form, the one line ``validate --store`` prints (a store that is not there, a URL refused)
    holds no part of the password."""
    down = url.replace("@db", "@127.0.0.1").replace("host=db", "host=127.0.0.1").replace("//db", "//127.0.0.1")
    if "://" in down:
        down += ("&" if "?" in down else "?") + "connect_timeout=1"
    else:
        down += " connect_timeout=1"
    r = kumahc("validate", "--store", down)
    assert r.code == 1
    assert len(r.lines) == 1 and r.lines[0].startswith("error: ")
    assert "S3cret" not in r.err and "Sup3r" not in r.err


def test_key_value_connection_strings_are_accepted(store: str) -> None:
    conninfo = make_conninfo("", **conninfo_to_dict(store), password=SECRET)  # trust authentication ignores it
    r = kumahc("validate", "--store", conninfo)
    assert (r.code, r.out) == (0, "ok: 0 resources in store\n")


def test_pgpassword_is_never_shown(store: str) -> None:
    """A password from the environment is used (trust authentication ignores it) and shown nowhere, whether the
    command works or fails."""
    r = kumahc("validate", "--store", store, env={"PGPASSWORD": SECRET})
    assert (r.code, r.out, r.err) == (0, "ok: 0 resources in store\n", "")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = f"postgresql://kumahc@127.0.0.1:{port}/kumahc"
    r = kumahc("get", "mesh", "--store", down, env={"PGPASSWORD": SECRET})
    assert (r.code, r.out) == (1, "")
    assert r.lines == [f"error: store {down}: cannot connect: connection failed: connection to server at "
                       f'"127.0.0.1", port {port} failed: Connection refused']


@pytest.fixture
def role(store: str) -> Iterator[tuple[str, str]]:
    """A login role of its own for the test (dropped after): (its name, the store URL as that role, with a
    password in the URL and as a parameter; trust authentication ignores both)."""
    name = f"kumahc_hardening_{next(_roles)}"
    with connection.session(store) as conn:
        conn.execute(f"CREATE ROLE {name} LOGIN")
    head, tail = store.split("postgres@", 1)
    try:
        yield name, f"{head}{name}:{SECRET}@{tail}?password={SECRET}2"
    finally:
        with connection.session(store) as conn:
            conn.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{name}'")
            conn.execute(f"DROP OWNED BY {name}")
            conn.execute(f"DROP ROLE {name}")


def grant_select(store: str, name: str) -> None:
    with connection.session(store) as conn:
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {name}")


def refused(pg: PgServer, name: str, after: int) -> bool:
    """The server logged (from byte ``after`` of its log) a login of ``name`` refused."""
    with open(pg.log, "rb") as fh:
        fh.seek(after)
        return f'role "{name}" is not permitted to log in'.encode() in fh.read()


def test_serve_shows_the_store_redacted_on_reconnect_and_in_status(pg: PgServer, store: str, tmp_path: Path,
                                                                   role: tuple[str, str]) -> None:
    name, url = role
    grant_select(store, name)
    apply(store, tmp_path, "mesh.yaml", MESH)
    shown = redact(url)
    assert shown == url.replace(f":{SECRET}@", ":***@").replace(f"={SECRET}2", "=***")
    with serve(args=("--store", url)) as s:
        s.wait_log(f"INFO store {shown}: listening on kumahc_store at revision 1")
        status = json.loads(s.get("/status")[2])
        assert status["store"] == shown
        # Cut off: the connection ends and every reconnect is refused, until the role may log in again.
        mark, logged = len(s.stderr()), os.path.getsize(pg.log)
        with connection.session(store) as conn:
            conn.execute(f"ALTER ROLE {name} NOLOGIN")
            conn.execute(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{name}'")
            try:
                # One line per outage, however many reconnects fail.
                s.wait_log(f"WARNING store {shown}: connection lost: ", after=mark, timeout=30)
                wait_until(lambda: refused(pg, name, logged), 30, 0.05, "a reconnect refused")
            finally:
                conn.execute(f"ALTER ROLE {name} LOGIN")
        s.wait_log(f"INFO store {shown}: listening on kumahc_store at revision 1", after=mark, timeout=30)
        assert SECRET not in s.stderr()
        assert SECRET not in s.get("/status")[2]
        assert "Traceback" not in s.stderr()


def test_a_select_only_role_serves_and_follows_commits(store: str, tmp_path: Path, role: tuple[str, str]) -> None:
    """``docs/store.md``'s least privilege: SELECT on kumahc's tables is all ``serve --store`` needs (LISTEN needs
    no grant); writing needs more, and the SELECT-only role's apply is one error line."""
    name, url = role
    grant_select(store, name)
    with connection.session(store) as conn:  # PostgreSQL 15's default, whatever the server's version
        conn.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    apply(store, tmp_path, "mesh.yaml", MESH + "---\n" + policy("/health"))
    with serve(args=("--store", url)) as s:
        s.wait_log("INFO serving the clusters the store's writer rendered")
        s.wait_log("listening on kumahc_store at revision 1")
        assert s.get("/ready")[0] == 200
        apply(store, tmp_path, "p.yaml", policy("/ready"))
        s.wait_log("listening on kumahc_store at revision 1")
        s.wait_log("INFO reloaded: 3 proxies, ", timeout=30)
        dump = json.loads(s.get("/config_dump?proxy=web-01")[2])
        (api,) = [c for c in dump["proxies"][0]["clusters"] if c["name"] == "api"]
        assert api["health_checks"][0]["http_health_check"]["path"] == "/ready"
    r = kumahc("apply", "-f", write(tmp_path, "q.yaml", policy("/other")), "--store", url)
    assert (r.code, r.out, r.lines) == (1, "", [f"error: store {redact(url)}: permission denied for table "
                                                "kumahc_state"])
    r = kumahc("store", "migrate", "--store", url)
    assert (r.code, r.out, r.lines) == (1, "", [f"error: store {redact(url)}: permission denied for schema public"])


def test_a_writer_role_with_dml_only_applies_and_deletes(store: str, tmp_path: Path, role: tuple[str, str]) -> None:
    name, url = role
    with connection.session(store) as conn:
        conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {name}")
    apply(url, tmp_path, "mesh.yaml", MESH + "---\n" + policy("/health"))
    r = kumahc("delete", "meshhealthcheck", "web-checks", "--mesh", "default", "--store", url)
    assert (r.code, r.out) == (0, "meshhealthcheck default/web-checks deleted\n")


def tamper(store: str, cluster: str = "api") -> None:
    """Alter the bytes of one stored rendered cluster named ``cluster`` (its digest kept)."""
    with connection.session(store) as conn:
        changed = conn.execute("UPDATE kumahc_rendered_clusters SET resource = resource || '\\x00'::bytea "
                               "WHERE digest = (SELECT digest FROM kumahc_rendered_clusters WHERE name = %s "
                               "ORDER BY digest LIMIT 1)", (cluster,)).rowcount
    assert changed == 1


def test_a_tampered_cluster_is_not_served_by_a_fresh_replica(store: str, tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    apply(store, tmp_path, "mesh.yaml", MESH + "---\n" + policy("/health"))
    tamper(store)
    with caplog.at_level(logging.INFO, logger="kumahc.serve"):
        out = Replica(store, Options()).produce()
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("ERROR", 'store: rendered cluster "api" does not match its SHA-256 digest; rendering the stored resources '
                  "here")]
    assert not isinstance(out, Stored)
    assert_same(snapshots.build(out), rendered_here(store))


def test_a_tampered_cluster_in_a_real_replica(store: str, tmp_path: Path) -> None:
    apply(store, tmp_path, "mesh.yaml", MESH + "---\n" + policy("/health"))
    expected = rendered_here(store).document
    tamper(store)
    with serve(args=("--store", store)) as s:
        s.wait_log("INFO rendering the stored resources here")
        errors = [line for line in s.stderr().splitlines() if " ERROR " in line]
        assert [e.split(" ", 1)[1] for e in errors] == [
            'ERROR store: rendered cluster "api" does not match its SHA-256 digest; rendering the stored '
            "resources here"]
        assert json.loads(s.get("/config_dump")[2]) == json.loads(json.dumps(expected))


def test_the_writer_repairs_a_tampered_cluster(store: str, tmp_path: Path) -> None:
    """An apply that does not change the altered cluster still writes it again (its digest is no proof that the
    stored bytes are right), so replicas serve the writer's parts again."""
    apply(store, tmp_path, "mesh.yaml", MESH + "---\n" + policy("/health"))
    tamper(store, "db")
    apply(store, tmp_path, "p.yaml", policy("/ready"))
    with connection.session(store) as conn:
        bad = conn.execute("SELECT count(*) FROM kumahc_rendered_clusters WHERE digest <> sha256(resource)")
        assert bad.fetchone()[0] == 0
    assert_same(served(store), rendered_here(store))


def break_row(store: str, name: str, body: str) -> None:
    """Replace a stored resource's body behind kumahc's back, as a commit (the revision moves, replicas notified)."""
    with connection.session(store) as conn, conn.transaction():
        (revision,) = conn.execute("UPDATE kumahc_state SET revision = revision + 1 RETURNING revision").fetchone()
        conn.execute("UPDATE kumahc_resources SET body = %s::json, revision = %s WHERE name = %s",
                     (body, revision, name))


MALFORMED = json.dumps({"type": "MeshHealthCheck", "name": "web-checks", "mesh": "default",
                        "spec": {"targetRef": {"kind": "Mesh"}, "to": "everything"}})
MALFORMED_LINE = "store: MeshHealthCheck default/web-checks: spec.to: must be a list"


def test_a_malformed_row_stops_a_fresh_replica_with_one_line(store: str, tmp_path: Path) -> None:
    """--strict makes the replica read the rows (the writer's parts are not its own): a malformed row is invalid
    input, as an invalid file is: its error, the count, exit 1."""
    apply(store, tmp_path, "mesh.yaml", MESH + "---\n" + policy("/health"))
    break_row(store, "web-checks", MALFORMED)
    with serve(args=("--store", store, "--strict"), ready=False) as s:
        assert s.proc.wait(60) == 1
        s.wait_log("found 1 error")
        lines = s.stderr().splitlines()
        assert lines[:2] == [MALFORMED_LINE, "found 1 error"]
        assert [line.split(" ", 1)[1] for line in lines[2:]] == ["INFO shutting down"]


def test_a_malformed_row_for_the_cli(store: str, tmp_path: Path) -> None:
    apply(store, tmp_path, "mesh.yaml", MESH)
    break_row(store, "web-01", json.dumps({"type": "Dataplane", "mesh": "default"}))
    r = kumahc("validate", "--store", store)
    assert (r.code, r.lines) == (1, ["store: Dataplane default/web-01: name: must be defined", "found 1 error"])


def test_a_running_replica_keeps_its_snapshot_on_a_malformed_row(store: str, tmp_path: Path) -> None:
    apply(store, tmp_path, "mesh.yaml", MESH + "---\n" + policy("/health"))
    with serve(args=("--store", store, "--strict")) as s:
        s.wait_log("listening on kumahc_store at revision 1")
        before = s.get("/config_dump")[2]
        mark = len(s.stderr())
        break_row(store, "web-checks", MALFORMED)
        s.wait_log("reload failed; keeping the last good snapshot", after=mark, timeout=30)
        errors = [line.split(" ", 1)[1] for line in s.stderr()[mark:].splitlines() if " ERROR " in line]
        assert errors == ["ERROR reload failed; keeping the last good snapshot", f"ERROR {MALFORMED_LINE}"]
        assert s.get("/ready")[0] == 200
        assert s.get("/config_dump")[2] == before
        assert "Traceback" not in s.stderr()


def test_stored_digests_are_sha256_of_the_bytes(store: str, tmp_path: Path) -> None:
    """The rule both checks rely on: the writer keys every cluster by SHA-256 of its stored bytes."""
    apply(store, tmp_path, "mesh.yaml", MESH + "---\n" + policy("/health"))
    with connection.session(store) as conn:
        rows = conn.execute("SELECT digest, resource FROM kumahc_rendered_clusters").fetchall()
    assert rows and all(bytes(d) == hashlib.sha256(bytes(r)).digest() for d, r in rows)


def test_applying_the_resource_again_replaces_a_malformed_row(store: str, tmp_path: Path) -> None:
    apply(store, tmp_path, "mesh.yaml", MESH + "---\n" + policy("/health"))
    break_row(store, "web-checks", MALFORMED)
    r = kumahc("apply", "-f", write(tmp_path, "other.yaml", policy("/health").replace("web-checks", "other")),
               "--store", store)
    assert (r.code, r.lines) == (1, [MALFORMED_LINE, "found 1 error"])
    r = kumahc("apply", "-f", write(tmp_path, "p.yaml", policy("/health")), "--store", store)
    assert (r.code, r.out) == (0, "meshhealthcheck default/web-checks configured\n")
    assert kumahc("validate", "--store", store).code == 0

"""``kumahc store check``: one line per check against a real PostgreSQL server that asks roles other than the
superuser for a password (scram-sha-256), every check failing on its own: wrong port, wrong password, missing
database, old and newer schema, a role without grants, a read-only role's write check."""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from helpers import refusing_port
from store_cli import kumahc

from bench.pgserver import PgServer
from kumahc.sources.store import connection, schema

UNIVERSAL = str(Path(__file__).resolve().parent / "data" / "universal.yaml")
WRITER, READER, NOBODY = "kumahc_writer", "kumahc_replica", "kumahc_nobody"
PASSWORD = "s3cret-pw"
READ_OK = "read: ok (SELECT on 7 kumahc tables)"
WRITE_OK = "write: ok (INSERT, UPDATE, DELETE on 6 kumahc tables)"


class PasswordServer:
    """A server of this module's own: the superuser ``postgres`` trusted on loopback (for set-up), every other role
    authenticated by password (scram-sha-256); roles WRITER, READER and NOBODY with PASSWORD."""

    def __init__(self) -> None:
        self.pg = PgServer()
        hba = Path(self.pg.data) / "pg_hba.conf"
        # Written in place: the file keeps its owner (the server's user).
        hba.write_text("local all all trust\nhost all postgres 127.0.0.1/32 trust\n"
                       "host all all 127.0.0.1/32 scram-sha-256\n")
        with self.admin() as conn:
            conn.execute("SELECT pg_reload_conf()")
            for role in (WRITER, READER, NOBODY):
                conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")

    def admin(self, dbname: str = "postgres") -> psycopg.Connection:
        return psycopg.connect(self.pg.url(dbname), autocommit=True)

    def url(self, role: str, dbname: str, password: str = PASSWORD, port: int | None = None) -> str:
        return f"postgresql://{role}:{password}@127.0.0.1:{port or self.pg.port}/{dbname}"

    def database(self, version: int | None = schema.LATEST) -> str:
        """A new database migrated to ``version`` (None: never migrated), with the docs' grants: WRITER may
        read and write, READER only read, NOBODY nothing."""
        name = f"t_{uuid.uuid4().hex}"
        self.pg.create_database(name)
        if version is not None:
            with connection.session(self.pg.url(name)) as conn:
                schema.migrate(conn, target=version)
        self.grant(name)
        return name

    def grant(self, dbname: str) -> None:
        """The docs' grants (again after a migration that added tables)."""
        with self.admin(dbname) as conn:
            conn.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {WRITER}")
            conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {READER}")


@pytest.fixture(scope="module")
def server() -> Iterator[PasswordServer]:
    made = PasswordServer()
    try:
        yield made
    finally:
        made.pg.close()


def lines(*args: str) -> tuple[int, list[str], str]:
    r = kumahc("store", "check", *args)
    return r.code, r.out.splitlines(), r.err


def passing(server: PasswordServer, role: str, db: str) -> list[str]:
    return [f"reachability: ok (127.0.0.1:{server.pg.port})", f"authentication: ok (user {role})",
            f"database: ok ({db})", f"schema: ok (version {schema.LATEST})"]


def test_every_check_passes_for_the_writer(server: PasswordServer) -> None:
    db = server.database()
    url = server.url(WRITER, db)
    assert lines("--store", url) == (0, [*passing(server, WRITER, db), READ_OK, WRITE_OK], "")
    # What it checked is what apply needs: the writer's apply commits.
    assert kumahc("apply", "-f", UNIVERSAL, "--store", url).code == 0


def test_the_url_from_the_environment(server: PasswordServer) -> None:
    db = server.database()
    r = kumahc("store", "check", env={"KUMAHC_STORE": server.url(WRITER, db)})
    assert (r.code, r.out.splitlines()) == (0, [*passing(server, WRITER, db), READ_OK, WRITE_OK])


def test_wrong_port() -> None:
    with refusing_port() as port:
        code, out, err = lines("--store", f"postgresql://{WRITER}:{PASSWORD}@127.0.0.1:{port}/kumahc")
    assert (code, err) == (1, "")
    assert out == [f"reachability: failed: cannot connect to 127.0.0.1:{port}: Connection refused; start PostgreSQL "
                   "there (and listen_addresses must include that address) or fix HOST:PORT in the URL",
                   *(f"{step}: skipped (reachability failed)"
                     for step in ("authentication", "database", "schema", "read", "write"))]


def test_wrong_password(server: PasswordServer) -> None:
    db = server.database()
    code, out, err = lines("--store", server.url(WRITER, db, password="wrong"))
    assert (code, err) == (1, "")
    assert out == [f"reachability: ok (127.0.0.1:{server.pg.port})",
                   f'authentication: failed: password authentication failed for user "{WRITER}"; fix USER and '
                   "PASSWORD in the URL (or PGPASSWORD, ~/.pgpass), or the server's pg_hba.conf",
                   *(f"{step}: skipped (authentication failed)" for step in ("database", "schema", "read", "write"))]
    assert "wrong" not in "".join(out)


def test_missing_database(server: PasswordServer) -> None:
    code, out, err = lines("--store", server.url(WRITER, "kumahc_missing"))
    assert (code, err) == (1, "")
    assert out == [f"reachability: ok (127.0.0.1:{server.pg.port})", f"authentication: ok (user {WRITER})",
                   'database: failed: database "kumahc_missing" does not exist; create it (CREATE DATABASE '
                   f"kumahc_missing OWNER {WRITER};) or fix DBNAME in the URL",
                   *(f"{step}: skipped (database failed)" for step in ("schema", "read", "write"))]


@pytest.mark.parametrize("version, message", [
    (None, f'no kumahc schema in this database (this kumahc needs version {schema.LATEST}); run "kumahc store '
           'migrate --store URL"'),
    (1, f'version 1, older than this kumahc needs ({schema.LATEST}); run "kumahc store migrate --store URL"'),
])
def test_old_schema(server: PasswordServer, version: int | None, message: str) -> None:
    db = server.database(version)
    code, out, err = lines("--store", server.url(WRITER, db))
    assert (code, err) == (1, "")
    assert out == [*passing(server, WRITER, db)[:3], f"schema: failed: {message}",
                   "read: skipped (schema failed)", "write: skipped (schema failed)"]
    # The fix it names works (with the grants made again for the tables the migration added).
    assert kumahc("store", "migrate", "--store", server.pg.url(db)).code == 0
    server.grant(db)
    assert lines("--store", server.url(WRITER, db))[0] == 0


def test_newer_schema(server: PasswordServer) -> None:
    db = server.database()
    with server.admin(db) as conn:
        conn.execute("INSERT INTO kumahc_schema (version, name) VALUES (%s, 'future')", (schema.LATEST + 1,))
    code, out, _ = lines("--store", server.url(READER, db))
    assert code == 1
    assert out[3] == (f"schema: failed: version {schema.LATEST + 1}, newer than this kumahc knows ({schema.LATEST}); "
                      "upgrade kumahc")


def test_read_only_role_trying_write(server: PasswordServer) -> None:
    db = server.database()
    url = server.url(READER, db)
    code, out, err = lines("--store", url)
    assert (code, err) == (1, "")
    assert out == [*passing(server, READER, db), READ_OK,
                   f"write: failed: role {READER} lacks INSERT, UPDATE, DELETE on kumahc_state, kumahc_resources, "
                   "kumahc_rendered, kumahc_rendered_clusters, kumahc_rendered_proxies, kumahc_requests (needed by "
                   "apply and delete); as the tables' owner: GRANT INSERT, UPDATE, DELETE ON kumahc_state, "
                   "kumahc_resources, "
                   f"kumahc_rendered, kumahc_rendered_clusters, kumahc_rendered_proxies, kumahc_requests TO {READER};"]
    # What it says is what apply meets, and --read-only checks only what a replica needs.
    r = kumahc("apply", "-f", UNIVERSAL, "--store", url)
    assert r.lines == [f"error: store {url.replace(PASSWORD, '***')}: permission denied for table kumahc_state"]
    assert lines("--read-only", "--store", url) == (
        0, [*passing(server, READER, db), READ_OK, "write: skipped (--read-only)"], "")


def test_one_missing_grant_is_named(server: PasswordServer) -> None:
    db = server.database()
    with server.admin(db) as conn:
        conn.execute(f"REVOKE DELETE ON kumahc_rendered_proxies FROM {WRITER}")
    assert lines("--store", server.url(WRITER, db))[1][-1] == (
        f"write: failed: role {WRITER} lacks DELETE on kumahc_rendered_proxies (needed by apply and delete); as the "
        f"tables' owner: GRANT INSERT, UPDATE, DELETE ON kumahc_rendered_proxies TO {WRITER};")


def test_role_without_grants(server: PasswordServer) -> None:
    db = server.database()
    code, out, _ = lines("--store", server.url(NOBODY, db))
    assert code == 1
    assert out[3:] == ["schema: failed: permission denied for table kumahc_schema; GRANT SELECT ON ALL TABLES IN "
                       f"SCHEMA public TO {NOBODY};", "read: skipped (schema failed)",
                       "write: skipped (schema failed)"]


def test_not_a_postgresql_url() -> None:
    r = kumahc("store", "check", "--store", "mysql://kumahc@db/kumahc")
    assert (r.code, r.out, r.lines) == (1, "", ["error: --store: a mysql:// URL is not a PostgreSQL URL "
                                                "(postgresql://[USER[:PASSWORD]@]HOST[:PORT]/DBNAME)"])


def test_store_help_has_examples() -> None:
    for args in (("store", "--help"), ("store", "check", "--help")):
        out = kumahc(*args).out
        examples = out.split("Examples:\n", 1)[1].splitlines()
        assert examples[0].strip() == "kumahc store check --store postgresql://kumahc@db:5432/kumahc", args


def test_password_from_pgpassword(server: PasswordServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """PGPASSWORD is libpq's: a URL without a password takes it."""
    db = server.database()
    monkeypatch.setenv("PGPASSWORD", PASSWORD)
    assert lines("--store", f"postgresql://{READER}@127.0.0.1:{server.pg.port}/{db}", "--read-only")[0] == 0


@contextlib.contextmanager
def not_postgresql() -> Iterator[int]:
    """A 127.0.0.1 port whose listener answers every connection with an HTTP error and closes it."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.2)
        stop = threading.Event()

        def serve() -> None:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                with conn:
                    conn.sendall(b"HTTP/1.0 400 Bad Request\r\n\r\n")

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield listener.getsockname()[1]
        finally:
            stop.set()
            thread.join(timeout=60)


def test_something_else_listening() -> None:
    with not_postgresql() as port:
        code, out, err = lines("--store", f"postgresql://{WRITER}:{PASSWORD}@127.0.0.1:{port}/kumahc")
    assert (code, err) == (1, "")
    assert out[0] == (f'reachability: failed: connection failed: connection to server at "127.0.0.1", port {port} '
                      "failed: received invalid response to SSL negotiation: H; is it PostgreSQL that listens at "
                      f"127.0.0.1:{port}? fix HOST:PORT in the URL")
    assert out[1] == "authentication: skipped (reachability failed)"


def test_unix_socket(server: PasswordServer, tmp_path: Path) -> None:
    """Through the server's Unix socket (its directory as the host): reachable; a directory without the socket is
    not."""
    db = server.database()
    url = f"postgresql://{WRITER}@/{db}?host={server.pg.root}&port={server.pg.port}"
    code, out, _ = lines("--read-only", "--store", url)
    assert (code, out[:2]) == (0, [f"reachability: ok (Unix socket {server.pg.root})", f"authentication: ok (user "
                                                                                       f"{WRITER})"])
    code, out, _ = lines("--store", f"postgresql://{WRITER}@/{db}?host={tmp_path}&port={server.pg.port}")
    assert (code, out[0]) == (1, f'reachability: failed: connection is bad: connection to server on socket '
                                 f'"{tmp_path}/.s.PGSQL.{server.pg.port}" failed: No such file or directory; start '
                                 "PostgreSQL or fix the socket directory (host) and PORT in the URL")

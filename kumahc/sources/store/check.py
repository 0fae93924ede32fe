"""``kumahc store check``: what is wrong with a store URL, one finding per step a command takes to use the store.

The steps, in order (a step that fails makes the later ones ``skipped``): the server is reachable (a TCP
connection to each HOST:PORT of the URL, or libpq's own connection for a Unix socket), the role authenticates,
the database exists, its schema is at this kumahc's version (:data:`kumahc.sources.store.schema.LATEST`), and the
role may read (``SELECT``, what ``serve``/``render``/``get`` need) and write (``INSERT, UPDATE, DELETE``, what
``apply``/``delete`` need) kumahc's tables. Each finding says ``ok`` or what is wrong and how to fix it.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict

from kumahc.diagnostics import one_line
from kumahc.sources.store import connection, schema

STEPS = ("reachability", "authentication", "database", "schema", "read", "write")
DEFAULT_PORT = 5432
# Every table of the current schema (migrations 0001-0003). Readers read them all; writers change all but
# kumahc_schema, which only `store migrate` (the tables' owner) writes.
TABLES = ("kumahc_schema", "kumahc_state", "kumahc_resources", "kumahc_rendered", "kumahc_rendered_clusters",
          "kumahc_rendered_proxies", "kumahc_requests")
WRITTEN = TABLES[1:]
WRITE_PRIVILEGES = ("INSERT", "UPDATE", "DELETE")
# libpq's and the server's words for a connection that got no further than authentication (SQLSTATE 28000 and
# 28P01 do not reach libpq's caller before a session exists, so the text is all there is).
_AUTH_WORDS = ("password authentication failed", "no password supplied", "authentication failed",
               "no pg_hba.conf entry", "pg_hba.conf rejects", "role \"", "password is required")
_DB_WORDS = ("database \"", "does not exist")


@dataclass(frozen=True, slots=True)
class Finding:
    """One line of ``store check``: ``STEP: ok (DETAIL)``, ``STEP: skipped (WHY)`` or ``STEP: failed: WHAT;
    FIX``."""

    step: str
    status: str  # ok | failed | skipped
    detail: str

    @property
    def ok(self) -> bool:
        return self.status != "failed"

    def line(self) -> str:
        if self.status == "failed":
            return f"{self.step}: failed: {self.detail}"
        return f"{self.step}: {self.status} ({self.detail})"


def run(url: str, write: bool = True) -> list[Finding]:
    """The findings for the store at ``url``, one per :data:`STEPS` in order. ``write``: False checks only what a
    read-only replica needs (the write step is then ``skipped``). Raises :class:`StoreError` only for a URL that is
    not a PostgreSQL URL or connection string (as every store command does)."""
    found = list(_steps(url, write))
    reason = next((f"{f.step} failed" for f in found if f.status == "failed"), "")
    found += [Finding(step, "skipped", reason) for step in STEPS[len(found):]]
    return found


def _steps(url: str, write: bool) -> Iterator[Finding]:
    connection.check_url(url)
    params = conninfo_to_dict(connection.normalized(url))
    endpoints = _endpoints(params)
    if endpoints:
        refused = _unreachable(endpoints, float(params.get("connect_timeout") or connection.CONNECT_TIMEOUT_S))
        if refused is not None:
            yield Finding("reachability", "failed", refused)
            return
    user = params.get("user") or "(the login user)"
    where = ", ".join(f"{h}:{p}" for h, p in endpoints) or "Unix socket " + (params.get("host") or "(default)")
    try:
        conn = connection.connect(url)
    except connection.ConnectError as exc:
        yield from _connect_failure(exc.detail, where, user, params.get("dbname") or user, bool(endpoints))
        return
    with conn:
        user = conn.info.user
        yield Finding("reachability", "ok", where)
        yield Finding("authentication", "ok", f"user {user}")
        yield Finding("database", "ok", conn.info.dbname)
        step = _schema(conn)
        yield step
        if step.status != "ok":
            return
        yield _privileges(conn, user, "read", TABLES, ("SELECT",),
                          "needed by serve, render, validate, inspect, get and diff --store")
        if write:
            yield _privileges(conn, user, "write", WRITTEN, WRITE_PRIVILEGES, "needed by apply and delete")
        else:
            yield Finding("write", "skipped", "--read-only")


def _endpoints(params: dict[str, str]) -> list[tuple[str, int]]:
    """(host, port) of every TCP endpoint the URL names (libpq's comma-separated lists; ``hostaddr`` wins over
    ``host``); empty when it connects through a Unix socket."""
    hosts = (params.get("hostaddr") or params.get("host") or "").split(",")
    ports = (params.get("port") or "").split(",")
    out = []
    for i, host in enumerate(hosts):
        if not host or host.startswith(("/", "@")):
            continue
        port = ports[i] if len(ports) == len(hosts) else ports[0]
        out.append((host, int(port) if port else DEFAULT_PORT))
    return out


def _unreachable(endpoints: list[tuple[str, int]], timeout: float) -> str | None:
    """None when some endpoint accepts a TCP connection (libpq tries them in order), else what went wrong."""
    problems = []
    for host, port in endpoints:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return None
        except OSError as exc:
            problems.append(f"{host}:{port}: {_os_text(exc)}")
    return ("cannot connect to " + "; ".join(problems) +
            "; start PostgreSQL there (and listen_addresses must include that address) or fix HOST:PORT in the URL")


def _os_text(exc: OSError) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "no answer (timed out)"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    return exc.strerror or str(exc)


def _connect_failure(detail: str, where: str, user: str, dbname: str, tcp: bool) -> Iterator[Finding]:
    """The findings when libpq's connection failed after the server was reached (or for a Unix socket, maybe not
    reached): told apart by the server's message."""
    message = _server_message(detail)
    if not tcp and ("No such file or directory" in detail or "Connection refused" in detail):
        yield Finding("reachability", "failed", f"{message}; start PostgreSQL or fix the socket directory (host) "
                                                "and PORT in the URL")
        return
    if "FATAL:" not in detail:  # not the server's refusal: whatever answered did not speak PostgreSQL's protocol
        yield Finding("reachability", "failed", f"{message}; is it PostgreSQL that listens at {where}? fix HOST:PORT "
                                                "in the URL")
        return
    yield Finding("reachability", "ok", where)
    if all(word in message for word in _DB_WORDS) and "role" not in message:
        yield Finding("authentication", "ok", f"user {user}")
        yield Finding("database", "failed", f"{message}; create it (CREATE DATABASE {_ident(dbname)} OWNER "
                                            f"{_ident(user)};) or fix DBNAME in the URL")
        return
    if any(word in message for word in _AUTH_WORDS):
        yield Finding("authentication", "failed", f"{message}; fix USER and PASSWORD in the URL (or PGPASSWORD, "
                                                  "~/.pgpass), or the server's pg_hba.conf")
        return
    yield Finding("authentication", "failed", f"{message}; see the server's log")


def _server_message(detail: str) -> str:
    """libpq's ``connection to server at "H", port P failed: FATAL:  MESSAGE`` → ``MESSAGE``."""
    _, sep, rest = detail.rpartition("FATAL:")
    return one_line(rest.strip() if sep else detail)


def _ident(name: str) -> str:
    return name if name.isidentifier() and name.islower() else '"' + name.replace('"', '""') + '"'


def _schema(conn: psycopg.Connection) -> Finding:
    try:
        found = schema.version(conn)
    except psycopg.errors.InsufficientPrivilege as exc:
        return Finding("schema", "failed", f"{connection.first_line(exc)}; GRANT SELECT ON ALL TABLES IN SCHEMA "
                                           f"public TO {_ident(conn.info.user)};")
    if found == schema.LATEST:
        return Finding("schema", "ok", f"version {found}")
    if found == 0:
        return Finding("schema", "failed", f"no kumahc schema in this database (this kumahc needs version "
                                           f'{schema.LATEST}); run "kumahc store migrate --store URL"')
    if found < schema.LATEST:
        return Finding("schema", "failed", f"version {found}, older than this kumahc needs ({schema.LATEST}); "
                                           'run "kumahc store migrate --store URL"')
    return Finding("schema", "failed", f"version {found}, newer than this kumahc knows ({schema.LATEST}); "
                                       "upgrade kumahc")


def _privileges(conn: psycopg.Connection, user: str, step: str, tables: tuple[str, ...],
                privileges: tuple[str, ...], why: str) -> Finding:
    """Whether ``user`` holds every one of ``privileges`` on every one of ``tables`` (PostgreSQL's
    ``has_table_privilege``: grants to the role, to roles it belongs to, and to PUBLIC all count)."""
    missing: dict[str, list[str]] = {}
    for table in tables:
        for privilege in privileges:
            held = conn.execute("SELECT has_table_privilege(%s, %s)", (table, privilege)).fetchone()[0]
            if not held:
                missing.setdefault(privilege, []).append(table)
    if not missing:
        return Finding(step, "ok", f"{', '.join(privileges)} on {len(tables)} kumahc tables")
    lacking = sorted(missing, key=privileges.index)
    on = sorted({t for ts in missing.values() for t in ts}, key=tables.index)
    grant = f"GRANT {', '.join(privileges)} ON {', '.join(on)} TO {_ident(user)};"
    return Finding(step, "failed", f"role {user} lacks {', '.join(lacking)} on {', '.join(on)} ({why}); as the "
                                   f"tables' owner: {grant}")

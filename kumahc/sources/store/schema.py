"""The store's schema: numbered migrations in ``migrations/`` (``NNNN_name.sql``), applied in order by
``kumahc store migrate`` and recorded in table ``kumahc_schema``. Every other command checks the version first:
older → run the migration; newer → this kumahc is too old for the store."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources

import psycopg

from kumahc.sources.store.errors import StoreError

_LOCK = 0x6B756D61686301  # advisory lock key: one migrator at a time
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations() -> list[Migration]:
    """Every migration shipped with kumahc, by version (1, 2, … without gaps)."""
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        m = _FILE.match(entry.name)
        if m:
            found.append(Migration(int(m.group(1)), m.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda x: x.version)
    assert [m.version for m in found] == list(range(1, len(found) + 1)), "migrations must be numbered 1..N"
    return found


LATEST = len(migrations())
"""The schema version this kumahc reads and writes."""


def version(conn: psycopg.Connection) -> int:
    """The store's schema version: 0 for a database kumahc never migrated."""
    if conn.execute("SELECT to_regclass('kumahc_schema')").fetchone()[0] is None:
        return 0
    return conn.execute("SELECT coalesce(max(version), 0) FROM kumahc_schema").fetchone()[0]


def check(conn: psycopg.Connection, where: str) -> None:
    """Raise :class:`StoreError` unless the store at ``where`` (its redacted URL) is at :data:`LATEST`."""
    found = version(conn)
    if found < LATEST:
        raise StoreError(f"store {where} is at schema version {found}, this kumahc needs {LATEST}: "
                         f'run "kumahc store migrate --store URL"')
    if found > LATEST:
        raise StoreError(f"store {where} is at schema version {found}, newer than this kumahc knows "
                         f"({LATEST}): upgrade kumahc")


def migrate(conn: psycopg.Connection, target: int = LATEST,
            progress: Callable[[str, int, int], None] | None = None) -> tuple[int, int]:
    """Apply the migrations above the store's version up to ``target``, in one transaction (PostgreSQL's DDL is
    transactional: a failed migration leaves the store as it was). Concurrent migrators wait for each other.
    Returns (version before, version after). Raises :class:`StoreError` when the store is newer than kumahc.
    ``progress``: called as ``progress("migrations applied", done, total)`` after each migration."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
        conn.execute("CREATE TABLE IF NOT EXISTS kumahc_schema (version integer PRIMARY KEY, name text NOT NULL, "
                     "applied_at timestamptz NOT NULL DEFAULT now())")
        before = version(conn)
        if before > LATEST:
            raise StoreError(f"store is at schema version {before}, newer than this kumahc knows ({LATEST}): "
                             "upgrade kumahc")
        due = [m for m in migrations() if before < m.version <= target]
        for done, m in enumerate(due, 1):
            conn.execute(m.sql)
            conn.execute("INSERT INTO kumahc_schema (version, name) VALUES (%s, %s)", (m.version, m.name))
            if progress is not None:
                progress("migrations applied", done, len(due))
        return before, max(before, min(target, LATEST))

"""A real PostgreSQL server for the store tests (bench/pgserver.py: initdb + pg_ctl in a temporary directory, a
free 127.0.0.1 port, stopped and removed at the end of the session); each test gets a database of its own."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.pgserver import PgServer  # noqa: E402

_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    server = PgServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def blank_url(pg: PgServer) -> str:
    """A new, empty database (schema version 0)."""
    return pg.create_database(f"t{next(_names)}")


@pytest.fixture
def store(blank_url: str) -> str:
    """The URL of a new database migrated to the current schema."""
    from kumahc.sources.store import connection, schema

    with connection.session(blank_url) as conn:
        schema.migrate(conn)
    return blank_url

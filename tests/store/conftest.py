"""Real PostgreSQL servers for the store tests (bench/pgserver.py: initdb + pg_ctl in a temporary directory, a
free 127.0.0.1 port, another one when that is taken at start, stopped and removed at the end).

``pg`` is the session's server: no test stops it. Each test gets databases of its own on it (uuid names, dropped
at teardown). A test that stops and restarts a server takes ``own_pg``, a server of its own."""

from __future__ import annotations

import contextlib
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from helpers import refusing_port  # noqa: E402
from pgdatabases import drop, migrated  # noqa: E402

from bench.pgserver import PgServer  # noqa: E402


class OwnPgServer(PgServer):
    """A server one test may stop and start again (same port and data)."""

    def new_store(self) -> str:
        """The URL of a new database (uuid name) migrated to the current schema."""
        return migrated(self.create_database(f"t_{uuid.uuid4().hex}"))

    @contextlib.contextmanager
    def down(self) -> Iterator[None]:
        """Stopped while the block runs; its port held meanwhile (connections refused, and no other process can
        take the port the restart needs); started again after the block, whatever it raised."""
        self.stop()
        try:
            with refusing_port(self.port):
                yield
        finally:
            self.start()


@pytest.fixture(scope="session")
def pg() -> Iterator[PgServer]:
    server = PgServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def own_pg() -> Iterator[OwnPgServer]:
    """A PostgreSQL server of this test's own (its own free port and directory), stopped and removed at teardown:
    for tests that stop it."""
    server = OwnPgServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def new_database(pg: PgServer) -> Iterator[Callable[[], str]]:
    """Makes new, empty databases on the session's server (schema version 0; uuid names, so no run or test
    shares one) and drops them at teardown."""
    names: list[str] = []

    def make() -> str:
        names.append(f"t_{uuid.uuid4().hex}")
        return pg.create_database(names[-1])

    try:
        yield make
    finally:
        for name in names:
            drop(pg, name)


@pytest.fixture
def new_store(new_database: Callable[[], str]) -> Callable[[], str]:
    """Makes new databases migrated to the current schema (dropped at teardown, as ``new_database``'s)."""
    return lambda: migrated(new_database())


@pytest.fixture
def blank_url(new_database: Callable[[], str]) -> str:
    """A new, empty database (schema version 0)."""
    return new_database()


@pytest.fixture
def store(blank_url: str) -> str:
    """The URL of a new database migrated to the current schema."""
    return migrated(blank_url)

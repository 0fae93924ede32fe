"""Databases of the store tests' PostgreSQL servers: migrated to the current schema, dropped (a module of its
own, not conftest: test modules import these by name, and ``conftest`` names a module of every test folder)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.pgserver import PgServer


def drop(server: PgServer, name: str) -> None:
    """Drops database ``name`` of ``server``, its connections closed first; no error when it is gone."""
    import psycopg

    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrated(url: str) -> str:
    """``url`` after migrating its database to the current schema."""
    from kumahc.sources.store import connection, schema

    with connection.session(url) as conn:
        schema.migrate(conn)
    return url

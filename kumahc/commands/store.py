"""``kumahc store …``: the PostgreSQL store's schema (``store migrate``; spec 07, docs/store.md)."""

from __future__ import annotations

import click

from kumahc.commands import progress
from kumahc.commands.options import required_store_option


@click.group("store")
def store_group() -> None:
    """The PostgreSQL store's schema."""


@store_group.command("migrate", epilog="""\b
Examples:
  kumahc store migrate --store postgresql://kumahc@db/kumahc""")
@required_store_option
def store_migrate(store: str) -> None:
    """Bring the store's schema to the version this kumahc needs (every other command refuses an older one).

    Safe to run again, and from several hosts at once. Prints "store schema at version N (was M)".
    """
    from kumahc.sources.store import connection, schema

    with connection.session(store) as conn, progress.shown() as report:
        before, after = schema.migrate(conn, progress=report)
    click.echo(f"store schema at version {after} (was {before})")

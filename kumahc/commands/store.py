"""``kumahc store …``: the PostgreSQL store's schema (``store migrate``) and what is wrong with a store URL
(``store check``; spec 07, docs/store.md)."""

from __future__ import annotations

import sys

import click

from kumahc.commands import progress
from kumahc.commands.options import required_store_option


@click.group("store", epilog="""\b
Examples:
  kumahc store check --store postgresql://kumahc@db:5432/kumahc
  kumahc store check --read-only --store postgresql://kumahc_replica@db/kumahc
  kumahc store migrate --store postgresql://kumahc@db/kumahc""")
def store_group() -> None:
    """The PostgreSQL store: check a URL, create or upgrade the schema, run its writer."""


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


@store_group.command("writer", epilog="""\b
Examples:
  kumahc store writer --store postgresql://kumahc@db/kumahc""")
@required_store_option
def store_writer(store: str) -> None:
    """Keep the store validated and rendered in memory and answer `kumahc apply` and `kumahc delete`, until
    stopped (SIGTERM, Ctrl-C).

    With a writer running, `apply` and `delete` hand their change to it: the writer validates the resulting state
    exactly as they do, renders only the proxies the change can reach, and commits resources and rendered parts in
    one transaction; the command prints its answer. Without one, they do all of it themselves. Run one or more per
    store: one answers (it holds the store's lock), the others stand by. Log lines on stderr.
    """
    import logging
    import signal
    import threading

    from kumahc.writer import Writer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    Writer(store).run(stop)


@store_group.command("check", epilog="""\b
Examples:
  kumahc store check --store postgresql://kumahc@db:5432/kumahc
  KUMAHC_STORE=postgresql://kumahc_replica@db/kumahc kumahc store check --read-only

\b
Exit codes: 0 every check passed, 1 some check failed (or the URL is not a PostgreSQL URL).""")
@click.option("--read-only", is_flag=True,
              help="Check what a replica's role needs (serve, render, get): skip the write check.")
@required_store_option
def store_check(read_only: bool, store: str) -> None:
    """Say what is wrong with a store URL, one line per check, in order: reachability (each HOST:PORT),
    authentication, database, schema (version current, older or newer than this kumahc), read (SELECT on kumahc's
    tables), write (INSERT, UPDATE, DELETE).

    Each line is "CHECK: ok (DETAIL)", "CHECK: failed: WHAT; HOW TO FIX" or "CHECK: skipped (WHY)" (the checks
    after a failed one cannot run). Writes nothing.
    """
    from kumahc.sources.store import check

    findings = check.run(store, write=not read_only)
    for finding in findings:
        click.echo(finding.line())
    sys.exit(0 if all(f.ok for f in findings) else 1)

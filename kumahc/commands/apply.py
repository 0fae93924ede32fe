"""``kumahc apply``: create or replace resources in the store, all or none (spec 07; docs/store.md)."""

from __future__ import annotations

import click

from kumahc.commands import progress
from kumahc.commands.options import required_store_option
from kumahc.commands.output import fail, fail_invalid, stderr
from kumahc.diagnostics import FatalInputError, InputError, Report


@click.command("apply", epilog="""\b
Examples:
  kumahc apply -f examples/complete/mesh --store postgresql://kumahc@db/kumahc
  kumahc get meshhealthcheck --format yaml | kumahc apply -f -
  kumahc apply -f examples/meshhealthcheck/http-kuma-2.10.yaml --dry-run""")
@click.option("-f", "--filename", "paths", multiple=True, required=True, metavar="PATH",
              help="A file or directory to apply, as render reads it; - reads standard input. Repeatable.")
@click.option("--dry-run", is_flag=True, help="Validate and print what would change; write nothing.")
@required_store_option
def apply_command(paths: tuple[str, ...], dry_run: bool, store: str) -> None:
    """Create or replace resources in the store, all or none.

    The state the store would hold afterwards (stored resources, with the applied ones replacing those of the same
    identity or added) is validated exactly like `kumahc validate`; on any error every line is printed,
    "found N errors", nothing is written, exit 1. Otherwise everything is committed in one transaction and one
    line per resource is printed: "KIND NAME created|configured|unchanged". creationTime /
    metadata.creationTimestamp in the files are ignored: the store records the real times.
    """
    from kumahc.apply import apply
    from kumahc.sources import files
    from kumahc.sources.store import connection, schema

    with files.stdin_file(list(paths)) as stdin:
        load_report = Report()
        try:
            with progress.shown() as report:
                loaded = files.read(list(paths), load_report, stdin, progress=report)
        except FatalInputError as exc:
            fail(str(exc))
        if not loaded.resources and not load_report.has_errors():
            stderr(load_report.lines())
            fail("no resources to apply")
        with connection.session(store) as conn:
            schema.check(conn, connection.redact(store))
            try:
                with progress.shown() as report:
                    outcome = apply(conn, loaded, load_report, dry_run=dry_run, progress=report)
            except InputError as exc:
                fail_invalid(exc)
    stderr(outcome.result.report.lines())
    for change in outcome.changes:
        click.echo(change.line(dry_run))

"""``kumahc apply``: create or replace resources in the store, all or none (spec 07; docs/store.md). Also what an
apply would change without writing, which ``diff --store`` shows cluster by cluster and ``apply --dry-run`` sums
up: both read the files as apply does and plan on one snapshot of the store (:func:`kumahc.apply.preview`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from kumahc.commands import progress
from kumahc.commands.options import required_store_option
from kumahc.commands.output import fail, fail_invalid, stderr
from kumahc.diagnostics import FatalInputError, InputError, Report
from kumahc.resources.loader import Loaded

if TYPE_CHECKING:  # the pipeline loads only for the commands that run it
    from kumahc.pipeline import Options, Result


@click.command("apply", epilog="""\b
Examples:
  kumahc apply -f examples/complete/mesh --store postgresql://kumahc@db/kumahc
  kumahc get meshhealthcheck -o yaml | kumahc apply -f -
  kumahc apply -f examples/meshhealthcheck/http-kuma-2.10.yaml --dry-run""")
@click.option("-f", "--filename", "paths", multiple=True, required=True, metavar="PATH",
              help="A file or directory to apply, as render reads it; - reads standard input. Repeatable.")
@click.option("--dry-run", is_flag=True,
              help="Validate and print what would change (resources, then the clusters, as diff --store counts "
                   "them); write nothing.")
@required_store_option
def apply_command(paths: tuple[str, ...], dry_run: bool, store: str) -> None:
    """Create or replace resources in the store, all or none.

    The state the store would hold afterwards (stored resources, with the applied ones replacing those of the same
    identity or added) is validated exactly like `kumahc validate`; on any error every line is printed,
    "found N errors", nothing is written, exit 1. Otherwise everything is committed in one transaction and one
    line per resource is printed: "KIND NAME created|configured|unchanged". --dry-run appends " (dry run)" to
    each and ends with the clusters that would change, as `kumahc diff --store` sums them up ("2 clusters on 1
    proxy change (dry run)"; `kumahc diff --store URL PATH...` shows each field). creationTime /
    metadata.creationTimestamp in the files are ignored: the store records the real times.
    """
    from kumahc.apply import apply, preview
    from kumahc.sources import files
    from kumahc.sources.store import connection, schema

    with files.stdin_file(list(paths)) as stdin:
        loaded, load_report = read_applied(list(paths), stdin)
        with connection.session(store) as conn:
            schema.check(conn, connection.redact(store))
            try:
                with progress.shown() as report:
                    if dry_run:
                        planned = preview(conn, loaded, load_report, progress=report)
                    else:
                        outcome = apply(conn, loaded, load_report, progress=report)
            except InputError as exc:
                fail_invalid(exc)
    if dry_run:
        from kumahc.views import diff as differ

        stderr(planned.after.report.lines())
        for change in planned.changes:
            click.echo(change.line(True))
        click.echo(differ.compare(planned.before, planned.after).summary() + " (dry run)")
        return
    stderr(outcome.report.lines())
    for change in outcome.changes:
        click.echo(change.line())


# diff's own --store: explicit only (no $KUMAHC_STORE), since `kumahc diff BEFORE AFTER` must stay a diff of files.
diff_store_option = click.option(
    "--store", metavar="URL",
    help="Compare PATH... applied to the PostgreSQL store against what it holds: what `kumahc apply -f PATH...` "
         "would change (nothing is written).")


def read_applied(paths: list[str], stdin: str | None) -> tuple[Loaded, Report]:
    """The resources of ``paths`` as ``apply -f`` reads them, and their reading problems (printed with the
    resulting state's). No file found, or no resource at all: one ``error:`` line, exit 1."""
    from kumahc.sources import files

    report = Report()
    try:
        with progress.shown() as shown:
            loaded = files.read(paths, report, stdin, progress=shown)
    except FatalInputError as exc:
        fail(str(exc))
    if not loaded.resources and not report.has_errors():
        stderr(report.lines())
        fail("no resources to apply")
    return loaded, report


def store_sides(url: str, paths: tuple[str, ...], options: Options) -> tuple[Result, Result]:
    """(the store rendered, the store with ``paths`` applied rendered), from one snapshot; the resulting state's
    errors are the failure printer's lines, exit 1, as for apply."""
    if not paths:
        raise click.UsageError("Missing argument 'PATH...': the files to compare with the store.")
    from kumahc.apply import preview
    from kumahc.sources import files
    from kumahc.sources.store import connection, schema

    with files.stdin_file(list(paths)) as stdin:
        loaded, report = read_applied(list(paths), stdin)
        with connection.session(url) as conn:
            schema.check(conn, connection.redact(url))
            try:
                found = preview(conn, loaded, report, options)
            except InputError as exc:
                fail_invalid(exc)
    return found.before, found.after

"""What ``kumahc apply -f PATH...`` would change, without writing: ``diff --store`` shows it cluster by cluster and
``apply --dry-run`` ends with its summary. Both read the files as apply does and plan on one snapshot of the store
(:func:`kumahc.apply.preview`)."""

from __future__ import annotations

import click

from kumahc.commands.output import fail, fail_invalid, stderr
from kumahc.diagnostics import FatalInputError, InputError, Report
from kumahc.pipeline import Options, Result
from kumahc.resources.loader import Loaded

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
        loaded = files.read(paths, report, stdin)
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

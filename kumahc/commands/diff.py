"""``kumahc diff``: field-level cluster changes between two sets of inputs; exit 3 when some cluster changes
(spec 07)."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from kumahc.commands import progress
from kumahc.commands.apply import diff_store_option, store_sides
from kumahc.commands.completion import proxy_names
from kumahc.commands.options import format_option, limits_options, output_file_option, protocol_option, strict_option
from kumahc.commands.output import REPORT_FORMATS, as_format, emit, fail, invalid_lines, stderr
from kumahc.diagnostics import FatalInputError, InputError
from kumahc.resources.files import Limits

if TYPE_CHECKING:  # the pipeline loads only for the commands that run it
    from kumahc.pipeline import Result

DIFF_NO_CHANGE, DIFF_CHANGES = 0, 3


@click.command(epilog="""\b
Examples:
  kumahc diff examples/diff/before examples/diff/after
  kumahc diff examples/diff/before examples/diff/after --proxy web-01 -o json
  kumahc diff --store postgresql://kumahc@db/kumahc examples/diff/after

\b
Exit codes (for CI): 0 no cluster changes, 3 some cluster changes, 1 invalid input (either side), 2 usage.""")
@click.argument("paths", nargs=-1, type=click.Path(readable=False), metavar="BEFORE AFTER | --store URL PATH...")
@click.option("--proxy", metavar="NAME", shell_complete=proxy_names,
              help="Only proxies named NAME (any mesh) or MESH/NAME.")
@format_option(REPORT_FORMATS, "text", "text for people; json, or the same document as yaml, for tools.")
@output_file_option("the changes")
@protocol_option
@strict_option
@limits_options
@diff_store_option
def diff(paths: tuple[str, ...], proxy: str | None, fmt: str, output_file: str | None, protocol: str | None,
         strict: bool, limits: Limits, store: str | None) -> None:
    """Show what changes in the rendered clusters between two sets of inputs.

    BEFORE and AFTER are each a file, a directory or - (standard input). Both are rendered as `render` would;
    for every proxy and cluster that differs, prints the field-level change (paths in render's JSON) and the
    policies in the cluster before or after, then a summary such as "12 clusters on 340 proxies change".
    Warnings of AFTER go to stderr; errors of either side make it exit 1. --max-file-size and --max-documents
    bound each side on its own.

    With --store URL: BEFORE is what the store holds, AFTER the store with PATH... applied (what `kumahc apply -f
    PATH...` would change, validated the same way; nothing is written).
    """
    from kumahc.pipeline import Options
    from kumahc.render import NoProxyMatch
    from kumahc.views import diff as differ

    if store is not None:
        before_after = store_sides(store, paths, Options(protocol=protocol, strict=strict, limits=limits))
    else:
        before_after = file_sides(paths, protocol, strict, limits)
    stderr(before_after[1].report.lines(strict))
    try:
        found = differ.compare(*before_after, proxy)
    except NoProxyMatch as exc:
        fail(str(exc))
    emit(differ.text(found) if fmt == "text" else as_format(differ.as_json(found), fmt), output_file)
    sys.exit(DIFF_CHANGES if found.proxies else DIFF_NO_CHANGE)


def file_sides(paths: tuple[str, ...], protocol: str | None, strict: bool, limits: Limits) -> tuple[Result, Result]:
    """BEFORE and AFTER rendered; either side's errors printed (both sides read first), exit 1."""
    if len(paths) != 2:
        raise click.UsageError("give BEFORE and AFTER (or --store URL PATH...)")
    from kumahc.pipeline import Options, run

    before, after = paths
    results = []
    failed = False
    for path in (before, after):
        # Both sides are read before failing, so one run shows the errors of each.
        try:
            with progress.shown() as report:  # erased before this side's errors are printed
                results.append(run([path], Options(protocol=protocol, strict=strict, limits=limits),
                                   progress=report))
        except FatalInputError as exc:
            click.echo(f"error: {path}: {exc}", err=True)
            failed = True
        except InputError as exc:
            stderr(invalid_lines(exc))
            failed = True
    if failed:
        sys.exit(1)
    return results[0], results[1]

"""``kumahc diff``: field-level cluster changes between two sets of inputs; exit 3 when some cluster changes
(spec 07)."""

from __future__ import annotations

import sys

import click

from kumahc.commands import progress
from kumahc.commands.completion import proxy_names
from kumahc.commands.options import limits_options, protocol_option, strict_option
from kumahc.commands.output import fail, invalid_lines, stderr
from kumahc.diagnostics import FatalInputError, InputError
from kumahc.pipeline import Options, run
from kumahc.render import NoProxyMatch
from kumahc.resources.files import Limits

DIFF_NO_CHANGE, DIFF_CHANGES = 0, 3


@click.command(epilog="""\b
Examples:
  kumahc diff examples/diff/before examples/diff/after
  kumahc diff examples/diff/before examples/diff/after --proxy web-01 --format json

\b
Exit codes (for CI): 0 no cluster changes, 3 some cluster changes, 1 invalid input (either side), 2 usage.""")
@click.argument("before", type=click.Path(readable=False), metavar="BEFORE")
@click.argument("after", type=click.Path(readable=False), metavar="AFTER")
@click.option("--proxy", metavar="NAME", shell_complete=proxy_names,
              help="Only proxies named NAME (any mesh) or MESH/NAME.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="text for people, json for tools.")
@protocol_option
@strict_option
@limits_options
def diff(before: str, after: str, proxy: str | None, fmt: str, protocol: str | None, strict: bool,
         limits: Limits) -> None:
    """Show what changes in the rendered clusters between two sets of inputs.

    BEFORE and AFTER are each a file, a directory or - (standard input). Both are rendered as `render` would;
    for every proxy and cluster that differs, prints the field-level change (paths in render's JSON) and the
    policies in the cluster before or after, then a summary such as "12 clusters on 340 proxies change".
    Warnings of AFTER go to stderr; errors of either side make it exit 1. --max-file-size and --max-documents
    bound each side on its own.
    """
    from kumahc.views import diff as differ

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
    stderr(results[1].report.lines(strict))
    try:
        found = differ.compare(results[0], results[1], proxy)
    except NoProxyMatch as exc:
        fail(str(exc))
    sys.stdout.write(differ.text(found) if fmt == "text" else differ.as_json(found))
    sys.stdout.flush()
    sys.exit(DIFF_CHANGES if found.proxies else DIFF_NO_CHANGE)

"""``kumahc delete``: delete stored resources (KIND NAME, or those a file names), if the state left stays valid
(spec 07; docs/store.md)."""

from __future__ import annotations

import click

from kumahc.commands.completion import kind_names, stored_names
from kumahc.commands.options import mesh_option, namespace_option, parse_kind, required_store_option
from kumahc.commands.output import fail, fail_invalid, stderr
from kumahc.diagnostics import FatalInputError, InputError, Report
from kumahc.resources.model import Resource


@click.command(epilog="""\b
Examples:
  kumahc delete meshhealthcheck web-to-backend --mesh default
  kumahc delete dataplane web-01 -n kuma-demo
  kumahc delete -f examples/meshhealthcheck/http-kuma-2.10.yaml
  kumahc get meshhealthcheck -l team=web -o yaml | kumahc delete -f - --ignore-not-found""")
@click.argument("kind", metavar="[KIND NAME]", required=False, shell_complete=kind_names)
@click.argument("name", metavar="", required=False, shell_complete=stored_names)
@click.option("-f", "--filename", "paths", multiple=True, metavar="PATH",
              help="Delete the resources this file or directory names (kind, mesh, namespace, name; the rest of "
                   "each document is not compared); - reads standard input. Repeatable.")
@click.option("--ignore-not-found", is_flag=True,
              help="With -f: skip the resources the store does not hold instead of failing.")
@mesh_option
@namespace_option
@required_store_option
def delete(kind: str | None, name: str | None, paths: tuple[str, ...], ignore_not_found: bool, mesh: str | None,
           namespace: str | None, store: str) -> None:
    """Delete one stored resource (KIND NAME, narrowed by --mesh and -n when several match), or every resource
    the files given with -f name, all or none.

    Like apply, the state left must pass `kumahc validate`: otherwise its errors are printed, nothing is deleted,
    exit 1. Prints "KIND NAME deleted" per resource. KIND NAME not found, or several match: error, exit 1. With
    -f, each resource the store does not hold is one "error: FILE:LINE: KIND NAME not found" line and nothing is
    deleted (exit 1), unless --ignore-not-found.
    """
    from kumahc.apply import NotFound, delete_named
    from kumahc.apply import delete as delete_resource
    from kumahc.sources import files
    from kumahc.sources.store import connection, schema

    if paths and (kind is not None or mesh is not None or namespace is not None):
        raise click.UsageError("give KIND NAME (with --mesh, -n) or -f PATH, not both")
    if not paths and (kind is None or name is None):
        raise click.UsageError("Missing argument 'KIND NAME' (or -f PATH).")
    if ignore_not_found and not paths:
        raise click.UsageError("--ignore-not-found goes with -f PATH")
    with files.stdin_file(list(paths)) as stdin:
        named = _read(list(paths), stdin) if paths else None
        with connection.session(store) as conn:
            schema.check(conn, connection.redact(store))
            try:
                if named is None:
                    outcome = delete_resource(conn, parse_kind(kind or ""), name or "", mesh, namespace)
                else:
                    outcome = delete_named(conn, named, ignore_not_found)
            except NotFound as exc:
                stderr(f"error: {line}" for line in exc.lines)
                fail(f"nothing deleted: {len(exc.lines)} of the resources named not found (--ignore-not-found "
                     "deletes the others)")
            except InputError as exc:
                fail_invalid(exc)
    stderr(outcome.report.lines())
    for change in outcome.changes:
        click.echo(change.line())


def _read(paths: list[str], stdin: str | None) -> list[Resource]:
    """The resources the -f PATHs name, read as apply reads them; a file that cannot be read or holds an invalid
    document is its error lines, exit 1 (nothing deleted)."""
    from kumahc.sources import files

    report = Report()
    try:
        loaded = files.read(paths, report, stdin)
    except FatalInputError as exc:
        fail(str(exc))
    if report.has_errors():
        fail_invalid(InputError(report))
    if not loaded.resources:
        fail("no resources to delete")
    return list(loaded.resources)

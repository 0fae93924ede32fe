"""``kumahc delete``: delete one stored resource, if the state left stays valid (spec 07; docs/store.md)."""

from __future__ import annotations

import click

from kumahc.commands.completion import stored_names
from kumahc.commands.options import kind_argument, mesh_option, namespace_option, parse_kind, required_store_option
from kumahc.commands.output import fail_invalid, stderr
from kumahc.diagnostics import InputError


@click.command(epilog="""\b
Examples:
  kumahc delete meshhealthcheck web-to-backend --mesh default
  kumahc delete dataplane web-01 -n kuma-demo""")
@kind_argument
@click.argument("name", metavar="NAME", shell_complete=stored_names)
@mesh_option
@namespace_option
@required_store_option
def delete(kind: str, name: str, mesh: str | None, namespace: str | None, store: str) -> None:
    """Delete one stored resource: KIND NAME, narrowed by --mesh and -n when several match.

    Like apply, the state left must pass `kumahc validate`: otherwise its errors are printed, nothing is deleted,
    exit 1. Prints "KIND NAME deleted". Not found, or several match: error, exit 1.
    """
    from kumahc.apply import delete as delete_resource
    from kumahc.sources.store import connection, schema

    k = parse_kind(kind)
    with connection.session(store) as conn:
        schema.check(conn, connection.redact(store))
        try:
            outcome = delete_resource(conn, k, name, mesh, namespace)
        except InputError as exc:
            fail_invalid(exc)
    stderr(outcome.result.report.lines())
    for change in outcome.changes:
        click.echo(change.line())

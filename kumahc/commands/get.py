"""``kumahc get``: print stored resources as a table, YAML or JSON (spec 07; docs/store.md)."""

from __future__ import annotations

import sys

import click

from kumahc.commands.completion import stored_names
from kumahc.commands.options import kind_argument, mesh_option, namespace_option, parse_kind, required_store_option
from kumahc.commands.output import fail


@click.command(epilog="""\b
Examples:
  kumahc get meshhealthchecks
  kumahc get meshhealthcheck web-to-backend --mesh default --format yaml
  kumahc get dataplanes -n kuma-demo --format json""")
@kind_argument
@click.argument("name", metavar="[NAME]", required=False, shell_complete=stored_names)
@mesh_option
@namespace_option
@click.option("--format", "fmt", type=click.Choice(["table", "yaml", "json"]), default="table", show_default=True,
              help="table for people; yaml (documents `kumahc apply -f -` accepts unchanged) or json.")
@required_store_option
def get(kind: str, name: str | None, mesh: str | None, namespace: str | None, fmt: str, store: str) -> None:
    """Print stored resources of KIND (all, or the one named NAME).

    table: NAME (NAMESPACE/NAME or MESH/NAME), MESH, FORMAT, GENERATION, CREATED, MODIFIED. yaml: the documents as
    applied, with the store's creation time, separated by ---. json: the document when NAME is given, else
    {"items": [...]}. KIND is a kind name in any case, or its plural. NAME not found: error, exit 1.
    """
    import orjson
    import yaml

    from kumahc.apply import matches
    from kumahc.sources.store import connection, records, schema, state

    k = parse_kind(kind)
    with connection.session(store) as conn:
        schema.check(conn, connection.redact(store))
        rows = [r for r in state.read(conn, k).rows if matches(r, k, name, mesh, namespace)]
    if name is not None and not rows:
        fail(f'{k.lower()} "{name}" not found')
    if name is not None and len(rows) > 1 and fmt == "json":
        fail(f'{len(rows)} {k} resources named "{name}" ({", ".join(r.display for r in rows)}): '
             "choose one with --mesh or -n")
    if fmt == "json":
        docs = [records.document(r) for r in rows]
        value = docs[0] if name is not None else {"items": docs}
        sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if not rows:
        click.echo(f"no {k} resources found", err=True)
        return
    if fmt == "yaml":
        sys.stdout.write(yaml.safe_dump_all([records.document(r) for r in rows], sort_keys=False,
                                            allow_unicode=True, default_flow_style=False,
                                            explicit_start=len(rows) > 1))
        return
    table = [("NAME", "MESH", "FORMAT", "GENERATION", "CREATED", "MODIFIED")]
    table += [(r.display, r.mesh or "-", r.format, str(r.generation), records.timestamp(r.created_at),
               records.timestamp(r.modified_at)) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())

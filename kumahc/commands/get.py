"""``kumahc get``: print stored resources as a table, YAML, JSON or names (spec 07; docs/store.md)."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import TYPE_CHECKING

import click

from kumahc.commands.completion import stored_names
from kumahc.commands.options import (
    format_option,
    kind_argument,
    mesh_option,
    namespace_option,
    parse_kind,
    required_store_option,
)
from kumahc.commands.output import fail

if TYPE_CHECKING:
    from kumahc.sources.store.records import Row
    from kumahc.sources.store.selectors import Requirement

FORMATS = ("table", "wide", "yaml", "json", "name")


def _selector(_ctx: click.Context, _param: click.Parameter, value: str | None
              ) -> tuple[Requirement, ...] | None:
    if value is None:
        return None
    from kumahc.sources.store import selectors

    try:
        return selectors.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command(epilog="""\b
Examples:
  kumahc get meshhealthchecks
  kumahc get dataplanes -A -o wide -l app=web
  kumahc get meshhealthcheck web-to-backend --mesh default -o yaml
  kumahc get dataplanes -n kuma-demo -o json
  kumahc get meshcircuitbreakers -o name
  kumahc get meshhealthchecks --no-headers -l team!=platform""")
@kind_argument
@click.argument("name", metavar="[NAME]", required=False, shell_complete=stored_names)
@mesh_option
@namespace_option
@click.option("-A", "--all-meshes", is_flag=True,
              help="Every mesh and namespace (kubectl's --all-namespaces). Also what get lists when neither --mesh "
                   "nor -n is given.")
@click.option("-l", "--selector", callback=_selector, metavar="SELECTOR",
              help="Only resources whose labels match: key=value, key==value, key!=value, key, !key, comma-separated "
                   "(all must hold). Labels: Universal labels, Kubernetes metadata.labels.")
@click.option("--no-headers", is_flag=True, help="table and wide: leave out the header line.")
@format_option(FORMATS, "table",
               "table: NAME, MESH, AGE; wide: also FORMAT, GENERATION, CREATED, MODIFIED, LABELS; yaml (documents "
               "`kumahc apply -f -` accepts unchanged); json; name: KIND/NAME lines.")
@required_store_option
def get(kind: str, name: str | None, mesh: str | None, namespace: str | None, all_meshes: bool,
        selector: tuple[Requirement, ...] | None, no_headers: bool, fmt: str, store: str) -> None:
    """Print stored resources of KIND (all, or the one named NAME), from every mesh and namespace unless --mesh
    or -n narrows them.

    table: NAME (NAMESPACE/NAME or MESH/NAME), MESH, AGE (since the store created it: 5s, 3m, 2h, 4d, 1y). wide:
    also FORMAT, GENERATION, CREATED, MODIFIED (RFC 3339, UTC) and LABELS. yaml: the documents as applied, with
    the store's creation time, separated by ---. json: the document when NAME is given, else {"items": [...]}.
    name: one kind/name line per resource. KIND is a kind name in any case, or its plural. NAME not found:
    error, exit 1.
    """
    from kumahc.apply import matches
    from kumahc.sources.store import connection, records, schema, selectors, state

    if all_meshes and (mesh is not None or namespace is not None or name is not None):
        raise click.UsageError("-A/--all-meshes lists every mesh and namespace: leave out --mesh, -n and NAME")
    k = parse_kind(kind)
    with connection.session(store) as conn:
        schema.check(conn, connection.redact(store))
        snapshot = state.read(conn, k)
    rows = [r for r in snapshot.rows if matches(r, k, name, mesh, namespace)
            and (selector is None or selectors.matches(selector, records.labels(r)))]
    if name is not None and not rows:
        fail(f'{k.lower()} "{name}" not found')
    if name is not None and len(rows) > 1 and fmt == "json":
        fail(f'{len(rows)} {k} resources named "{name}" ({", ".join(r.display for r in rows)}): '
             "choose one with --mesh or -n")
    if fmt == "json":
        import orjson

        docs = [records.document(r) for r in rows]
        value = docs[0] if name is not None else {"items": docs}
        sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    if not rows:
        click.echo(f"no {k} resources found", err=True)
        return
    if fmt == "yaml":
        import yaml

        sys.stdout.write(yaml.safe_dump_all([records.document(r) for r in rows], sort_keys=False,
                                            allow_unicode=True, default_flow_style=False,
                                            explicit_start=len(rows) > 1))
        return
    if fmt == "name":
        sys.stdout.writelines(f"{k.lower()}/{r.name}\n" for r in rows)
        return
    _table(rows, snapshot.now, wide=fmt == "wide", headers=not no_headers)


def _table(rows: list[Row], now: datetime, wide: bool, headers: bool) -> None:
    """kubectl's layout: columns two spaces apart, left-aligned, no trailing spaces."""
    from kumahc.sources.store import records

    head = ("NAME", "MESH", "AGE") + (("FORMAT", "GENERATION", "CREATED", "MODIFIED", "LABELS") if wide else ())
    table = [head] if headers else []
    for r in rows:
        cells = (r.display, r.mesh or "-", records.age(now - r.created_at))
        if wide:
            labels = records.labels(r)
            cells += (r.format, str(r.generation), records.timestamp(r.created_at), records.timestamp(r.modified_at),
                      ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "<none>")
        table.append(cells)
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    for row in table:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())

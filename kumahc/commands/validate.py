"""``kumahc validate``: everything ``render`` checks, then ``ok: …`` or every error (spec 07)."""

from __future__ import annotations

import click

from kumahc.commands.options import (
    limits_options,
    pipeline,
    protocol_option,
    source_paths_argument,
    store_option,
    strict_option,
)
from kumahc.resources.files import Limits


@click.command(epilog="""\b
Examples:
  kumahc validate examples/complete/mesh
  kumahc validate examples/complete/mesh --strict
  cat examples/complete/mesh/*.yaml | kumahc validate -""")
@source_paths_argument
@store_option
@protocol_option
@strict_option
@limits_options
def validate(paths: tuple[str, ...], store: str | None, protocol: str | None, strict: bool, limits: Limits) -> None:
    """Check inputs without printing clusters.

    Runs everything render runs. Valid: prints "ok: N resources in M files" (N = documents of the kinds kumahc
    reads, M = files read; "ok: N resources in store" with --store) and exits 0; invalid: prints every error and
    "found N errors", exit 1.
    """
    result = pipeline(paths, protocol, strict, store, limits)
    where = f"{len(result.loaded.files)} files" if paths else "store"
    click.echo(f"ok: {result.loaded.counted} resources in {where}")

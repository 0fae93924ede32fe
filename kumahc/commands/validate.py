"""``kumahc validate``: everything ``render`` checks, then ``ok: …`` or every error; ``-o json`` for tools
(spec 07)."""

from __future__ import annotations

import sys

import click

from kumahc.commands.options import (
    format_option,
    inputs,
    limits_options,
    output_file_option,
    pipeline,
    protocol_option,
    source_paths_argument,
    store_option,
    strict_option,
)
from kumahc.commands.output import emit
from kumahc.diagnostics import FatalInputError, InputError
from kumahc.resources.files import Limits


@click.command(epilog="""\b
Examples:
  kumahc validate examples/complete/mesh
  kumahc validate examples/complete/mesh --strict
  kumahc validate examples/invalid/bad.yaml -o json
  cat examples/complete/mesh/*.yaml | kumahc validate -""")
@source_paths_argument
@store_option
@protocol_option
@strict_option
@format_option(("text", "json"), "text",
               'text: "ok: ..." on stdout, problems on stderr; json: one report of every problem and the summary on '
               "stdout, nothing on stderr.")
@output_file_option("the report")
@limits_options
def validate(paths: tuple[str, ...], store: str | None, protocol: str | None, strict: bool, fmt: str,
             output_file: str | None, limits: Limits) -> None:
    """Check inputs without printing clusters.

    Runs everything render runs. Valid: prints "ok: N resources in M files" (N = documents of the kinds kumahc
    reads, M = files read; "ok: N resources in store" with --store) and exits 0; invalid: prints every error and
    "found N errors", exit 1. -o json prints {"problems": [{"severity", "file", "line", "document", "subject",
    "path", "message", "text"}], "summary": {"valid", "errors", "warnings", "notes", "resources", "files",
    "text"}}, exit 0 or 1 the same way.
    """
    if fmt == "json":
        _validate_json(paths, store, protocol, strict, output_file, limits)
        return
    result = pipeline(paths, protocol, strict, store, limits)
    where = f"{len(result.loaded.files)} files" if paths else "store"
    emit(f"ok: {result.loaded.counted} resources in {where}\n", output_file)


def _validate_json(paths: tuple[str, ...], store: str | None, protocol: str | None, strict: bool,
                   output_file: str | None, limits: Limits) -> None:
    """The report of ``-o json`` to stdout (or ``output_file``), whether the input is valid or not; exit 1 when it
    holds an error."""
    from kumahc.pipeline import Options, run
    from kumahc.views import problems

    source = inputs(paths, store)
    try:
        result = run(source, Options(protocol=protocol, strict=strict, limits=limits))
    except FatalInputError as exc:
        emit(problems.as_json([problems.fatal(str(exc))]), output_file)
        sys.exit(1)
    except InputError as exc:
        emit(problems.as_json(problems.problems(exc.report, exc.strict)), output_file)
        sys.exit(1)
    files = len(result.loaded.files) if paths else None
    where = f"{files} files" if paths else "store"
    found = problems.problems(result.report, strict)
    emit(problems.as_json(found, result.loaded.counted, files, f"ok: {result.loaded.counted} resources in {where}"),
         output_file)

"""What commands print besides their document: stderr lines, one-line failures (``error: …``, exit 1), the
failure printer for invalid input (every problem, then ``found N errors``, exit 1) and writing the document."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import NoReturn

import click

from kumahc.diagnostics import InputError, summary

# -o of the commands that print a report for people (inspect, diff): text, or its JSON (YAML) for tools.
REPORT_FORMATS = ("text", "json", "yaml")


def stderr(lines: Iterable[str]) -> None:
    """Each line to standard error."""
    for line in lines:
        click.echo(line, err=True)


def fail(message: str) -> NoReturn:
    """``error: <message>`` on stderr, exit 1 (spec 07: invalid input or any other failure)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(1)


def invalid_lines(exc: InputError) -> list[str]:
    """Every problem of invalid input (warnings count as errors when the run was strict), then ``found N errors``."""
    return [*exc.report.lines(exc.strict), summary(exc.report.error_count(exc.strict))]


def fail_invalid(exc: InputError) -> NoReturn:
    """The failure printer: :func:`invalid_lines` on stderr, exit 1."""
    stderr(invalid_lines(exc))
    sys.exit(1)


def emit(text: str | Iterable[str], output: str | None) -> None:
    """The document (a string or its pieces) to stdout, or to ``output`` (:func:`write_atomic`: never a
    half-written file, never a FIFO or device replaced); a write error is :func:`fail`."""
    from kumahc.render import write_atomic  # the pipeline's modules load only for the commands that render

    if output is None:
        sys.stdout.writelines([text] if isinstance(text, str) else text)
        sys.stdout.flush()
        return
    try:
        write_atomic(output, text)
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror or exc}")


def as_format(json_text: str, fmt: str) -> str:
    """A report's JSON text as ``fmt``: ``json`` unchanged, ``yaml`` the same document in YAML (keys in the JSON's
    order, block style, never wrapped: :func:`kumahc.render.to_yaml`)."""
    from kumahc.render import to_yaml

    return json_text if fmt == "json" else to_yaml(json.loads(json_text))

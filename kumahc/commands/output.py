"""What commands print besides their document: stderr lines, one-line failures (``error: …``, exit 1), the
failure printer for invalid input (every problem, then ``found N errors``, exit 1) and writing the document."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import NoReturn

import click

from kumahc.diagnostics import InputError, summary
from kumahc.render import write_atomic


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
    if output is None:
        sys.stdout.writelines([text] if isinstance(text, str) else text)
        sys.stdout.flush()
        return
    try:
        write_atomic(output, text)
    except OSError as exc:
        fail(f"{output}: cannot write: {exc.strerror or exc}")

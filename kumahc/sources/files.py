"""The file source: PATH arguments read by :mod:`kumahc.resources.loader` (parse, recognise, structural checks),
plus ``-`` for standard input (``kumahc apply -f -``)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from kumahc.diagnostics import Report
from kumahc.resources.loader import Loaded, load


@contextmanager
def stdin_file(paths: list[str]) -> Iterator[str | None]:
    """When ``-`` is among ``paths``: standard input's bytes saved once to a temporary file (removed on exit), whose
    path is yielded for :func:`read`'s ``stdin`` (a message may need to read the text again for a line number).
    Otherwise None."""
    if "-" not in paths:
        yield None
        return
    fd, path = tempfile.mkstemp(prefix="kumahc-stdin-", suffix=".yaml")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(sys.stdin.buffer.read())
        yield path
    finally:
        os.unlink(path)


def read(paths: list[str], report: Report, stdin: str | None = None,
         progress: Callable[[str, int, int], None] | None = None) -> Loaded:
    """Load ``paths`` as ``render`` does (every file problem goes into ``report``; ``progress`` as
    :func:`~kumahc.resources.loader.load`'s). Raises :class:`~kumahc.diagnostics.FatalInputError` when no file was
    found."""
    return load(paths, report, None, stdin=stdin, progress=progress)

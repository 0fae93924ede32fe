"""Which files to read, in which order (spec 01 §1); ``-`` is standard input."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from kumahc.diagnostics import Report

EXTENSIONS = (".yaml", ".yml", ".json")
STDIN = "-"
STDIN_NAME = "<stdin>"
# Standard input is read once per stream: a reload (serve) or a second "-" sees the same documents.
_stdin: dict[int, tuple[object, bytes]] = {}


@dataclass(frozen=True, slots=True)
class InputFile:
    """``name`` as printed in messages (the path as given, or ``<dir>/<relative path>``); ``path`` to open."""

    name: str
    path: str


def discover(paths: list[str], report: Report) -> list[InputFile]:
    """Expand PATH arguments into files in input order: explicit files whatever their extension, directories
    walked recursively for ``.yaml``/``.yml``/``.json`` files (names starting with ``.`` skipped) in byte order of
    the relative path; a file reached twice (same real path) is kept at its first position. ``-`` is standard
    input (a YAML/JSON document stream), named ``<stdin>`` in messages.

    An unreadable or missing path adds ``<path>: cannot read: <reason>`` to ``report``."""
    out: list[InputFile] = []
    seen: set[str] = set()

    def add(name: str, path: str) -> None:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            out.append(InputFile(name, path))

    for arg in paths:
        if arg == STDIN:
            if STDIN not in seen:
                seen.add(STDIN)
                out.append(InputFile(STDIN_NAME, STDIN))
        elif os.path.isdir(arg):
            try:
                found = walk_directory(arg)
            except OSError as exc:
                report.plain_error(f"{arg}: cannot read: {exc.strerror or exc}")
                continue
            base = arg.rstrip("/") or "/"
            for rel in found:
                add(f"{base}/{rel}" if base != "/" else f"/{rel}", os.path.join(arg, rel))
        elif os.path.exists(arg):
            add(arg, arg)
        else:
            report.plain_error(f"{arg}: cannot read: No such file or directory")
    return out


def walk_directory(root: str) -> list[str]:
    """Files to read below ``root`` (01 §1), as ``/``-separated paths relative to it, in byte order."""
    rels: list[str] = []

    def onerror(exc: OSError) -> None:
        raise exc

    for dirpath, dirnames, filenames in os.walk(root, onerror=onerror):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        rel_dir = os.path.relpath(dirpath, root)
        for f in filenames:
            if f.startswith(".") or not f.endswith(EXTENSIONS):
                continue
            rel = f if rel_dir == "." else os.path.join(rel_dir, f)
            rels.append(rel.replace(os.sep, "/"))
    rels.sort(key=lambda r: r.encode("utf-8", "surrogateescape"))
    return rels


def read_text(f: InputFile) -> str:
    """File contents as text: UTF-8, a BOM dropped. Raises OSError, or UnicodeDecodeError for non-UTF-8 bytes."""
    data = read_bytes(f)
    text = data.decode("utf-8")
    return text[1:] if text.startswith("\ufeff") else text


def read_bytes(f: InputFile) -> bytes:
    """The file's bytes; standard input is read once and kept. Raises OSError."""
    if f.path == STDIN:
        stream = sys.stdin
        kept = _stdin.get(0)
        if kept is None or kept[0] is not stream:
            kept = _stdin[0] = (stream, stream.buffer.read())
        return kept[1]
    with open(f.path, "rb") as fh:
        return fh.read()

"""Which files to read, in which order, and how they are read (spec 01 §1); ``-`` is standard input.

Reading is bounded so that no input can hurt the process that reads it: only regular files are opened (a FIFO
would block a read for ever, a device such as ``/dev/zero`` never ends), a file larger than
:attr:`Limits.max_file_bytes` is refused before it is read whole, and a run reads at most
:attr:`Limits.max_documents` documents (enforced by the loader while parsing).
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from dataclasses import dataclass

from kumahc.diagnostics import Report

EXTENSIONS = (".yaml", ".yml", ".json")
STDIN = "-"  # the PATH argument meaning standard input
STDIN_NAME = "<stdin>"  # how standard input is named in messages
# Standard input is read once per stream: a reload (serve) or a second "-" sees the same documents.
_stdin: dict[int, tuple[object, bytes]] = {}

MAX_FILE_BYTES = 64 * 1024 * 1024  # per file; a `large` mesh's biggest file is a few MiB
MAX_DOCUMENTS = 200_000  # per run, after List/sequence expansion; a `large` mesh has about 12,000


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds of one run's reading: ``max_file_bytes`` per file (``--max-file-size``), ``max_documents`` for all
    files together (``--max-documents``)."""

    max_file_bytes: int = MAX_FILE_BYTES
    max_documents: int = MAX_DOCUMENTS


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class InputFile:
    """``name`` as printed in messages (the path as given, or ``<dir>/<relative path>``); ``path`` to open."""

    name: str
    path: str


class Refused(OSError):
    """A path kumahc will not read (not a regular file, too large); ``strerror`` is the reason printed after
    ``cannot read: ``."""

    def __init__(self, reason: str):
        super().__init__(0, reason)


_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a directory"))


def not_regular(mode: int) -> str | None:
    """``not a regular file (a FIFO)`` and the like for a non-regular ``st_mode``; None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    what = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    return f"not a regular file ({what})" if what != "not a regular file" else what


def discover(paths: list[str], report: Report, stdin: str | None = None) -> list[InputFile]:
    """Expand PATH arguments into files in input order: explicit files whatever their extension, directories
    walked recursively for ``.yaml``/``.yml``/``.json`` files (names starting with ``.`` skipped, symbolic links
    to directories not followed) in byte order of the relative path; a file reached twice (same real path) is
    kept at its first position.

    A missing path, a symbolic link loop or an unreadable directory adds ``<path>: cannot read: <reason>`` to
    ``report``, naming the exact path (a subdirectory, not the PATH argument above it). A PATH ``-`` is
    standard input, named ``<stdin>``: read once per process, or, with ``stdin`` (the path of a file holding what
    standard input gave), that file."""
    out: list[InputFile] = []
    seen: set[str] = set()

    def add(name: str, path: str) -> None:
        real = os.path.realpath(path)
        if real not in seen:
            seen.add(real)
            out.append(InputFile(name, path))

    for arg in paths:
        if arg == STDIN:
            if stdin is not None:  # standard input already saved to a file by the caller (apply -f -)
                add(STDIN_NAME, stdin)
            elif STDIN not in seen:
                seen.add(STDIN)
                out.append(InputFile(STDIN_NAME, STDIN))
            continue
        try:
            st = os.stat(arg)
        except OSError as exc:
            report.plain_error(f"{arg}: cannot read: {exc.strerror or exc}")
            continue
        if stat.S_ISDIR(st.st_mode):
            base = arg.rstrip("/") or "/"
            for rel in walk_directory(arg, report, base):
                add(f"{base}/{rel}" if base != "/" else f"/{rel}", os.path.join(arg, rel))
        else:
            add(arg, arg)
    return out


def walk_directory(root: str, report: Report | None = None, shown: str | None = None) -> list[str]:
    """Files to read below ``root`` (01 §1), as ``/``-separated paths relative to it, in byte order.

    Without ``report`` the first unreadable directory raises OSError. With it, each unreadable subdirectory and
    each symbolic link that cannot be resolved because it loops adds ``<shown>/<rel>: cannot read: <reason>``
    and the walk goes on (``shown``: how ``root`` is named in messages)."""
    rels: list[str] = []
    shown = root if shown is None else shown

    def name(rel: str) -> str:
        return f"{shown}/{rel}" if rel else shown

    problems: list[tuple[str, str]] = []

    def problem(rel: str, exc: OSError) -> None:
        if report is None:
            raise exc
        problems.append((rel, f"{name(rel)}: cannot read: {exc.strerror or exc}"))

    pending = [""]
    while pending:
        rel_dir = pending.pop()
        try:
            with os.scandir(os.path.join(root, rel_dir) if rel_dir else root) as it:
                entries = list(it)
        except OSError as exc:
            problem(rel_dir, exc)
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
                if entry.is_symlink():
                    os.stat(entry.path)  # a loop (ELOOP) is named here, whatever the link's name
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    problem(rel, exc)
                    continue
                is_dir = False  # dangling link: reading it reports it
            if is_dir:
                pending.append(rel)
            elif entry.name.endswith(EXTENSIONS):
                rels.append(rel)
    rels.sort(key=lambda r: r.encode("utf-8", "surrogateescape"))
    for _, message in sorted(problems, key=lambda p: p[0].encode("utf-8", "surrogateescape")):
        report.plain_error(message)  # type: ignore[union-attr] - problems are only kept with a report
    return rels


def read_text(f: InputFile, max_bytes: int = MAX_FILE_BYTES) -> str:
    """File contents as text: UTF-8, a BOM dropped. Only a regular file (or a link to one) is opened, without
    blocking; one larger than ``max_bytes`` is refused. Standard input (``-``) is read once and kept. Raises
    OSError (:class:`Refused` for those two), or UnicodeDecodeError for non-UTF-8 bytes."""
    data = read_bytes(f, max_bytes)
    text = data.decode("utf-8")
    return text[1:] if text.startswith("\ufeff") else text


def read_bytes(f: InputFile, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``f``, at most ``max_bytes`` of them (see :func:`read_text`)."""
    if f.path == STDIN:
        return _read_stdin(max_bytes)
    path = f.path
    reason = not_regular(os.stat(path).st_mode)
    if reason:
        raise Refused(reason)
    # O_NONBLOCK: should the path be swapped for a FIFO between stat and open, opening it still cannot block.
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        st = os.fstat(fd)
        reason = not_regular(st.st_mode)
        if reason:
            raise Refused(reason)
        if st.st_size > max_bytes:
            raise Refused(too_large(max_bytes))
        chunks = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:  # grew while being read
                raise Refused(too_large(max_bytes))
        return b"".join(chunks)
    finally:
        os.close(fd)


def too_large(max_bytes: int) -> str:
    return f"larger than {size_text(max_bytes)} (raise the limit with --max-file-size)"


def size_text(n: int) -> str:
    """``64 MiB``, ``512 KiB``, ``100 bytes``: the unit that writes ``n`` exactly, for limits in messages."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} bytes"


def parse_size(text: str) -> int:
    """``64MiB``, ``512KiB``, ``1GiB``, ``1000`` (bytes) → bytes. Raises ValueError."""
    t = text.strip().replace(" ", "")
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("G", 1 << 30), ("M", 1 << 20),
                         ("K", 1 << 10), ("B", 1)):
        if t.endswith(unit):
            t, mult = t[: -len(unit)], factor
            break
    else:
        mult = 1
    if not t.isdigit() or int(t) <= 0:
        raise ValueError(f'"{text}" is not a size (bytes, or a number with KiB, MiB or GiB)')
    return int(t) * mult


def _read_stdin(max_bytes: int) -> bytes:
    stream = sys.stdin
    kept = _stdin.get(0)
    if kept is None or kept[0] is not stream:
        data = stream.buffer.read(max_bytes + 1)
        kept = _stdin[0] = (stream, data)
    if len(kept[1]) > max_bytes:
        raise Refused(too_large(max_bytes))
    return kept[1]

"""Errors, warnings and notes about inputs, and the order they are printed in (spec 01 §2).

Every stage of the pipeline reports problems as :class:`Diagnostic` values into a :class:`Report`; nothing is
printed or raised in the core. The CLI (or the xDS server) turns a report into stderr lines with
:meth:`Report.lines`. Bad input ends the pipeline with :class:`InputError`, which carries the report.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum


class Severity(IntEnum):
    INFO = 0
    WARNING = 1
    ERROR = 2


# Characters that would break "one problem = one line" (01 §2) or drive a terminal: control characters (tab
# excepted), Unicode line separators, lone surrogates (unencodable). Printed as Python escapes: a\nb, \x1b, \u2028.
_UNPRINTABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")


def one_line(text: str) -> str:
    """``text`` with every character of :data:`_UNPRINTABLE` escaped (``\\n``, ``\\x1b``, ``\\u2028``)."""
    return _UNPRINTABLE.sub(lambda m: m.group().encode("unicode_escape", "backslashreplace").decode("ascii"), text)


MAX_VALUE = 120  # characters of one quoted value (or one unbroken word) kept in a message
MAX_LINE = 2000  # characters of one whole line, the last guard
REPEATS = 10  # lines of one kind of warning (or note) printed per file before the summary line

_QUOTED = re.compile(r'"[^"]{' + str(MAX_VALUE + 1) + ',}"')
_WORD = re.compile(r'[^\s"]{' + str(MAX_VALUE + 1) + ',}')


def bounded(text: str) -> str:
    """``text`` with every quoted value and every unbroken word longer than :data:`MAX_VALUE` characters cut
    (``"abc…" (10,000,000 characters)``), and the whole cut to :data:`MAX_LINE`: a message stays readable and
    its size independent of the input's."""
    if len(text) <= MAX_VALUE:
        return text
    text = _QUOTED.sub(lambda m: f'"{m.group()[1:MAX_VALUE + 1]}…" ({len(m.group()) - 2:,} characters)', text)
    text = _WORD.sub(lambda m: f"{m.group()[:MAX_VALUE]}…", text)
    return text if len(text) <= MAX_LINE else text[:MAX_LINE] + "…"


_NUMBERS = re.compile(r"\d+")
_QUOTES = re.compile(r'"[^"]*"')


def _kind(message: str) -> str:
    """What makes two messages "of one kind": the same words once quoted values and numbers are set aside."""
    return _NUMBERS.sub("#", _QUOTES.sub('""', message))


_PREFIX = {Severity.INFO: "info: ", Severity.WARNING: "warning: ", Severity.ERROR: ""}

# Sections of stderr in print order (spec 01 §2): preview note, file-located lines, destination lines, proxy lines,
# then errors. A section value is part of each diagnostic's sort key.
_PREVIEW, _FILE, _DESTINATION, _PROXY, _PLAIN = range(5)


@dataclass(frozen=True, slots=True)
class Location:
    """Where a resource came from: the file as named in messages, its position in input order, the 1-based
    document number inside the file (01 §1) and the subject printed after ``FILE:LINE:`` (``KIND NAME`` or
    ``document N``)."""

    file: str
    file_index: int
    document: int
    subject: str


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One line of stderr. ``scope`` decides both the text before the message and the sort order:

    * ``("file", Location, line, path)``: ``FILE:LINE: SUBJECT: PATH: MESSAGE`` (``PATH: `` omitted when None;
      ``:LINE`` omitted when line is None: a stored resource, ``store: KIND NAME: PATH: MESSAGE``)
    * ``("destination", mesh, name)``: ``destination MESH/NAME: MESSAGE``
    * ``("proxy", mesh, proxy, cluster)``: ``proxy MESH/PROXY cluster CLUSTER: MESSAGE``
    * ``("plain",)``: the message alone (``a.yaml: cannot read: …``)
    * ``("preview",)``: the preview-mode note
    """

    severity: Severity
    message: str
    scope: tuple

    def text(self, strict: bool = False) -> str:
        sev = self.effective(strict)
        kind = self.scope[0]
        if kind == "file":
            _, loc, line, path = self.scope
            head = (f"{loc.file}: " if line is None else f"{loc.file}:{line}: ") + (
                f"{bounded(loc.subject)}: " if loc.subject else "") + (f"{bounded(path)}: " if path else "")
        elif kind == "destination":
            head = f"destination {bounded(self.scope[1])}/{bounded(self.scope[2])}: "
        elif kind == "proxy":
            head = f"proxy {bounded(self.scope[1])}/{bounded(self.scope[2])} cluster {bounded(self.scope[3])}: "
        else:
            head = ""
        return one_line(f"{_PREFIX[sev]}{head}{bounded(self.message)}")

    def effective(self, strict: bool) -> Severity:
        """``--strict`` turns every warning into an error; notes stay notes (01 §3, 07 §2)."""
        if strict and self.severity == Severity.WARNING:
            return Severity.ERROR
        return self.severity

    def sort_key(self) -> tuple:
        kind = self.scope[0]
        if kind == "preview":
            return (_PREVIEW,)
        if kind == "file":
            _, loc, line, _path = self.scope
            return (_FILE, loc.file_index, line or 0)
        if kind == "destination":
            return (_DESTINATION, self.scope[1], self.scope[2])
        if kind == "proxy":
            return (_PROXY, self.scope[1], self.scope[2], self.scope[3])
        return (_PLAIN,)


@dataclass(slots=True)
class Report:
    """Collects diagnostics from every stage. Insertion order breaks ties in the sort, so validators add their
    findings in the order of the spec's rule tables."""

    items: list[Diagnostic] = field(default_factory=list)

    def add(self, severity: Severity, message: str, scope: tuple) -> None:
        self.items.append(Diagnostic(severity, message, scope))

    def error(self, loc: Location, line: int, path: str | None, message: str) -> None:
        self.add(Severity.ERROR, message, ("file", loc, line, path))

    def warning(self, loc: Location, line: int, path: str | None, message: str) -> None:
        self.add(Severity.WARNING, message, ("file", loc, line, path))

    def info(self, loc: Location, line: int, path: str | None, message: str) -> None:
        self.add(Severity.INFO, message, ("file", loc, line, path))

    def plain_error(self, message: str) -> None:
        self.add(Severity.ERROR, message, ("plain",))

    def extend(self, other: Iterable[Diagnostic]) -> None:
        self.items.extend(other)

    def has_errors(self, strict: bool = False) -> bool:
        return any(d.effective(strict) == Severity.ERROR for d in self.items)

    def error_count(self, strict: bool = False) -> int:
        return len({d.text(strict) for d in self.items if d.effective(strict) == Severity.ERROR})

    def lines(self, strict: bool = False) -> list[str]:
        """stderr lines in spec order (01 §2): preview note, file-located warnings and notes, destination lines,
        proxy lines, then errors (sorted the same way); identical lines once. No summary line (07 §1).

        Warnings and notes of one kind (:func:`_kind`) located in one file are printed :data:`REPEATS` times;
        the rest are counted in one line after the last printed, ``warning: FILE:LINE: … and 9,990 more like
        this`` (LINE: the first one left out), so output grows with the kinds of problems, not the input's size.
        Errors are all printed: ``found N errors`` counts them."""
        ordered = sorted(self.items, key=Diagnostic.sort_key)
        non_errors = [d for d in ordered if d.effective(strict) != Severity.ERROR]
        errors = [d for d in ordered if d.effective(strict) == Severity.ERROR]
        out: list[str] = []
        seen: set[str] = set()
        printed: dict[tuple, int] = {}  # (severity, file, kind) → lines printed
        left_out: dict[tuple, list] = {}  # same key → [index in out of the summary, first left out, count]
        for d in non_errors:
            key = None
            if d.scope[0] == "file":
                key = (d.effective(strict), d.scope[1].file, _kind(d.message))
                if printed.get(key, 0) >= REPEATS:
                    t = d.text(strict)
                    if t not in seen:
                        seen.add(t)
                        entry = left_out.get(key)
                        if entry is None:
                            left_out[key] = [len(out), d, 1]
                            out.append("")  # filled below
                        else:
                            entry[2] += 1
                    continue
            t = d.text(strict)
            if t not in seen:
                seen.add(t)
                out.append(t)
                if key is not None:
                    printed[key] = printed.get(key, 0) + 1
        for at, first, count in left_out.values():
            sev, (_, loc, line, _path) = first.effective(strict), first.scope
            out[at] = f"{_PREFIX[sev]}{one_line(loc.file)}:{line}: … and {count:,} more like this"
        for d in errors:
            t = d.text(strict)
            if t not in seen:
                seen.add(t)
                out.append(t)
        return out


def summary(count: int) -> str:
    """``found 1 error`` / ``found N errors`` (07 §1)."""
    return "found 1 error" if count == 1 else f"found {count} errors"


class InputError(Exception):
    """Bad input: raised by the pipeline facade when the report holds errors (after ``--strict`` is applied).
    Carries the whole report so the caller can print every line, warnings included."""

    def __init__(self, report: Report, strict: bool = False):
        self.report = report
        self.strict = strict
        super().__init__(summary(report.error_count(strict)))


class FatalInputError(Exception):
    """Input problems that end a command with one line ``error: <message>`` and no summary (07 §1), such as
    ``no input files found``."""

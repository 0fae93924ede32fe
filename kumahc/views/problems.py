"""``kumahc validate -o json``: the problems of a pipeline run and its summary as one JSON document for tools.

The problems are the lines ``validate`` prints on stderr (:meth:`kumahc.diagnostics.Report.lines`), in the same
order and each once, but never collapsed into ``… and N more like this``: a tool gets every problem, each split
into the parts the text line is made of.
"""

from __future__ import annotations

import json
from typing import Any

from kumahc.diagnostics import Diagnostic, Report, Severity, bounded, summary

SEVERITY = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "info"}


def problem(d: Diagnostic, strict: bool) -> dict[str, Any]:
    """One diagnostic → ``{"severity", "file", "line", "document", "subject", "path", "message", "text"}``.

    ``severity``: ``error``, ``warning`` or ``info`` after ``--strict`` (a warning counts as an error). ``file``
    (as named in messages; ``store`` for a stored resource), ``line`` and ``document`` (1-based, counted after
    List expansion) are null for a problem not located in an input. ``subject``: ``KIND NAME`` or ``document N``
    in a file, ``destination MESH/NAME``, ``proxy MESH/NAME cluster C``, or null. ``path``: the field path
    (``spec.to[0].default.interval``) or null. ``text``: the whole line as ``validate`` prints it."""
    out: dict[str, Any] = {"severity": SEVERITY[d.effective(strict)], "file": None, "line": None,
                           "document": None, "subject": None, "path": None, "message": bounded(d.message),
                           "text": d.text(strict)}
    kind = d.scope[0]
    if kind == "file":
        _, loc, line, path = d.scope
        out.update(file=loc.file, line=line, document=loc.document, subject=bounded(loc.subject) or None,
                   path=bounded(path) if path else None)
    elif kind == "destination":
        out["subject"] = f"destination {bounded(d.scope[1])}/{bounded(d.scope[2])}"
    elif kind == "proxy":
        out["subject"] = f"proxy {bounded(d.scope[1])}/{bounded(d.scope[2])} cluster {bounded(d.scope[3])}"
    return out


def problems(report: Report, strict: bool) -> list[dict[str, Any]]:
    """Every distinct problem of ``report`` (:func:`problem`) in stderr's order: notes and warnings first (sorted
    as :meth:`~kumahc.diagnostics.Report.lines` sorts them), then errors."""
    ordered = sorted(report.items, key=Diagnostic.sort_key)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for errors in (False, True):
        for d in ordered:
            if (d.effective(strict) == Severity.ERROR) != errors:
                continue
            found = problem(d, strict)
            if found["text"] not in seen:
                seen.add(found["text"])
                out.append(found)
    return out


def fatal(message: str) -> dict[str, Any]:
    """A problem that ends reading at once (``no input files found``): an error located nowhere."""
    return {"severity": "error", "file": None, "line": None, "document": None, "subject": None, "path": None,
            "message": message, "text": message}


def as_json(found: list[dict[str, Any]], resources: int | None = None, files: int | None = None,
            ok_text: str | None = None) -> str:
    """``{"problems": [...], "summary": {"valid", "errors", "warnings", "notes", "resources", "files", "text"}}``,
    2-space indented, newline-terminated. ``valid``: no problem is an error; ``resources`` and ``files`` are the
    counts of ``ok: N resources in M files`` (null when invalid; ``files`` null for the store); ``text`` is the
    summary line of the text output (``ok_text`` when valid, else ``found N errors``)."""
    count = {s: sum(1 for p in found if p["severity"] == s) for s in SEVERITY.values()}
    valid = count["error"] == 0
    doc = {"problems": found,
           "summary": {"valid": valid, "errors": count["error"], "warnings": count["warning"], "notes": count["info"],
                       "resources": resources if valid else None, "files": files if valid else None,
                       "text": ok_text if valid else summary(count["error"])}}
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"

"""Which documents of a re-read file are, text and lines, the ones read before: a file cut at its document
markers, one fingerprint per document, so that ``serve`` keeps the resources of the documents an edit did not
touch (:class:`kumahc.resources.loader.FileCache`).

A line that starts with ``---`` or ``...`` (then a blank or the line's end) always starts a document or ends one:
YAML forbids such a line inside any scalar (the spec's ``c-forbidden``), so the cut needs no parse. The cut gives
one chunk per document only when no document expands into several (a root sequence or a ``v1`` ``List``) and none
is empty: :func:`fingerprints` says None for any text where that is not sure, and the caller then keeps nothing.
"""

from __future__ import annotations

import hashlib
import re

_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t\r\n]|$)", re.M)
_CONTENT = re.compile(r"^[ \t]*([^ \t\r\n#])", re.M)

Fingerprint = tuple[int, bytes]
"""A document's first line (1-based, in the file) and a digest of its text: equal fingerprints, equal document
with every line where it was."""


def fingerprints(text: str) -> tuple[Fingerprint, ...] | None:
    """One :data:`Fingerprint` per document of ``text``, in order, or None when documents and chunks may not
    pair one to one: the text names ``List`` anywhere, holds a directive (``%``), or a document's content starts
    with a sequence, a tag, an anchor or an alias."""
    if "List" in text or "%" in text or text.count("\r") != text.count("\r\n"):
        return None  # (a lone CR breaks a line for YAML, not for the marker search)
    starts = [0, *(m.start() for m in _MARKER.finditer(text))]
    out: list[Fingerprint] = []
    line = 1
    for begin, end in zip(starts, [*starts[1:], len(text)], strict=True):
        chunk = text[begin:end]
        body = chunk[3:] if chunk.startswith(("---", "...")) else chunk
        first = _CONTENT.search(body)
        if first is not None:
            if first.group(1) in "-[!&*?|>":
                return None
            out.append((line, hashlib.blake2b(chunk.encode("utf-8", "surrogatepass"), digest_size=16).digest()))
        line += chunk.count("\n")
    return tuple(out)

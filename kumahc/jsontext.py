"""JSON text exactly as ``json.dumps(value, indent=2, ensure_ascii=False)`` writes it (spec 05 §2, 06 §4), fast.

The standard library only uses its C encoder without ``indent``; with it, encoding a mesh's clusters dominates
``serve`` start-up. ``orjson`` writes the same bytes for str keys and str/int/bool/None leaves, dicts and lists; it
writes some floats differently (``1e-05`` → ``0.00001``, ``1e+16`` → ``1e16``) and NaN/Infinity as ``null``. So
every float token outside strings is compared with Python's ``repr`` and any ``null`` sends the value through the
standard library instead (kumahc's documents have no nulls and few floats: the check is one regex pass).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')  # a JSON string token, escapes included
_FLOAT = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_SUSPECT = re.compile(rb"[0-9][.eE]|null")


def dumps_indent2(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, byte for byte."""
    try:
        data = orjson.dumps(value, option=orjson.OPT_INDENT_2)
    except TypeError:  # e.g. an int beyond 64 bits: the standard library knows what to do
        return json.dumps(value, indent=2, ensure_ascii=False)
    if not _exact(value) and _SUSPECT.search(data) and not _same_numbers(_STRING.sub(b'""', data)):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return data.decode("utf-8")


def _exact(value: Any) -> bool:
    """No float and no None anywhere in ``value``: orjson's bytes are then the standard library's, and the text
    need not be scanned (an IP address looks like a float to the scan)."""
    t = type(value)
    if t is dict:
        return all(_exact(v) for v in value.values())
    if t is list:
        return all(_exact(v) for v in value)
    return t is str or t is int or t is bool


def _same_numbers(outside_strings: bytes) -> bool:
    """No ``null``, and every float token written as Python writes it."""
    if b"null" in outside_strings:
        return False
    for m in _FLOAT.finditer(outside_strings):
        token = m.group()
        if (b"." in token or b"e" in token or b"E" in token) and repr(float(token)).encode() != token:
            return False
    return True


def shift(text: str) -> str:
    """``text`` as it appears as an element of an indented list: every line two spaces further in."""
    return "  " + text.replace("\n", "\n  ")


def list_text(shifted: list[str]) -> str:
    """``json.dumps(items, indent=2, ensure_ascii=False)`` from the items' :func:`shift`-ed texts."""
    return "[\n" + ",\n".join(shifted) + "\n]" if shifted else "[]"

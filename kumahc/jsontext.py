"""JSON text exactly as ``json.dumps(value, indent=2, ensure_ascii=False)`` writes it (spec 05 §2, 06 §4), fast.

The standard library only uses its C encoder without ``indent``; with it, encoding a mesh's clusters dominates
``serve`` start-up. ``orjson`` writes the same bytes for the values kumahc emits (str keys, str/int/float/bool/
None leaves, dicts and lists) except for floats in exponent form (``1e-07`` vs ``1e-7``), so any output with a
digit followed by ``e``/``E`` is re-encoded by the standard library: a false alarm (such a string) only costs time.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

_EXPONENT = re.compile(rb"[0-9][eE]")


def dumps_indent2(value: Any) -> str:
    """``json.dumps(value, indent=2, ensure_ascii=False)``, byte for byte."""
    try:
        data = orjson.dumps(value, option=orjson.OPT_INDENT_2)
    except TypeError:  # e.g. an int beyond 64 bits: the standard library knows what to do
        return json.dumps(value, indent=2, ensure_ascii=False)
    if _EXPONENT.search(data):
        return json.dumps(value, indent=2, ensure_ascii=False)
    return data.decode("utf-8")


def shift(text: str) -> str:
    """``text`` as it appears as an element of an indented list: every line two spaces further in."""
    return "  " + text.replace("\n", "\n  ")


def list_text(shifted: list[str]) -> str:
    """``json.dumps(items, indent=2, ensure_ascii=False)`` from the items' :func:`shift`-ed texts."""
    return "[\n" + ",\n".join(shifted) + "\n]" if shifted else "[]"

"""The native fast path: yaml-rs reads the texts where it cannot differ from the PyYAML path
(:func:`kumahc.resources.yaml.documents.parse`). Its values are taken as they are when a scan of the text
(:mod:`kumahc.resources.yaml.scan`) finds nothing they could differ in; otherwise every value is checked."""

from __future__ import annotations

import re
import sys
from typing import Any, NamedTuple

try:  # the native parser of the fast path
    import yaml_rs
except ImportError:  # pragma: no cover - yaml-rs is a dependency; the fast path only saves time
    yaml_rs = None

from kumahc.resources.yaml.builder import intern
from kumahc.resources.yaml.cutting import document_start
from kumahc.resources.yaml.errors import TooManyDocuments
from kumahc.resources.yaml.loaders import MAX_DEPTH, MAX_INT_DIGITS, Loader
from kumahc.resources.yaml.scan import plain_reading

# yaml-rs parses YAML 1.2 in Rust, about 15 times faster than the PyYAML path. It is used only where it cannot
# differ from it: text without anchors, aliases, tags, merge keys, directives, escapes, tabs, block scalars,
# complex keys or numbers with a leading zero, and without characters PyYAML refuses; then every value is
# checked: a string that YAML 1.1 would have resolved to another type (``yes``, ``on``, ``1:30``, ``1e3``, ``~``),
# any float, a non-string key, a huge integer or a nesting deeper than kumahc's limit sends the file to the PyYAML
# path, as does any error (duplicate keys included). Everything else gives the same values (a differential
# property test checks it); lines are found by the PyYAML path when a message needs one. The check is skipped for a
# text whose scan shows none of the constructs it looks for (the values are then the same without it).

# Each starts with a character (class), so the regex engine skips to candidates: a leading zero is a "0" preceded
# by none of [\w.:/-], or by a "-" that is preceded by none of them.
_NOT_NATIVE = (re.compile(r"[&*!%<>|?@`\t\\]"),
               re.compile(r"0(?:(?<![\w.:/-]0)|(?<=-0)(?<![\w.:/-]-0))[0-9a-zA-Z_]"))
# yaml-rs ignores "_" in numbers, also first ("_1" is 1, "+_1" is 1); YAML 1.1 reads those as strings. An int
# cannot be told from a value: such a text takes the PyYAML path. (A plain text scan, scan.plain_reading, flags
# every number with "_", so this is searched only in texts it flags.)
_UNDERSCORE_FIRST = re.compile(r"_(?:(?<![^ \n\[,]_)|(?<=[-+]_)(?<![^ \n\[,][-+]_))[0-9_]*[0-9]")
_NON_PRINTABLE = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010ffff]")
_RESOLVERS = Loader.yaml_implicit_resolvers


class _Fallback(Exception):
    """The native result might differ from PyYAML's: parse with the PyYAML path."""


class Read(NamedTuple):
    """What the native parser gave: the documents' values, and whether the text scan let them through unchecked
    (then they hold only strings, booleans, integers within 64 bits, mappings without nulls and lists, whose items
    may be null)."""

    values: list[Any]
    plain: bool


def native(text: str, max_documents: int | None = None) -> list[Any] | None:
    """The non-null documents of ``text`` (expanded as ``documents.parse`` expands them) read by the native parser,
    or None when the file must take the PyYAML path (see the comment above). Raises :class:`TooManyDocuments` (its
    ``documents`` the values of those before) past ``max_documents`` YAML documents."""
    read = read_native(text, max_documents)
    return None if read is None else read.values


def read_native(text: str, max_documents: int | None = None) -> Read | None:
    """:func:`native`, saying whether the values were checked (:class:`Read`)."""
    if yaml_rs is None or any(p.search(text) for p in _NOT_NATIVE) or _NON_PRINTABLE.search(text):
        return None
    try:
        loaded = yaml_rs.loads(text, parse_datetime=False)
    except Exception:  # noqa: BLE001 - any problem is worded by the PyYAML path
        return None
    # One document comes back as its value, several as a list of them: a list whose items are lists cannot be
    # told apart, so it goes the other way.
    several = isinstance(loaded, list)
    roots = loaded if several else [loaded]
    if several and any(isinstance(r, list) or _is_list_kind(r) for r in roots):
        return None
    overflow = None
    if max_documents is not None and len(roots) > max_documents:
        overflow = document_start(text, max_documents + 1)
        if overflow is None:  # one root sequence, not many documents: the PyYAML path places the line
            return None
        roots = roots[:max_documents]
    del loaded
    plain = plain_reading(text)
    if not plain and _UNDERSCORE_FIRST.search(text):
        return None
    if plain:
        values = roots
    else:
        values = []
        try:
            for i, root in enumerate(roots):
                roots[i] = None  # the parser's value is dropped as its checked copy is made: the peak holds one copy
                values.append(_checked(root, 0))
        except _Fallback:
            return None
    if overflow is not None:
        kept = [v for v in values if v is not None]
        if any(isinstance(v, list) or _is_list_kind(v) for v in kept):
            return None  # expanded documents: the PyYAML path counts them
        raise TooManyDocuments(overflow, kept)
    out: list[Any] = []
    for value in values:
        if value is None:
            continue
        if isinstance(value, list):
            out.extend(v for v in value if v is not None)
        elif _is_list_kind(value):
            out.extend(v for v in value["items"] if v is not None)
        else:
            out.append(value)
    if max_documents is not None and len(out) > max_documents:
        return None
    return Read(out, plain)


def _checked(value: Any, depth: int) -> Any:
    """``value`` as the PyYAML path builds it (nulls in mappings dropped, short strings interned), or
    :class:`_Fallback`."""
    if depth > MAX_DEPTH:
        raise _Fallback
    t = type(value)
    if t is str:
        _plain_string(value)
        return intern(value)
    if t is dict:
        out = {}
        for k, v in value.items():
            if type(k) is not str:
                raise _Fallback
            _plain_string(k)
            v = _checked(v, depth + 1)
            if v is not None:
                out[sys.intern(k)] = v
        return out
    if t is list:
        return [_checked(v, depth + 1) for v in value]
    if t is bool or value is None:
        return value
    if t is int and abs(value) < 10**MAX_INT_DIGITS:
        return value
    raise _Fallback  # floats, dates, huge integers


_YAML11_ONLY_BOOLEANS = frozenset("yes Yes YES no No NO on On ON off Off OFF".split())


def _plain_string(text: str) -> None:
    """Raise :class:`_Fallback` when the native parser may have read as a string what YAML 1.1 reads as another
    type. Only possible where YAML 1.2 (the native parser) has no such type for the plain text: the 1.1-only
    booleans, sexagesimal numbers, ``_`` in numbers and ``=``. Any other string a 1.1 resolver matches would have
    been typed by the native parser too, so it was quoted, and is a string for both."""
    for _tag, regexp in _RESOLVERS.get(text[:1], ()):
        if regexp.match(text) and (text in _YAML11_ONLY_BOOLEANS or "_" in text or ":" in text or text == "="):
            raise _Fallback


def _is_list_kind(value: Any) -> bool:
    return (isinstance(value, dict) and value.get("apiVersion") == "v1" and value.get("kind") == "List"
            and isinstance(value.get("items"), list))

"""Kuma tag rules shared by Dataplane inbounds, MeshService selectors and MeshSubset targetRefs (spec 01 §5.1),
and the selector rules of legacy ``match`` maps (spec 03 §2)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from kumahc.memo import run_memo

SERVICE = "kuma.io/service"
PROTOCOL = "kuma.io/protocol"

_TAG_NAME = re.compile(r"^[a-zA-Z0-9.\-_:/]+$")
_TAG_VALUE = re.compile(r"^[a-zA-Z0-9.\-_:]*$")

NAME_MESSAGE = "tag name must consist of alphanumeric characters, dots, dashes, slashes and underscores"
VALUE_MESSAGE = "tag value must consist of alphanumeric characters, dots, dashes and underscores"
EMPTY_VALUE = "tag value must be non-empty"
MISSING_SERVICE = f'mandatory tag "{SERVICE}" is missing'


def tag_problems(tags: Mapping[str, str], require_service: bool) -> list[tuple[str | None, str]]:
    """Problems of a Dataplane-style tag map as ``(key or None for the map itself, message)``: the mandatory
    ``kuma.io/service`` first when required, then per key in sorted order (01 §5.1)."""
    out: list[tuple[str | None, str]] = []
    if require_service and SERVICE not in tags:
        out.append((None, MISSING_SERVICE))
    bad = [key for key, value in tags.items() if _pair_problems(key, value)]
    for key in sorted(bad):
        out.extend((key, message) for message in _pair_problems(key, tags[key]))
    return out


@run_memo  # kept while the inputs use it (kumahc.memo)
def _pair_problems(key: str, value: str) -> tuple[str, ...]:
    # A mesh repeats the same few tag pairs on thousands of inbounds and outbounds: check each pair once.
    out = []
    if not _TAG_NAME.match(key):
        out.append(NAME_MESSAGE)
    if value == "":
        out.append(EMPTY_VALUE)
    elif not _TAG_VALUE.match(value):
        out.append(VALUE_MESSAGE)
    return tuple(out)


def selector_matches(selector: Mapping[str, str], tags: Mapping[str, str]) -> bool:
    """Every selector key present in ``tags`` with an equal value; ``*`` matches any value (02 §4, 03 §3)."""
    for key, want in selector.items():
        have = tags.get(key)
        if have is None or (want != "*" and want != have):
            return False
    return True


_SELECTOR_NAME = re.compile(r"^[a-zA-Z0-9.\-_:/]*$")
_SELECTOR_VALUE = re.compile(r"^([a-zA-Z0-9.\-_:/]*|\*)$")


def selector_problems(match: Mapping[str, str]) -> list[tuple[str | None, str]]:
    """Problems of a legacy selector ``match`` map (03 §2 ``sources[i].match`` rules, also MeshServiceSubset and
    MeshGateway tags), per key in sorted order, as ``(key or None for the map itself, message)``. The mandatory
    ``kuma.io/service`` rule is the caller's."""
    out: list[tuple[str | None, str]] = []
    for key in sorted(match):
        value = match[key]
        if key == "":
            out.append((None, "tag name must be non-empty"))
        elif not _SELECTOR_NAME.match(key):
            out.append((key, NAME_MESSAGE))
        if value == "":
            out.append((key, EMPTY_VALUE))
        elif not _SELECTOR_VALUE.match(value):
            out.append((key, 'tag value must consist of alphanumeric characters, dots, dashes, slashes and '
                             'underscores or be "*"'))
    return out

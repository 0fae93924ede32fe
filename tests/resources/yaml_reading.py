"""Comparing kumahc's readings of a YAML text, for the differential tests of the fast paths."""

from __future__ import annotations

from kumahc.resources.yaml import documents as yamldoc


def careful(text: str) -> tuple[str, object]:
    """("ok", every document's value) as the careful path (PyYAML, kumahc's YAML 1.1 rules) reads ``text``, or
    ("error", the line of its syntax error)."""
    try:
        return "ok", [d.value for d in yamldoc.parse(text, marks=True)]
    except yamldoc.YamlSyntaxError as exc:
        return "error", exc.line


def typed(value: object) -> object:
    """The value with every scalar's type made visible (1, True and 1.0 compare equal in Python)."""
    if isinstance(value, dict):
        return [(k, typed(v)) for k, v in value.items()]
    if isinstance(value, list):
        return [typed(v) for v in value]
    return (type(value).__name__, value)

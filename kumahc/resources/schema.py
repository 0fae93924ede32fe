"""Structural checks (spec 01 §4) with the JSON Schemas of ``schemas/`` and kumahc's own messages.

jsonschema finds the problems; this module words them: ``must be defined``, ``unknown field``,
``must be a string``, duration and name formats, 32-bit integers. A schema node may carry ``x-messages``
(validator keyword → message) to word its own problems (e.g. ``must be an integer or a string``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, validators

from kumahc.durations import DurationError, parse_duration


def _schema_dir() -> Path:
    # Wheel: shipped as kumahc/schemas; source tree / editable install: the top-level schemas/ folder.
    here = Path(__file__).resolve().parent.parent
    packaged = here / "schemas"
    return packaged if packaged.is_dir() else here.parent / "schemas"


class FormatProblem(ValueError):
    """Raised by the format checkers below; its text is the message printed."""


_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")

_formats = FormatChecker(formats=())


@_formats.checks("duration", raises=FormatProblem)
def _duration(value: Any) -> bool:
    try:
        parse_duration(value)
    except DurationError as exc:
        raise FormatProblem(str(exc)) from None
    return True


@_formats.checks("k8s-name", raises=FormatProblem)
def _k8s_name(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 253 or not _SUBDOMAIN.match(value):
        raise FormatProblem("must be a lowercase RFC 1123 subdomain")
    return True


@_formats.checks("k8s-namespace", raises=FormatProblem)
def _k8s_namespace(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 63 or not _LABEL.match(value):
        raise FormatProblem("must be a lowercase RFC 1123 label")
    return True


@_formats.checks("rfc3339", raises=FormatProblem)
def _rfc3339(value: Any) -> bool:
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise FormatProblem("must be an RFC 3339 timestamp")
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise FormatProblem("must be an RFC 3339 timestamp") from None
    return True


def _is_integer(_checker: Any, instance: Any) -> bool:
    # YAML integers only: 3.0 and true are not integers (01 §4).
    return isinstance(instance, int) and not isinstance(instance, bool)


_Validator = validators.extend(
    Draft202012Validator,
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)

_TYPE_WORDS = {"string": "must be a string", "integer": "must be an integer", "boolean": "must be a boolean",
               "array": "must be a list", "object": "must be a mapping", "number": "must be a number"}

SCHEMA_FILES = {
    "Dataplane": "dataplane.schema.json", "HealthCheck": "healthcheck.schema.json",
    "KongUpstreamPolicy": "kongupstreampolicy.schema.json", "Mesh": "mesh.schema.json",
    "MeshHealthCheck": "meshhealthcheck.schema.json", "MeshService": "meshservice.schema.json",
    "Service": "service.schema.json", "MeshCircuitBreaker": "meshcircuitbreaker.schema.json",
    "CircuitBreaker": "circuitbreaker.schema.json",
}


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with every local ``{"$ref": "#/$defs/x"}`` replaced by (an inlined copy of) ``x``: jsonschema
    resolves a ``$ref`` on every visit, which is a third of the time spent on a Dataplane."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and len(node) == 1:
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


@cache
def _validator(kind: str, fmt: str) -> Any:
    """The validator of one format of ``kind``: the schema's ``$defs/universal`` or ``$defs/kubernetes`` branch
    (the top-level ``if`` picks the same one), local references inlined."""
    schema = json.loads((_schema_dir() / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
    _Validator.check_schema(schema)
    branch = _inline(schema["$defs"][fmt], schema["$defs"])
    branch["$schema"] = schema["$schema"]
    return _Validator(branch, format_checker=_formats)


def structural_problems(kind: str, document: dict, fmt: str) -> list[tuple[tuple, str]]:
    """Every structural problem of ``document`` (a mapping of kind ``kind`` in format ``fmt``: ``universal`` or
    ``kubernetes``) as ``(field path, message)``; the field path is a tuple of keys and list indexes from the
    document root. Empty list = structurally valid."""
    out: list[tuple[tuple, str]] = []
    for err in _validator(kind, fmt).iter_errors(document):
        out.extend(_word(err))
    return out


def _word(err: Any) -> list[tuple[tuple, str]]:
    path = tuple(err.absolute_path)
    keyword = err.validator
    custom = err.schema.get("x-messages", {}) if isinstance(err.schema, dict) else {}
    if keyword == "required":
        return [((*path, k), "must be defined") for k in err.validator_value if k not in err.instance]
    if keyword == "additionalProperties":
        known = set(err.schema.get("properties", {}))
        return [((*path, k), "unknown field") for k in err.instance if k not in known]
    if keyword in custom:
        return [(path, custom[keyword])]
    if keyword == "type":
        expected = err.validator_value
        return [(path, _TYPE_WORDS.get(expected, f"must be of type {expected}"))]
    if keyword == "format":
        cause = err.cause
        return [(path, str(cause) if isinstance(cause, FormatProblem) else f"must be a {err.validator_value}")]
    return [(path, err.message)]

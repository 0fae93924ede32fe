"""Structural checks (spec 01 §4) with the JSON Schemas of ``schemas/`` and kumahc's own messages.

jsonschema finds the problems; this module words them: ``must be defined``, ``unknown field``,
``must be a string``, duration and name formats, 32-bit integers. A schema node may carry ``x-messages``
(validator keyword → message) to word its own problems (e.g. ``must be an integer or a string``).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

from kumahc.durations import DurationError, parse_duration

try:  # the compiled validator: the gate for documents without problems
    import jsonschema_rs
except ImportError:  # pragma: no cover - jsonschema-rs is a dependency; the gate only saves time
    jsonschema_rs = None


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

def _duration(value: Any) -> bool:
    try:
        parse_duration(value)
    except DurationError as exc:
        raise FormatProblem(str(exc)) from None
    return True


def _k8s_name(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 253 or not _SUBDOMAIN.match(value):
        raise FormatProblem("must be a lowercase RFC 1123 subdomain")
    return True


def _k8s_namespace(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 63 or not _LABEL.match(value):
        raise FormatProblem("must be a lowercase RFC 1123 label")
    return True


def _rfc3339(value: Any) -> bool:
    if not isinstance(value, str) or not _RFC3339.match(value):
        raise FormatProblem("must be an RFC 3339 timestamp")
    try:
        datetime.fromisoformat(value.replace("z", "Z").replace("t", "T"))
    except ValueError:
        raise FormatProblem("must be an RFC 3339 timestamp") from None
    return True


# kumahc's formats (the schemas' "format" keyword): each returns True or raises FormatProblem with the message.
_FORMATS: dict[str, Callable[[Any], bool]] = {
    "duration": _duration, "k8s-name": _k8s_name, "k8s-namespace": _k8s_namespace, "rfc3339": _rfc3339,
}


def _is_integer(_checker: Any, instance: Any) -> bool:
    # YAML integers only: 3.0 and true are not integers (01 §4).
    return isinstance(instance, int) and not isinstance(instance, bool)


@cache
def _jsonschema() -> tuple[Any, Any]:
    """(validator class, format checker) of the worded path. jsonschema is imported here, on the first document
    the compiled gate rejects: a run whose documents are all valid never pays for its import."""
    from jsonschema import Draft202012Validator, FormatChecker, validators

    formats = FormatChecker(formats=())
    for name, func in _FORMATS.items():
        formats.checks(name, raises=FormatProblem)(func)
    validator = validators.extend(
        Draft202012Validator,
        type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
    )
    return validator, formats


def check_schemas() -> list[str]:
    """Check every schema of ``schemas/`` against the JSON Schema metaschema; the message of each schema that is
    not valid (``file: problem``), an empty list when all are. The runtime trusts the shipped schemas: the tests
    call this, the run does not."""
    from jsonschema.exceptions import SchemaError

    validator, _ = _jsonschema()
    problems = []
    for file in sorted(set(SCHEMA_FILES.values())):
        try:
            validator.check_schema(json.loads((_schema_dir() / file).read_text(encoding="utf-8")))
        except SchemaError as exc:
            problems.append(f"{file}: {exc.message}")
    return problems

_TYPE_WORDS = {"string": "must be a string", "integer": "must be an integer", "boolean": "must be a boolean",
               "array": "must be a list", "object": "must be a mapping", "number": "must be a number"}

SCHEMA_FILES = {
    "Dataplane": "dataplane.schema.json", "HealthCheck": "healthcheck.schema.json",
    "KongUpstreamPolicy": "kongupstreampolicy.schema.json", "Mesh": "mesh.schema.json",
    "MeshHealthCheck": "meshhealthcheck.schema.json", "MeshService": "meshservice.schema.json",
    "Service": "service.schema.json", "MeshCircuitBreaker": "meshcircuitbreaker.schema.json",
    "CircuitBreaker": "circuitbreaker.schema.json", "MeshGateway": "meshgateway.schema.json",
    "MeshHTTPRoute": "meshhttproute.schema.json", "MeshTCPRoute": "meshtcproute.schema.json",
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


def _branch(kind: str, fmt: str) -> dict[str, Any]:
    """The schema's ``$defs/universal`` or ``$defs/kubernetes`` branch of ``kind`` (the top-level ``if`` picks the
    same one), local references inlined."""
    # Checked against the metaschema by the tests (check_schemas), not on every run.
    schema = json.loads((_schema_dir() / SCHEMA_FILES[kind]).read_text(encoding="utf-8"))
    branch = _inline(schema["$defs"][fmt], schema["$defs"])
    branch["$schema"] = schema["$schema"]
    return branch


@cache  # one entry per (kind, format): 14 at most
def _validator(kind: str, fmt: str) -> Any:
    """The jsonschema validator of one format of ``kind`` (:func:`_branch`)."""
    validator, formats = _jsonschema()
    return validator(_branch(kind, fmt), format_checker=formats)


def _strings_only(node: Any) -> Any:
    """``node`` where every ``format`` without a ``type`` also requires a string: the compiled validator applies
    formats to strings only, while kumahc's checkers reject every other value."""
    if isinstance(node, dict):
        out = {k: _strings_only(v) for k, v in node.items()}
        if "format" in out and "type" not in out:
            out["type"] = "string"
        return out
    if isinstance(node, list):
        return [_strings_only(v) for v in node]
    return node


def _as_predicate(check: Any) -> Any:
    def predicate(value: str) -> bool:
        try:
            return bool(check(value))
        except FormatProblem:
            return False

    return predicate


@cache  # one entry per (kind, format): 14 at most
def _gate(kind: str, fmt: str) -> Any:
    """The compiled (jsonschema-rs) validator of one format of ``kind``, with kumahc's format checkers; None when
    jsonschema-rs is not installed."""
    if jsonschema_rs is None:
        return None
    formats = {name: _as_predicate(func) for name, func in _FORMATS.items()}
    return jsonschema_rs.Draft202012Validator(_strings_only(_branch(kind, fmt)), formats=formats,
                                             validate_formats=True)


_I64 = 1 << 63


def _plain(value: Any) -> bool:
    """Only strings, booleans, nulls, 64-bit integers, finite non-integral floats, mappings and lists: the values
    both validators read alike. An integral float (``3.0`` is an integer to JSON Schema but not to kumahc), NaN,
    an infinity or a larger integer takes the slow path."""
    t = type(value)
    if t is str or t is bool or value is None:
        return True
    if t is float:
        return math.isfinite(value) and not value.is_integer()
    if t is dict:
        return all(_plain(v) for v in value.values())
    if t is list:
        return all(_plain(v) for v in value)
    return t is int and -_I64 <= value < _I64


def structural_problems(kind: str, document: dict, fmt: str, plain: bool = False) -> list[tuple[tuple, str]]:
    """Every structural problem of ``document`` (a mapping of kind ``kind`` in format ``fmt``: ``universal`` or
    ``kubernetes``) as ``(field path, message)``; the field path is a tuple of keys and list indexes from the
    document root. Empty list = structurally valid. ``plain``: the caller knows the document holds only
    :func:`_plain` values (the native reader's unchecked documents, :class:`~kumahc.resources.yaml.marks
    .RawDocument`), so they are not walked again.

    The compiled validator is the gate: a document it accepts (and that holds only :func:`_plain` values) has no
    problem; only a rejected one goes through jsonschema for the messages. It never accepts what jsonschema
    rejects (a differential property test checks this)."""
    gate = _gate(kind, fmt)
    if gate is not None and (plain or _plain(document)) and gate.is_valid(document):
        return []
    return worded_problems(kind, document, fmt)


def worded_problems(kind: str, document: dict, fmt: str) -> list[tuple[tuple, str]]:
    """:func:`structural_problems` without the gate: jsonschema's findings in kumahc's words."""
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

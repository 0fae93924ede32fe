"""The compiled JSON-Schema gate (jsonschema-rs) against kumahc's worded jsonschema path: a differential property
test. The gate may only say "no problem" where the worded path finds none; where it rejects, the worded path
gives today's messages (the other tests check their words)."""

from __future__ import annotations

import copy
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from kumahc.resources import schema
from kumahc.resources.loader import _recognise
from kumahc.resources.yamldoc import parse

REPO = Path(__file__).resolve().parent.parent


def _seeds() -> list[tuple[str, str, dict]]:
    out = []
    for path in sorted((REPO / "examples").rglob("*.yaml")):
        for doc in parse(path.read_text(encoding="utf-8")):
            if isinstance(doc.value, dict):
                fmt, kind = _recognise(doc.value)
                if fmt is not None:
                    out.append((kind, fmt, doc.value))
    return out


SEEDS = _seeds()
VALUES = st.one_of(
    st.sampled_from([3.0, 1.5, -0.0, True, False, 0, -1, 1, 2**31, -(2**31) - 1, 2**63, 2**70, "", "10s", "0s",
                     "-5s", "1m30s", "5", "abc", "Abc", "a" * 300, "2024-01-01T00:00:00Z", "2024-01-01",
                     "kuma-system", "Default", "http", "tcp", [], {}, ["a"], {"a": "b"}, {"k": 1}]),
    st.integers(), st.floats(allow_nan=False), st.text(max_size=12),
)


def _paths(value: object, prefix: tuple = ()) -> list[tuple]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.extend(_paths(v, (*prefix, i)))
    return out


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str, dict]:
    kind, fmt, value = draw(st.sampled_from(SEEDS))
    doc = copy.deepcopy(value)
    for _ in range(draw(st.integers(0, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for step in path[:-1]:
            parent = parent[step]
        action = draw(st.sampled_from(["set", "set", "delete", "add"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "name", "type", "unknownField"]))] = draw(VALUES)
        else:
            parent[path[-1]] = draw(VALUES)
    return kind, fmt, doc


@settings(max_examples=600, deadline=None, database=None, derandomize=True,
          suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large))
@given(case=mutated())
def test_gate_accepts_only_what_the_worded_path_accepts(case: tuple[str, str, dict]) -> None:
    kind, fmt, doc = case
    worded = schema.worded_problems(kind, doc, fmt)
    gated = schema.structural_problems(kind, doc, fmt)
    accepted = schema._plain(doc) and schema._gate(kind, fmt).is_valid(doc)
    event(f"gate {'accepts' if accepted else 'rejects'}, worded {'accepts' if not worded else 'rejects'}")
    assert gated == worded
    if accepted:
        assert worded == []


def test_gate_accepts_every_valid_example_and_rejects_integers_written_as_floats() -> None:
    assert SEEDS
    for kind, fmt, doc in SEEDS:
        if not schema.worded_problems(kind, doc, fmt):
            assert schema._plain(doc) and schema._gate(kind, fmt).is_valid(doc), (kind, doc)
    doc = {"type": "MeshHealthCheck", "name": "p",
           "spec": {"targetRef": {"kind": "Mesh"}, "to": [{"targetRef": {"kind": "Mesh"},
                                                           "default": {"unhealthyThreshold": 3.0, "tcp": {}}}]}}
    assert schema._gate("MeshHealthCheck", "universal").is_valid(doc)  # JSON Schema: 3.0 is an integer
    assert schema.structural_problems("MeshHealthCheck", doc, "universal") == [
        (("spec", "to", 0, "default", "unhealthyThreshold"), "must be an integer")]  # kumahc: it is not

"""The wire format between ``apply`` and the store's writer (kumahc/sources/store/requests.py): a resource and a
diagnostic come back equal, with the same line for every field path, and a value JSON cannot carry is refused
(the applier then validates itself)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from kumahc.diagnostics import Location, Report, Severity
from kumahc.resources.fieldpath import format_path
from kumahc.sources import files
from kumahc.sources.store import requests

ROOT = Path(__file__).resolve().parents[2]


def paths(value: object, prefix: tuple = ()) -> list[tuple]:
    """Every field path of ``value`` (mapping keys and list indexes), and a few that are not there."""
    out = [prefix, (*prefix, "absent")]
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        out += paths(v, (*prefix, k))
    return out


@pytest.mark.parametrize("inputs", ["tests/store/data/universal.yaml", "tests/store/data/kubernetes.yaml",
                                    "examples/kong/seed-004-active-passive.yaml"])
def test_resources_come_back_equal_with_every_line(inputs: str) -> None:
    report = Report()
    loaded = files.read([str(ROOT / inputs)], report)
    text = requests.encode_request(loaded.resources, report.items)
    request = requests.decode_request(text)
    back, reading = request.resources, request.reading
    assert (request.op, list(reading)) == ("apply", report.items)
    assert len(back) == len(loaded.resources)
    for a, b in zip(loaded.resources, back, strict=True):
        assert (a.kind, a.format, a.name, a.namespace, a.mesh, a.labels, a.annotations, a.creation_time, a.base,
                a.src.loc, a.identity) == (b.kind, b.format, b.name, b.namespace, b.mesh, b.labels, b.annotations,
                                           b.creation_time, b.base, b.src.loc, b.identity)
        assert a.body == b.body and list(a.body) == list(b.body)  # key order too: bodies are stored as written
        for path in paths(a.body):
            assert a.src.where_of(path) == b.src.where_of(path), format_path(path)
        assert (a.src.doc.number, a.src.doc.problems, a.src.doc.plain) == (
            b.src.doc.number, b.src.doc.problems, b.src.doc.plain)


def test_diagnostics_of_every_scope_come_back_equal() -> None:
    loc = Location("a.yaml", 3, 2, "MeshHealthCheck default/x")
    report = Report()
    report.error(loc, 7, "spec.to[0]", "must be set")
    report.warning(loc, 0, None, "warn")
    report.info(Location("store", -(2**63) + 5, 0, "Dataplane default/web"), None, "spec", "note")
    report.add(Severity.WARNING, "proxy warning", ("proxy", "default", "web", "backend_80"))
    report.add(Severity.WARNING, "destination warning", ("destination", "default", "backend"))
    report.plain_error("b.yaml: cannot read: x")
    report.add(Severity.INFO, "preview", ("preview",))
    back = [requests.diagnostic(requests.diagnostic_form(d)) for d in report.items]
    assert back == report.items
    again = Report()
    again.extend(back)
    assert again.lines() == report.lines()


def test_an_answer_comes_back_equal() -> None:
    loc = Location("a.yaml", 0, 1, "MeshHealthCheck default/x")
    report = Report()
    report.warning(loc, 4, "spec", "w")
    answer = requests.Answer((("MeshHealthCheck", "default/x", "configured"),), tuple(report.items), 7,
                             attempts=2)
    assert requests.decode_answer(requests.encode_answer(answer)) == answer


@pytest.mark.parametrize("value", [float("nan"), float("inf"), datetime.date(2026, 1, 1), {1: "a"}, b"x"])
def test_a_value_json_cannot_carry_is_refused(tmp_path: Path, value: object) -> None:
    path = tmp_path / "p.yaml"
    path.write_text("type: MeshHealthCheck\nname: x\nmesh: default\nspec:\n  targetRef: {kind: Mesh}\n"
                    "  to: [{targetRef: {kind: Mesh}, default: {interval: 5s, tcp: {}}}]\n")
    report = Report()
    res = files.read([str(path)], report).resources[0]
    res.body["spec"]["extra"] = value
    with pytest.raises(requests.Unsendable):
        requests.encode_request([res], [])

"""The compiled JSON-Schema gate (jsonschema-rs) against kumahc's worded jsonschema path: a differential property
test. The gate may only say "no problem" where the worded path finds none; where it rejects, the worded path
gives today's messages (the other tests check their words)."""

from __future__ import annotations

import copy
from pathlib import Path

from helpers import REPO
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from yaml_reading import careful, typed

from kumahc.resources import schema
from kumahc.resources.loader import _recognise
from kumahc.resources.yaml.documents import parse


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


# ---------------------------------------------------------------------------------------------------------------------
# Native YAML (yaml-rs) against the PyYAML path: where the native path answers, the values are identical (types and
# key order included); where it cannot be sure, it declines and the PyYAML path decides (same accept/reject).

from kumahc.resources.yaml import documents as yamldoc  # noqa: E402

SCALARS = st.sampled_from([
    "yes", "Yes", "YES", "no", "on", "On", "off", "OFF", "y", "n", "true", "True", "TRUE", "false", "False", "~",
    "null", "Null", "NULL", "0o17", "017", "0x1f", "0b101", "1_000", "1_000.5", "1:30", "190:20:30.15", "3.0", "3.",
    ".5", "1e3", "1.5e3", "-1", "+5", "0", "-0", ".inf", "-.Inf", ".nan", "2024-01-01", "2024-01-01T10:00:00Z",
    "2001-12-14 21:59:43.10 -5", "=", "10s", "http", "kuma.io/service", "/health?x=1", "a b", "a: b", "#x", "- a",
    "'quoted'", '"dq"', "", " ", "é", "9" * 30, "1" * 5000,
])
STYLES = st.sampled_from(["plain", "single", "double"])


def _scalar(text: str, style: str) -> str:
    if style == "single":
        return "'" + text.replace("'", "''") + "'"
    if style == "double":
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


@st.composite
def yaml_texts(draw: st.DrawFn) -> str:
    """Small multi-document YAML texts: block and flow mappings and sequences, every style of scalar, merge keys,
    duplicate keys, anchors, List kinds, empty documents."""
    docs = []
    for _ in range(draw(st.integers(1, 3))):
        lines = []
        shape = draw(st.sampled_from(["map", "map", "seq", "list-kind", "empty", "flow"]))
        keys = draw(st.lists(st.sampled_from(["a", "b", "name", "yes", "on", "1", "<<", "spec", "x_y"]),
                             min_size=1, max_size=4))
        if shape == "empty":
            docs.append("")
            continue
        if shape == "flow":
            items = ", ".join(f"{k}: {_scalar(draw(SCALARS), draw(STYLES))}" for k in keys)
            docs.append("{" + items + "}\n")
            continue
        if shape == "list-kind":
            lines += ["apiVersion: v1", "kind: List", "items:"]
        for k in keys:
            v = draw(SCALARS)
            style = draw(STYLES)
            prefix = "- " if shape == "seq" else ("  - " if shape == "list-kind" else "")
            if k == "<<":
                lines.append(f"{prefix}<<: {{m: {_scalar(v, style)}}}")
            elif draw(st.booleans()):
                lines.append(f"{prefix}{k}: {_scalar(v, style)}")
            else:
                lines.append(f"{prefix}{k}:")
                lines.append(f"{'    ' if prefix else '  '}- {_scalar(v, style)}")
        if draw(st.integers(0, 9)) == 0:
            lines.append("b: &anchor 1")
            lines.append("c: *anchor")
        docs.append("\n".join(lines) + "\n")
    return "---\n".join(docs)


@settings(max_examples=1500, deadline=None, database=None, derandomize=True,
          suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large))
@given(text=yaml_texts())
def test_native_yaml_gives_the_same_values_or_declines(text: str) -> None:
    fast = yamldoc.native(text)
    slow = careful(text)
    event("native" if fast is not None else "declined")
    if fast is not None:
        assert slow[0] == "ok", text  # never accepts what the PyYAML path rejects
        assert typed(fast) == typed(slow[1]), text
        # the lines of natively read documents (libyaml's composer) are the PyYAML path's
        assert yamldoc._composed_marks(text) == [d.mark for d in yamldoc.parse(text, marks=True)], text
    # parse() (what the loader calls) gives the PyYAML path's values and decision whichever path it takes
    try:
        got = ("ok", [d.value for d in yamldoc.parse(text)])
    except yamldoc.YamlSyntaxError as exc:
        got = ("error", exc.line)
    assert typed(got) == typed(slow)


def test_native_yaml_declines_yaml_1_1_scalars_and_takes_ordinary_files() -> None:
    for text in ["a: yes\n", "a: on\n", "a: 0o17\n", "a: 017\n", "a: 1_000.5\n", "a: 3.0\n", "a: 1:30\n",
                 "<<: {a: 1}\n", "a: 1\na: 2\n", "a: &x 1\nb: *x\n", "yes: 1\n", "3: a\n",
                 "- [1]\n- [2]\n"]:
        assert yamldoc.native(text) is None, text
    # same values both ways: quoted look-alikes stay strings, timestamps stay text, 1_000 is 1000, nulls are absent
    text = "a: '1'\nb: \"true\"\nc: 2024-01-01T10:00:00Z\nd: [x, {y: 2}]\ne: ~\nf: 1_000\n"
    assert yamldoc.native(text) == careful(text)[1] == [
        {"a": "1", "b": "true", "c": "2024-01-01T10:00:00Z", "d": ["x", {"y": 2}], "f": 1000}]
    for path in sorted((REPO / "examples").rglob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        fast = yamldoc.native(text)
        if fast is not None:
            assert typed(fast) == typed(careful(text)[1]), path
            assert yamldoc._composed_marks(text) == [d.mark for d in yamldoc.parse(text, marks=True)], path
    dataplanes = (REPO / "examples" / "complete" / "mesh" / "dataplanes.yaml").read_text(encoding="utf-8")
    assert yamldoc.native(dataplanes) is not None


# ---------------------------------------------------------------------------------------------------------------------
# The memo layer keeps only what the current inputs use.

from kumahc import memo  # noqa: E402


def test_run_memo_drops_results_the_previous_run_did_not_use() -> None:
    calls: list[int] = []

    @memo.run_memo
    def square(n: int) -> int:
        calls.append(n)
        return n * n

    memo.next_run()
    assert [square(2), square(3), square(2)] == [4, 9, 4] and calls == [2, 3]
    memo.next_run()
    assert square(2) == 4 and calls == [2, 3]  # used by the previous run: found again
    memo.next_run()
    assert len(square) == 1  # 3 was not used by the last run: gone
    assert square(3) == 9 and calls == [2, 3, 3]
    for n in range(1000):  # contents that come and go do not accumulate
        memo.next_run()
        square(10_000 + n)
    assert len(square) == 2


def test_no_op_reload_returns_the_previous_result_and_a_change_does_not(tmp_path: Path) -> None:
    from kumahc.pipeline import Options, RunCache, run

    policy = tmp_path / "p.yaml"
    policy.write_text("type: MeshHealthCheck\nname: p\nspec:\n  targetRef: {kind: Mesh}\n  to:\n"
                      "  - targetRef: {kind: Mesh}\n    default: {interval: 10s, tcp: {}}\n")
    cache = RunCache()
    first = run([str(tmp_path)], Options(), cache)
    assert run([str(tmp_path)], Options(), cache) is first  # nothing read, nothing computed
    assert run([str(tmp_path)], Options(protocol="http"), cache) is not first  # other options
    again = run([str(tmp_path)], Options(), cache)
    policy.write_text(policy.read_text().replace("10s", "20s"))
    changed = run([str(tmp_path)], Options(), cache)
    assert changed is not again
    (tmp_path / "q.yaml").write_text("")  # a new file
    assert run([str(tmp_path)], Options(), cache) is not changed

"""The text scan that lets yaml-rs's values through unchecked (kumahc/resources/yaml/scan.py): a differential property
test against the PyYAML path (the careful path), the constructs it must flag, and the schemas checked here rather
than on every run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from yaml_reading import careful, typed

from kumahc.resources import schema
from kumahc.resources.yaml import documents as yamldoc
from kumahc.resources.yaml.native import read_native
from kumahc.resources.yaml.scan import plain_reading

# Plain scalars where YAML 1.1 (kumahc) and YAML 1.2 (yaml-rs) differ, where they agree, and look-alikes.
SCALARS = [
    "yes", "Yes", "YES", "no", "No", "on", "On", "ON", "off", "Off", "y", "n", "true", "True", "TRUE", "false",
    "FALSE", "~", "null", "Null", "NULL", "1_000", "1_000.5", "1:30", "190:20:30.15", "-1:30", "3.0", "3.", ".5",
    "+.5", "-.5", "1e3", "1E3", "1.5e3", "1.5e+3", "1e-3", "-1", "+5", "0", "-0", "+0", ".inf", "-.Inf", "+.INF",
    ".nan", ".NaN", "2024-01-01", "2024-01-01T10:00:00Z", "=", "10s", "5s", "1m30s", "http", "kuma.io/service",
    "/health?x=1", "a b", "on the hill", "no way", "x_y", "8080", "65535", "123456789012345678",
    "1234567890123456789", "-12345678901234567", "99999999999999999999999", "10.0.0.1", "1.2.3", "v1.2", "svc_80",
    "1-2", "1+2", "é", ".", "-", "+", "e5", "0.5", "1_", "_1", "1__0", "12:60", "1:2:3",
]
KEYS = ["a", "name", "spec", "kuma.io/service", "x_y", "yes", "on", "no", "OFF", "1", "80", "-1", "1.5", "true",
        "False", "null", "~", "1_0", "1:30", "=", "10.0.0.1", "port"]
STYLES = ["plain"] * 6 + ["single", "double"]


def _scalar(text: str, style: str) -> str:
    if style == "single":
        return "'" + text.replace("'", "''") + "'"
    if style == "double":
        return '"' + text.replace('"', "'") + '"'
    return text


@st.composite
def _tree(draw: st.DrawFn, depth: int) -> object:
    """A value to write: a scalar (text, style), None (an empty value), or a mapping / sequence / flow text."""
    choice = draw(st.integers(0, 9)) if depth < draw(st.sampled_from([3, 5, 40])) else 0
    if choice <= 3:
        return ("scalar", draw(st.sampled_from(SCALARS)), draw(st.sampled_from(STYLES)))
    if choice == 4:
        return None
    if choice == 5:
        flows = ["[]", "{}", "{ }", "[a, b]", "[1, 2.5]", "[yes]", "[~]", "[a, [b]]", "[[1]]", "{a: b}", "{a}",
                 "{a: }", "[a: b]", "['x', b]", "[a, 'b]', [c]]", "[a,\n  b]", "[1234567890123456789]", "[null]"]
        return ("flow", draw(st.sampled_from(flows)))
    size = draw(st.integers(1, 3))
    if choice <= 7:
        keys = draw(st.lists(st.sampled_from(KEYS), min_size=size, max_size=size))
        return ("map", [(k, draw(st.sampled_from(STYLES[:7])), draw(_tree(depth + 1))) for k in keys])
    return ("seq", [draw(_tree(depth + 1)) for _ in range(size)])


@st.composite
def _layout(draw: st.DrawFn) -> dict:
    return {"step": draw(st.sampled_from([1, 2, 2, 4])), "compact": draw(st.booleans()),
            "comments": draw(st.integers(0, 4)), "trailing": draw(st.sampled_from(["", "", " ", "  # c"]))}


def _write(value: object, indent: int, layout: dict, draw: st.DrawFn) -> tuple[str, list[str]]:
    """(text after "key:" or "- " on the same line, the lines below it) for ``value`` nested at ``indent``."""
    if value is None:
        return "", []
    if value[0] == "scalar":
        return " " + _scalar(value[1], value[2]) + draw(st.sampled_from(["", layout["trailing"]])), []
    if value[0] == "flow":
        return " " + value[1], []
    lines = _block(value, indent, layout, draw)
    return "", lines


def _block(value: object, indent: int, layout: dict, draw: st.DrawFn) -> list[str]:
    pad = " " * indent
    lines: list[str] = []
    if value[0] == "map":
        for key, style, child in value[1]:
            inline, below = _write(child, indent + layout["step"], layout, draw)
            if below and child[0] == "seq" and layout["compact"]:
                below = _block(child, indent, layout, draw)  # "key:" then "- item" at the key's column
            lines.append(f"{pad}{_scalar(key, style)}:{inline}")
            if draw(st.integers(0, 9)) < layout["comments"]:
                lines.append(f"{pad}{' ' * draw(st.integers(0, 3))}# note:")
            lines.extend(below)
    elif value[0] == "seq":
        for child in value[1]:
            if child is not None and child[0] == "map" and draw(st.booleans()):
                sub = _block(child, indent + 2, layout, draw)
                lines.append(f"{pad}- {sub[0].lstrip(' ')}")  # "- key: ..." then the other keys under it
                lines.extend(sub[1:])
                continue
            inline, below = _write(child, indent + 2, layout, draw)
            lines.append(f"{pad}-{inline}")
            lines.extend(below)
    else:
        inline, below = _write(value, indent, layout, draw)
        lines.append(inline.strip())
        lines.extend(below)
    return lines


@st.composite
def yaml_texts(draw: st.DrawFn) -> str:
    """Multi-document block YAML: nested mappings and sequences at various indentations (compact sequences,
    "- key:" items, deep nesting), empty values, comment lines, trailing comments and spaces, flow collections,
    every scalar style, LF or CR LF line breaks, document markers."""
    documents = []
    for _ in range(draw(st.integers(1, 3))):
        root = draw(st.one_of(_tree(0), st.builds(lambda t: ("map", [("spec", "plain", t)]), _tree(1))))
        layout = draw(_layout())
        lines = _block(root, 0, layout, draw) if root is not None and root[0] in ("map", "seq") else \
            [_write(root, 0, layout, draw)[0].strip()]
        documents.append("\n".join(lines))
    separators = ["\n---\n", "\n--- # d\n"]
    if all(d.strip() for d in documents):
        # "..." with no document before it: yaml-rs takes it, libyaml does not; kumahc keeps yaml-rs's reading
        # (tests/resources/test_yaml_messages.py), on either path of this module
        separators.append("\n...\n---\n")
    separator = draw(st.sampled_from(separators))
    text = separator.join(documents) + draw(st.sampled_from(["\n", "", "\n\n"]))
    if draw(st.integers(0, 4)) == 0:
        text = text.replace("\n", "\r\n")
    return text


@settings(max_examples=3000, deadline=None, database=None, derandomize=True,
          suppress_health_check=(HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much))
@given(text=yaml_texts())
def test_unchecked_native_values_are_the_careful_paths(text: str) -> None:
    read = read_native(text)
    expected = careful(text)
    event("pyyaml path" if read is None else "unchecked" if read.plain else "checked")
    if read is not None and read.plain:
        assert expected[0] == "ok", text  # never accepts what the PyYAML path rejects
        assert typed(read.values) == typed(expected[1]), text
        assert all(schema._plain(v) for v in read.values), text  # what RawDocument.plain promises the schema check
    # whichever path parse() takes, it gives the careful path's values and decision
    try:
        got = ("ok", [d.value for d in yamldoc.parse(text)])
    except yamldoc.YamlSyntaxError as exc:
        got = ("error", exc.line)
    assert typed(got) == typed(expected)


@pytest.mark.parametrize("text", [
    "a: yes\n", "a: No\n", "a: on\n", "a: off # c\n", "yes: 1\n", "- on\n", "a: [x, yes]\n",  # 1.1 booleans
    "a: null\n", "a: ~\n", "a:\n", "a:", "a:\nb: 1\n", "a: # c\n  b: 1\n", "- a:\n  b: 1\n", "a:\r\nb: 1\r\n",
    "a:\n  # c\n  b: 1\n", "a:\n\n  b: 1\n", "a: \nb: 1\n", "- - a:\n      b: 1\n", ": x\n",  # nulls
    "a: 1.5\n", "a: 1e3\n", "a: .inf\n", "a: -.5\n", "a: 1_000\n", "a: 1:30\n", "a: =\n",  # numbers, "="
    "a: 1234567890123456789\n", "80: x\n", "true: x\n", "1.5: x\n",  # big ints, keys that are not strings
    "a: {b: 1}\n", "a: {b}\n", "a: [[1]]\n", "a: [b: 1]\n", "a:\r  b: 1\r", "--- a: 1\n",  # flow, CR, markers
    " " * 31 + "a: 1\n",  # deep
])
def test_scan_flags_every_construct_the_readings_may_differ_in(text: str) -> None:
    assert not plain_reading(text)


@pytest.mark.parametrize("text", [
    "a: b\n", "a: 5\n", "a: -5\n", "a: '1.5'\n", 'a: "yes"\n', "a: 10.0.0.1\n", "a: 2024-01-01\n", "a: 10s\n",
    "a: true\n", "a:\n  b: 1\n", "a:\n- 1\n", "- a:\n    b: 1\n", "- a:\n  - 1\n", "a: {}\n", "a: [x, 1]\n",
    "a: b # c\n", "a:\r\n  b: 1\r\n", "---\na: 1\n--- # two\nb: 2\n", "a: 123456789012345678\n",
])
def test_scan_lets_ordinary_yaml_through(text: str) -> None:
    assert plain_reading(text)


def test_generated_mesh_files_are_read_unchecked(tmp_path: Path) -> None:
    from bench.generator import generate

    generate(tmp_path / "mesh", "small", 1)
    texts = {p.name: p.read_text(encoding="utf-8") for p in sorted((tmp_path / "mesh").rglob("*.yaml"))}
    assert texts
    unchecked = {name for name, text in texts.items() if (r := read_native(text)) is not None and r.plain}
    # healthchecks.yaml holds "kuma.io/service: '*'": "*" (an alias, unquoted) sends a text to the PyYAML path
    assert unchecked == set(texts) - {"healthchecks.yaml"}
    for name, text in texts.items():
        assert typed([d.value for d in yamldoc.parse(text)]) == typed(careful(text)[1]), name


def test_schemas_are_valid_json_schemas() -> None:
    assert schema.check_schemas() == []


def test_a_run_on_valid_inputs_neither_imports_jsonschema_nor_checks_the_schemas() -> None:
    # The schemas are checked by the test above, at test time; a run trusts them (and never imports the worded
    # path's library when every document passes the compiled gate).
    code = ("import sys\n"
            "from kumahc.diagnostics import Report\n"
            "from kumahc.resources.loader import load\n"
            "report = Report()\n"
            f"loaded = load([{str(REPO / 'examples' / 'complete')!r}], report)\n"
            "assert loaded.resources and not report.has_errors(), report.items\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'jsonschema'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    assert out.stdout == "[]\n"


@pytest.mark.parametrize(("text", "value"), [
    ("a: _1\n", {"a": "_1"}), ("a: +_1\n", {"a": "+_1"}), ("a: [_1_000]\n", {"a": ["_1_000"]}),
    ("a: 1_000\n", {"a": 1000}), ("a: ._1e3\n", {"a": "._1e3"}),
])
def test_numbers_yaml_rs_reads_with_a_leading_underscore_stay_yaml_1_1_strings(text: str, value: dict) -> None:
    # yaml-rs reads "_1" as 1; kumahc's YAML 1.1 reading (the PyYAML path) as the string "_1".
    assert [d.value for d in yamldoc.parse(text)] == [value]



def test_strings_every_dataplane_repeats_are_one_object_each(tmp_path: Path) -> None:
    # Unchecked documents are not walked, but the tags and backendRefs a mesh repeats in every Dataplane are kept
    # once each, as the checked paths keep every short string (memory of a mesh of 10,000 proxies).
    from bench.generator import generate
    from kumahc.diagnostics import Report
    from kumahc.resources.loader import load

    generate(tmp_path / "mesh", "small", 1)
    loaded = load([str(tmp_path / "mesh")], Report())
    strings: list[str] = []
    for res in loaded.resources:
        if res.kind == "Dataplane":
            assert res.src.doc.plain
            for outbound in res.src.doc.value["spec"]["networking"]["outbound"]:
                for mapping in outbound.values():
                    strings.extend(s for pair in mapping.items() for s in pair if isinstance(s, str))
            strings.extend(s for pair in res.labels.items() for s in pair)
    assert len(strings) > 500
    assert len({id(s) for s in strings}) == len(set(strings))

"""The YAML syntax messages of docs/messages.md that tests/resources/test_load.py does not reach
(kumahc/resources/yaml/words.py): each from an input that triggers it, as the exact
``FILE:LINE: invalid YAML: column C: …`` line, exit 1."""

from __future__ import annotations

import pytest
from helpers import Workspace

LIST_ITEM = 'expected a list item ("- ...") at this indentation (check the indentation of this line)'
AFTER_END = 'text after the end of a document (start a new document with "---")'


@pytest.mark.parametrize("text, line, problem", [
    # A key among the items of a block list, at the items' indentation.
    ("spec:\n  to:\n    - targetRef: {kind: Mesh}\n    default: {}\n", 4, f"column 5: {LIST_ITEM}"),
    ("a:\n  - 1\n  - 2\n  b: 3\n", 4, f"column 3: {LIST_ITEM}"),
    # A complete flow value at the top of a document, then more text on its line or the next one.
    ("{type: Mesh, name: a}]\n", 1, f"column 22: {AFTER_END}"),
    ("--- {type: Mesh, name: a}\nname: b\n", 2, f"column 1: {AFTER_END}"),
    # The second "&x" of one document.
    ("a: &x 1\nb: 2\nc: &x 3\n", 3, "column 4: anchor defined twice"),
    # A flow collection cut short after "," or ": ".
    ("a: [1,\n", 2, "column 1: expected a value here"),
    ("a: {b: \n", 2, "column 1: expected a value here"),
    ("a: [1, , 2]\n", 1, "column 8: expected a value here"),
    # A list item where a mapping value continues.
    ("a: - b\n", 1, 'column 4: a list item ("- ") cannot start here (check the indentation of this line)'),
    # Anything else keeps the parser's own words.
    ("a: !x!y 1\n", 1, "column 4: YAML syntax: found undefined tag handle"),
    ("a: &\n", 1, "column 5: YAML syntax: did not find expected alphabetic or numeric character"),
], ids=["list-item-policy", "list-item", "after-end-flow", "after-end-document", "duplicate-anchor",
        "value-list", "value-mapping", "value-empty-entry", "list-item-here", "parser-tag", "parser-anchor"])
def test_yaml_message(ws: Workspace, text: str, line: int, problem: str) -> None:
    ws.write("a.yaml", text)
    assert ws.fails("validate", "a.yaml") == [f"a.yaml:{line}: invalid YAML: {problem}"]


def test_a_document_end_marker_may_be_followed_by_another_document(ws: Workspace) -> None:
    """``...`` then more text is a new document, not "text after the end of a document"."""
    ws.write("a.yaml", "type: Mesh\nname: a\n...\ntype: Mesh\nname: b\n")
    assert ws.ok("validate", "a.yaml").out == "ok: 2 resources in 1 files\n"


def test_a_file_cut_short_names_what_is_left_open(ws: Workspace) -> None:
    """libyaml reports an early end of the file only inside a quoted string; anywhere else the message names
    the construct left open (there is no separate "ends in the middle of a value" line)."""
    ws.write("a.yaml", 'type: Mesh\nname: "a\n')
    ws.write("b.yaml", "type: Mesh\nname: {a: [1,\n")
    assert ws.fails("validate", "a.yaml") == [
        "a.yaml:3: invalid YAML: column 1: quoted string not closed before the end of the file"]
    assert ws.fails("validate", "b.yaml") == ["b.yaml:3: invalid YAML: column 1: expected a value here"]


def test_the_problem_is_reported_in_each_file_of_a_directory(ws: Workspace) -> None:
    """FILE is the path as found in a directory, LINE the line of the problem in that file."""
    ws.write("d/a.yaml", "type: Mesh\nname: a\n---\nx: &y 1\ny: &y 2\n")
    ws.write("d/b.yaml", "{type: Mesh, name: b}}\n")
    assert ws.fails("validate", "d") == [
        "d/a.yaml:5: invalid YAML: column 4: anchor defined twice",
        f"d/b.yaml:1: invalid YAML: column 22: {AFTER_END}",
    ]

"""A re-read file keeps the Resource objects of its documents whose text and lines did not change (FileCache):
only what an edit touched is new, so everything kept per resource downstream stays for the rest."""

from __future__ import annotations

import os
from pathlib import Path

from kumahc.diagnostics import Report
from kumahc.resources.loader import FileCache, load
from kumahc.resources.yaml.chunks import fingerprints

DOC = """apiVersion: kuma.io/v1alpha1
kind: MeshHealthCheck
metadata:
  name: {name}
  namespace: kuma-system
spec:
  targetRef:
    kind: Mesh
  to:
  - targetRef:
      kind: Mesh
    default:
      interval: {interval}
      timeout: 2s
"""


def write(path: Path, text: str) -> None:
    tmp = path.with_name(".tmp-" + path.name)
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))


def loaded(path: Path, cache: FileCache) -> dict:
    return {r.name: r for r in load([str(path)], Report(), cache).resources}


def three(a: str = "10s", b: str = "10s", c: str = "10s", head: str = "") -> str:
    return head + "---\n".join(DOC.format(name=n, interval=i) for n, i in (("a", a), ("b", b), ("c", c)))


def test_an_edit_to_one_document_keeps_the_others(tmp_path: Path) -> None:
    path = tmp_path / "policies.yaml"
    write(path, three())
    cache = FileCache()
    first = loaded(path, cache)
    write(path, three(b="11s"))
    second = loaded(path, cache)
    assert second["a"] is first["a"] and second["c"] is first["c"]
    assert second["b"] is not first["b"] and second["b"].src.doc.value["spec"]["to"][0]["default"]["interval"] == "11s"


def test_moved_lines_give_new_resources(tmp_path: Path) -> None:
    """A comment line before the first document moves every document down: each names other lines now."""
    path = tmp_path / "policies.yaml"
    write(path, three())
    cache = FileCache()
    first = loaded(path, cache)
    write(path, three(head="# a comment\n"))
    second = loaded(path, cache)
    assert all(second[n] is not first[n] for n in "abc")
    assert second["c"].src.line(("spec", "to", 0, "default", "interval")) == 44


def test_without_a_cache_nothing_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "policies.yaml"
    write(path, three())
    assert load([str(path)], Report()).resources[0] is not load([str(path)], Report()).resources[0]


def test_fingerprints_pair_documents_only_when_sure() -> None:
    text = three()
    prints = fingerprints(text)
    assert prints is not None and [line for line, _ in prints] == [1, 15, 30]
    assert fingerprints("- a: 1\n- b: 2\n") is None  # a root sequence: several documents in one
    assert fingerprints("apiVersion: v1\nkind: List\nitems: []\n") is None
    assert fingerprints("%YAML 1.1\n---\na: 1\n") is None
    assert fingerprints("a: 1\r---\rb: 2\r") is None  # lone CRs break lines the marker search does not see
    assert len(fingerprints("# only a comment\n---\na: 1\n...\n# end\n") or ()) == 1

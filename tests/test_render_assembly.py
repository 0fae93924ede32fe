"""``kumahc render`` assembles its JSON from each cluster's own text: byte for byte the document of
``to_json(document(...))`` (which the golden files pin), for every golden case, with and without ``--proxy``."""

from __future__ import annotations

import pytest
from helpers import REPO

from kumahc.pipeline import run
from kumahc.render import NoProxyMatch, document, json_chunks, to_json
from kumahc.resources.files import walk_directory

GOLDEN = REPO / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())


@pytest.mark.parametrize("case", CASES)
def test_assembled_json_equals_the_whole_document(case: str) -> None:
    d = GOLDEN / case
    paths = [str(d / rel) for rel in walk_directory(str(d)) if rel != "expected.json"]
    result = run(paths)  # every golden case is valid: a crash here is a failure, never a skip
    assert "".join(json_chunks(result)) == to_json(document(result))
    for p in result.view.proxies[:3]:
        assert "".join(json_chunks(result, p.name)) == to_json(document(result, p.name))


def test_assembled_json_of_no_proxy_and_of_an_unknown_proxy() -> None:
    result = run([str(REPO / "examples" / "complete" / "mesh")])
    with pytest.raises(NoProxyMatch, match='no proxy matches "nope"'):
        json_chunks(result, "nope")  # raised before any piece is written
    empty = run([str(REPO / "examples" / "complete" / "mesh" / "dataplanes.yaml")])
    assert "".join(json_chunks(empty)) == to_json(document(empty))

"""The store as a pipeline source (library level): a reload reuses the resources of unchanged rows, and a run on
them with serve's RunCache gives what a fresh run gives."""

from __future__ import annotations

from pathlib import Path

from test_store_cli import UNIVERSAL, kumahc, write

from kumahc.pipeline import RunCache, run
from kumahc.render import document, to_json
from kumahc.sources.store import source, state


def test_reload_reuses_unchanged_rows(store: str, tmp_path: Path) -> None:
    assert kumahc("apply", "-f", UNIVERSAL, "--store", store).code == 0
    resources, runs = state.ResourceCache(), RunCache()
    first = source.snapshot(store)
    before = first.resources(resources)
    run(first.loader(resources), cache=runs)
    edited = Path(UNIVERSAL).read_text().replace("interval: 5s", "interval: 9s")
    assert kumahc("apply", "-f", write(tmp_path, "u.yaml", edited), "--store", store).code == 0
    second = source.snapshot(store)
    after = second.resources(resources)
    assert [a is b for a, b in zip(before, after, strict=True)] == [True] * 6 + [False]
    assert after[-1].identity == ("MeshHealthCheck", "default", "", "web-to-backend")
    reloaded = run(second.loader(resources), cache=runs)
    fresh = run(second.loader())
    assert to_json(document(reloaded, None)) == to_json(document(fresh, None))
    assert '"9s"' in to_json(document(fresh, None))

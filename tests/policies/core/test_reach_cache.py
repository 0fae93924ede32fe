"""The mesh-wide reach warnings (``matches no proxy`` / ``matches no destination``) keep each policy's reach on
the view: a reload that keeps the view recomputes the edited policy's reach only, and warns exactly as a fresh
run does."""

from __future__ import annotations

from pathlib import Path

from bench.generator import Manifest, apply_edit, generate
from kumahc.pipeline import RunCache, run


def test_a_one_policy_edit_recomputes_that_policys_reach_only(tmp_path: Path) -> None:
    root = tmp_path / "mesh"
    generate(root, "small", seed=3)
    manifest = Manifest.read(root)
    cache = RunCache()
    before = run([str(root)], cache=cache)
    reach = dict(before.view.reach["MeshHealthCheck"])
    assert len(reach) == 10
    apply_edit(root, manifest.edit_one, forward=True)
    after = run([str(root)], cache=cache)
    assert after.view is before.view
    now = after.view.reach["MeshHealthCheck"]
    edited = {r for r in now if r not in reach}
    assert [r.name for r in edited] == ["svc-0000-svc-0008"]
    assert all(now[r] is reach[r] for r in now if r not in edited)  # the same reach objects: not recomputed
    assert len(now) == 10  # the edited policy's old resource is dropped
    assert list(after.report.items) == list(run([str(root)]).report.items)

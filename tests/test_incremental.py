"""Incremental runs (serve's reloads) give exactly what fresh runs give: same documents, same warnings, same
snapshot versions and bytes, after every kind of edit."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bench.generator import apply_edit, generate
from kumahc.diagnostics import InputError
from kumahc.pipeline import RunCache, run
from kumahc.render import document, to_json
from kumahc.xds import snapshot as snapshots


def fresh(path: Path) -> tuple[str, list[str], dict]:
    result = run([str(path)])
    snap = snapshots.build(result)
    return to_json(document(result)), result.report.lines(), _wire(snap)


def _wire(snap: snapshots.Snapshot) -> dict:
    return {k: (r.version, r.sotw_body, r.versions, r.delta_entries) for k, r in snap.proxies.items()}


class Incremental:
    def __init__(self, path: Path):
        self.path = path
        self.cache = RunCache()
        self.snapshot: snapshots.Snapshot | None = None

    def step(self) -> tuple[str, list[str], dict]:
        result = run([str(self.path)], cache=self.cache)
        self.snapshot = snapshots.build(result, self.snapshot)
        return to_json(document(result)), result.report.lines(), _wire(self.snapshot)


def touch_text(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    tmp = path.with_name(".tmp-" + path.name)
    tmp.write_text(text.replace(old, new, 1), encoding="utf-8")
    os.replace(tmp, path)


@pytest.fixture
def mesh(tmp_path: Path) -> tuple[Path, object]:
    manifest = generate(tmp_path / "mesh", "small", seed=3)
    return tmp_path / "mesh", manifest


def test_reloads_equal_fresh_runs(mesh: tuple[Path, object]) -> None:
    path, manifest = mesh
    inc = Incremental(path)
    assert inc.step() == fresh(path)
    edits = [
        lambda: apply_edit(path, manifest.edit_one),  # one per-service policy
        lambda: apply_edit(path, manifest.edit_mesh),  # a mesh-wide policy
        lambda: apply_edit(path, manifest.edit_one, forward=False),
    ]
    for edit in edits:
        edit()
        assert inc.step() == fresh(path)


def test_dataplane_kong_and_new_files(mesh: tuple[Path, object]) -> None:
    path, _ = mesh
    inc = Incremental(path)
    inc.step()
    dataplanes = sorted((path / "mesh" / "dataplanes").glob("*.yaml"))[0]
    touch_text(dataplanes, "address: 10.0.0.1\n", "address: 10.0.9.1\n")  # an endpoint moves: new view
    assert inc.step() == fresh(path)
    touch_text(dataplanes, "version: v1\n", "version: v9\n")  # labels change: other policies select it
    assert inc.step() == fresh(path)
    kong = path / "policies" / "kong.yaml"
    touch_text(kong, "successes: 2", "successes: 4")  # a Kong policy: every class must see it
    assert inc.step() == fresh(path)
    shutil.copy(sorted((path / "policies" / "meshhealthchecks").glob("*.yaml"))[0],
                path / "policies" / "meshhealthchecks" / "zz-copy.yaml")
    with pytest.raises(InputError):  # duplicate resource: an invalid reload leaves the cache usable
        run([str(path)], cache=inc.cache)
    (path / "policies" / "meshhealthchecks" / "zz-copy.yaml").unlink()
    assert inc.step() == fresh(path)


def test_noop_reload_reuses_the_snapshot(tmp_path: Path) -> None:
    """serve's reload with nothing changed: the source hands back the same result and the snapshot is reused, not
    rebuilt; any change, or another endpoints mode, builds a new one."""
    from kumahc.pipeline import Options
    from kumahc.xds.app import _render, file_source

    mesh = tmp_path / "mesh"
    shutil.copytree(Path(__file__).resolve().parent.parent / "examples" / "complete" / "mesh", mesh)
    produce = file_source([str(mesh)], Options())
    first, snap, _ = _render(produce, None, "static")
    again, same, _ = _render(produce, snap, "static")
    assert again == first and same is snap
    eds = _render(produce, snap, "eds")[1]
    assert eds is not snap and eds.mode == "eds"
    policy = mesh / "policy.yaml"
    policy.write_text(policy.read_text().replace("default: {http: {}}", "default: {interval: 7s, http: {}}"))
    changed = _render(produce, snap, "static")[1]
    assert changed is not snap and changed.document != snap.document

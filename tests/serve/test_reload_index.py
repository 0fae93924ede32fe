"""The reloads' dependency index (``kumahc.incremental``) bounds the work of a reload: after a one-policy edit
exactly the proxies that policy can affect are recomputed, every other proxy keeps the very objects it had (so its
snapshot entry and version are reused), and a Mesh-wide edit recomputes every proxy it reaches. Counts, not time."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.generator import Manifest, apply_edit, generate
from kumahc.pipeline import RunCache, run


@pytest.fixture()
def mesh(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Manifest]:
    root = tmp_path_factory.mktemp("index") / "mesh"
    generate(root, "small", seed=3)
    return root, Manifest.read(root)


def serialized(result: object) -> dict:
    return {k: [c.cluster.SerializeToString() for c in v]
            for k, v in result.clusters.items()}  # type: ignore[attr-defined]


def recomputed_after(root: Path, edit: object, lazy: bool) -> tuple[int, object, object]:
    """(proxies recomputed by the reload after ``edit``, the result before, the result after)."""
    cache = RunCache()
    before = run([str(root)], cache=cache, lazy=lazy)
    if lazy:
        before.clusters.materialize(list(before.clusters))  # type: ignore[attr-defined]
    apply_edit(root, edit, forward=True)
    after = run([str(root)], cache=cache, lazy=lazy)
    if lazy:
        materialized, _ = after.clusters.materialize(list(after.clusters))  # type: ignore[attr-defined]
        return materialized.classes.recomputed, before, after
    return sum(1 for k in after.clusters if after.clusters[k] is not before.clusters[k]), before, after


@pytest.mark.parametrize("lazy", [True, False], ids=["connected", "all"])
def test_one_policy_edit_recomputes_only_the_proxies_it_can_affect(mesh: tuple[Path, Manifest], lazy: bool) -> None:
    root, manifest = mesh
    # The edited MeshHealthCheck targets the Mesh with one entry, to MeshService svc-0008 (ns-00, port 8080): it
    # can affect the proxies with an outbound to it and no other.
    reach = {(p.mesh, p.name) for p in run([str(root)]).view.proxies if "svc-0008_ns-00_svc_8080" in p.destinations}
    assert len(reach) == 25
    count, before, after = recomputed_after(root, manifest.edit_one, lazy)
    fresh = serialized(run([str(root)]))
    changed = {k for k, v in serialized(before).items() if fresh[k] != v}
    assert changed and changed <= reach  # the edit shows, and only where it can
    assert serialized(after) == fresh
    if lazy:
        assert count == len(reach)
    else:
        kept = {k for k in after.clusters if after.clusters[k] is before.clusters[k]}  # type: ignore[attr-defined]
        assert kept == set(after.clusters) - reach  # type: ignore[attr-defined]
        assert count == len(reach)


def test_mesh_wide_edit_recomputes_every_proxy_it_reaches(mesh: tuple[Path, Manifest]) -> None:
    root, manifest = mesh
    count, _, after = recomputed_after(root, manifest.edit_mesh, lazy=True)
    assert count == len(after.view.proxies) == 50  # type: ignore[attr-defined]
    assert serialized(after) == serialized(run([str(root)]))
